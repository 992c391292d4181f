#if canImport(Glibc)
import Glibc
#endif
import Admission
import Foundation
import Synchronization
import Transport

extension LoadTest {
    /// A native site lost the bridge and joined again (times on the wall clock, so a test can compare them with
    /// another process's).
    public struct Rejoin: Sendable {
        public var lostAtUnixMilliseconds: Int64
        /// "connection-closed" or "media-silence".
        public var reason: String
        public var attempts = 0
        /// When the bridge welcomed it again (nil: the run ended first).
        public var rejoinedAtUnixMilliseconds: Int64?
        /// When its first audio packet from the new session arrived.
        public var firstAudioAtUnixMilliseconds: Int64?
        /// Audio packets received in the new session.
        public var audioReceived = 0
    }

    /// The native sites' rejoins, off the media loop: one thread makes the joins it is asked for (a join to a
    /// bridge that is down fails at once on loopback; one that is up takes two round trips) and hands back
    /// each result; the media loop owns the schedule (``RejoinBackoff`` per site) and the sites' keys.
    final class NativeRejoins: @unchecked Sendable {  // its queues are behind locks; the rest is set once
        struct Outcome: @unchecked Sendable {  // a joined connection moves to the media loop's thread once
            var index: Int
            var joined: JoinClient.Joined?
            var failure: EndpointError?
            /// When the bridge's welcome came (Unix milliseconds).
            var joinedAt: Int64 = 0
        }

        private let requests = Mutex<[(index: Int, key: SiteKey)]>([])
        private let outcomes = Mutex<[Outcome]>([])
        private let stopped = Atomic<Bool>(false)
        private let bridge: SocketAddress

        init(bridge: SocketAddress) {
            self.bridge = bridge
            Thread.detachNewThread { [self] in run() }
        }

        func request(_ index: Int, key: SiteKey) { requests.withLock { $0.append((index, key)) } }
        func take() -> [Outcome] { outcomes.withLock { list in defer { list.removeAll() }; return list } }
        func stop() { stopped.store(true, ordering: .releasing) }

        private func run() {
            while !stopped.load(ordering: .acquiring) {
                let next = requests.withLock { $0.isEmpty ? nil : $0.removeFirst() }
                guard let next else {
                    var pause = timespec(tv_sec: 0, tv_nsec: 2_000_000)
                    nanosleep(&pause, nil)
                    continue
                }
                var outcome = Outcome(index: next.index)
                do {
                    outcome.joined = try JoinClient.join(key: next.key, bridge: bridge)
                    outcome.joinedAt = ReferenceEndpoint.unixMilliseconds()
                } catch let error as EndpointError {
                    outcome.failure = error
                } catch {
                    outcome.failure = EndpointError("\(error)")
                }
                outcomes.withLock { $0.append(outcome) }
            }
        }
    }

    /// No audio from the bridge for this long while joined (it sends every 20 ms): it is gone.
    static let silenceLimit: Int64 = 5_000_000_000

    /// Every tick: asks the join thread for the joins due and takes back those made; with `watch` (every few ticks)
    /// also finds the native sites whose bridge is gone (join connection closed or reset, or no audio for
    /// ``silenceLimit`` up to the loop's last look at the sockets, `polledAt`) and starts their backoff. A site the bridge ended ("ended") or refused for good stops.
    func followRejoins(_ participants: [Participant], rejoins: NativeRejoins, random: inout SystemRandomNumberGenerator, now: Int64,
                       polledAt: Int64, watch: Bool) throws {
        if watch { try watchSessions(participants, random: &random, now: now, polledAt: polledAt) }
        for (i, p) in participants.enumerated() where !p.joining && p.gaveUp == nil && p.backoff.isDue(now: now) {
            p.joining = true
            p.result.rejoins[p.result.rejoins.count - 1].attempts += 1
            rejoins.request(i, key: p.key)
        }
        for outcome in rejoins.take() {
            let p = participants[outcome.index]
            p.joining = false
            if let joined = outcome.joined {
                try p.joined(joined, bridge: options.bridge)
                p.backoff.joined()
                p.firstAudioAt = nil
                p.result.rejoins[p.result.rejoins.count - 1].rejoinedAtUnixMilliseconds = outcome.joinedAt
            } else if let failure = outcome.failure, ReferenceEndpoint.isFinal(failure) {
                p.gaveUp = failure.description
            } else {
                p.backoff.failed(at: monotonicNanoseconds(), using: &random)
            }
        }
    }

    private func watchSessions(_ participants: [Participant], random: inout SystemRandomNumberGenerator, now: Int64, polledAt: Int64) throws {
        var watched: [(Participant, pollfd)] = []
        for p in participants where p.sip == nil && p.link == nil {
            if let joined = p.joined { watched.append((p, pollfd(fd: joined.connection.pollDescriptor, events: Int16(POLLIN), revents: 0))) }
        }
        if !watched.isEmpty {
            var fds = watched.map(\.1)
            if try pollReadable(&fds, nanoseconds: 0) > 0 {
                for (i, fd) in fds.enumerated() where fd.revents != 0 {
                    let p = watched[i].0
                    guard let connection = p.joined?.connection else { continue }
                    var open = false
                    do { open = try connection.readAvailable() } catch { open = false }
                    while open, let line = try? connection.bufferedLine() {
                        if JoinProtocol.decode(line)?["type"] as? String == "ended" { p.gaveUp = "ended" }
                    }
                    if p.gaveUp != nil {
                        leave(p)
                    } else if !open {
                        lose(p, reason: "connection-closed", now: now, random: &random)
                    }
                }
            }
        }
        for p in participants where p.joined != nil {
            if let last = p.firstAudioAt.map({ max($0, p.lastAudioAt) }), polledAt - last > Self.silenceLimit {
                lose(p, reason: "media-silence", now: now, random: &random)
            }
        }
    }

    private func lose(_ p: Participant, reason: String, now: Int64, random: inout SystemRandomNumberGenerator) {
        leave(p)
        p.result.rejoins.append(Rejoin(lostAtUnixMilliseconds: ReferenceEndpoint.unixMilliseconds(), reason: reason))
        p.backoff.lost(at: now, using: &random)
    }

    /// Forgets the session: its keys, its connection.
    private func leave(_ p: Participant) {
        p.joined?.connection.close()
        p.joined = nil
        p.outbound = nil
        p.inbound = nil
    }
}
