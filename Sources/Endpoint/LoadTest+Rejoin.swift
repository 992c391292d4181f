#if canImport(Glibc)
import Glibc
#endif
import Admission
import SDP
import Foundation
import Synchronization
import Transport

extension LoadTest {
    /// A site lost the bridge and joined again (times on the wall clock, so a test can compare them with another
    /// process's). Native sites join again over the join protocol, WebRTC sites with a fresh offer (ICE, DTLS, SRTP
    /// from the new handshake), SIP sites with a new INVITE (new SDES keys) after a BYE for the old dialog.
    public struct Rejoin: Sendable {
        public var lostAtUnixMilliseconds: Int64
        /// "connection-closed" (native), "media-refused" (WebRTC, SIP: an ICMP port-unreachable from the bridge's
        /// media port), "consent-failed" (WebRTC), or "media-silence".
        public var reason: String
        public var attempts = 0
        /// When the bridge welcomed it again (nil: the run ended first).
        public var rejoinedAtUnixMilliseconds: Int64?
        /// When its first audio packet from the new session arrived.
        public var firstAudioAtUnixMilliseconds: Int64?
        /// Audio packets received in the new session, and per second from its first one to the end of the run.
        public var audioReceived = 0
        public var audioPerSecond = 0.0
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
                    outcome.failure = EndpointError(JoinFailureLog.describe(error, bridge: bridge))
                }
                outcomes.withLock { $0.append(outcome) }
            }
        }
    }

    /// The SIP sites' calls after the first round (``placeSIPCalls``): one thread places the calls it is asked for, one
    /// after another (each a new ``SIPLoadCall``: new Call-ID, tags and SDES keys, from the site's own address; the old
    /// dialog, if any, gets a BYE first, unanswered or not), and hands back each result to the media loop.
    final class SIPJoins: @unchecked Sendable {  // its queues are behind locks; the rest is set once
        struct Request: @unchecked Sendable {  // the previous call moves to this thread once
            var index: Int
            var key: SiteKey
            var host: String
            var mediaPort: UInt16
            var codec: SIPAudioCodec
            var previous: SIPLoadCall?
        }

        struct Outcome: @unchecked Sendable {  // the call moves to the media loop's thread once
            var index: Int
            var call: SIPLoadCall?
            var negotiation: SIPNegotiation?
            var failure: EndpointError?
            var joinedAt: Int64 = 0
        }

        private let requests = Mutex<[Request]>([])
        private let outcomes = Mutex<[Outcome]>([])
        private let stopped = Atomic<Bool>(false)
        private let bridge: SocketAddress

        init(bridge: SocketAddress) {
            self.bridge = bridge
            Thread.detachNewThread { [self] in run() }
        }

        func request(_ request: Request) { requests.withLock { $0.append(request) } }
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
                next.previous?.sendBye()
                var outcome = Outcome(index: next.index)
                do {
                    let call = try SIPLoadCall(key: next.key, host: next.host, mediaPort: next.mediaPort, bridge: bridge, codec: next.codec)
                    outcome.negotiation = try call.call()
                    outcome.call = call
                    outcome.joinedAt = ReferenceEndpoint.unixMilliseconds()
                } catch let error as EndpointError {
                    outcome.failure = error
                } catch {
                    outcome.failure = EndpointError(JoinFailureLog.describe(error, bridge: bridge))
                }
                outcomes.withLock { $0.append(outcome) }
            }
        }
    }

    /// The join threads of a run, one per kind of site present.
    struct Joiners {
        var native: NativeRejoins?
        var sip: SIPJoins?
        var webRTC: WebRTCJoins?
        func stop() {
            native?.stop()
            sip?.stop()
            webRTC?.stop()
        }
    }

    /// No audio from the bridge for this long while joined (it sends every 20 ms): it is gone.
    static let silenceLimit: Int64 = 5_000_000_000

    /// Every tick: asks the join threads for the joins due (first joins that failed, and rejoins) and takes back those
    /// made; with `watch` (every few ticks) also finds the sites whose bridge is gone (native: join connection closed or
    /// reset; WebRTC: consent failed; any: no audio for ``silenceLimit`` up to the loop's last look at the sockets,
    /// `polledAt`) and starts their backoff. A site the bridge ended ("ended") or refused for good stops.
    /// `fds` are the media loop's: a WebRTC site's socket is not polled while a link thread joins it.
    func followJoins(_ participants: [Participant], joiners: Joiners, fds: inout [pollfd], random: inout SystemRandomNumberGenerator,
                     failures: inout JoinFailureLog, now: Int64, polledAt: Int64, watch: Bool) throws {
        if watch { try watchSessions(participants, random: &random, now: now, polledAt: polledAt) }
        for (i, p) in participants.enumerated() where !p.joining && p.gaveUp == nil && p.backoff.isDue(now: now) {
            p.joining = true
            if p.result.rejoins.isEmpty { p.result.firstJoinAttempts += 1 } else { p.result.rejoins[p.result.rejoins.count - 1].attempts += 1 }
            if let media = p.sip {
                joiners.sip?.request(SIPJoins.Request(index: i, key: p.key, host: p.host, mediaPort: p.socket.localAddress.port,
                                                      codec: media.codec, previous: media.call))
                media.call = nil
            } else if let webRTC = joiners.webRTC {
                fds[i].fd = -1
                try webRTC.submit(i)
            } else {
                joiners.native?.request(i, key: p.key)
            }
        }
        var done: [(index: Int, failure: EndpointError?, at: Int64)] = []
        for outcome in joiners.native?.take() ?? [] {
            let p = participants[outcome.index]
            if let joined = outcome.joined {
                try p.joined(joined, bridge: options.bridge)
                p.firstAudioAt = nil
            }
            done.append((outcome.index, outcome.joined == nil ? outcome.failure ?? EndpointError("failed") : nil, outcome.joinedAt))
        }
        for outcome in joiners.sip?.take() ?? [] {
            let p = participants[outcome.index]
            var failure = outcome.failure
            if let call = outcome.call, let negotiation = outcome.negotiation {
                do {
                    try p.called(call, negotiation: negotiation)
                    p.firstAudioAt = nil
                } catch {
                    failure = EndpointError("\(p.key.site): \(error)")
                }
            }
            done.append((outcome.index, outcome.call == nil || failure != nil ? failure ?? EndpointError("failed") : nil, outcome.joinedAt))
        }
        if let webRTC = joiners.webRTC {
            let taken = webRTC.take()
            for i in taken.joined {
                fds[i].fd = participants[i].socket.descriptorForPolling
                done.append((i, nil, ReferenceEndpoint.unixMilliseconds()))
            }
            for (i, error) in taken.failed {
                fds[i].fd = participants[i].socket.descriptorForPolling
                done.append((i, error, 0))
            }
        }
        for (index, failure, at) in done {
            let p = participants[index]
            guard p.joining || p.result.firstJoinedAtUnixMilliseconds == nil else { continue }  // the first round
            p.joining = false
            if let failure {
                if ReferenceEndpoint.isFinal(failure) {
                    p.gaveUp = failure.description
                } else {
                    let attempt = p.result.rejoins.last?.attempts ?? p.result.firstJoinAttempts
                    if let line = failures.failed(site: p.key.site, attempt: attempt, error: failure.description, now: monotonicNanoseconds()) {
                        JoinFailureLog.write(line)
                    }
                    p.backoff.failed(at: monotonicNanoseconds(), using: &random)
                }
                continue
            }
            p.backoff.joined()
            if p.result.firstJoinedAtUnixMilliseconds == nil {
                p.result.firstJoinedAtUnixMilliseconds = at
            } else if !p.result.rejoins.isEmpty {
                p.result.rejoins[p.result.rejoins.count - 1].rejoinedAtUnixMilliseconds = at
                // A WebRTC site's join ends with its first audio packet (its link thread had it).
                if p.firstAudioAt != nil { p.result.rejoins[p.result.rejoins.count - 1].firstAudioAtUnixMilliseconds = at }
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
        for p in participants where p.outbound != nil {
            if let link = p.link, case .failed = link.state {
                lose(p, reason: "consent-failed", now: now, random: &random)
            } else if let last = p.firstAudioAt.map({ max($0, p.lastAudioAt) }), polledAt - last > Self.silenceLimit {
                lose(p, reason: "media-silence", now: now, random: &random)
            }
        }
    }

    /// The site lost the bridge: its session is forgotten and its backoff starts.
    func lose(_ p: Participant, reason: String, now: Int64, random: inout SystemRandomNumberGenerator) {
        leave(p)
        p.result.rejoins.append(Rejoin(lostAtUnixMilliseconds: ReferenceEndpoint.unixMilliseconds(), reason: reason))
        p.backoff.lost(at: now, using: &random)
    }

    /// A first join failed (the bridge not there yet): tried again with the same backoff as a rejoin.
    func firstJoinFailed(_ p: Participant, _ error: EndpointError, failures: inout JoinFailureLog, random: inout SystemRandomNumberGenerator) {
        if ReferenceEndpoint.isFinal(error) {
            p.gaveUp = error.description
            return
        }
        if let line = failures.failed(site: p.key.site, attempt: p.result.firstJoinAttempts, error: error.description, now: monotonicNanoseconds()) {
            JoinFailureLog.write(line)
        }
        p.backoff.failed(at: monotonicNanoseconds(), using: &random)
    }

    /// Forgets the session: its keys, its connection (native), its link (WebRTC; the answer is kept to end the session
    /// at the bridge before the next offer), its call (SIP: kept for a BYE before the next INVITE).
    private func leave(_ p: Participant) {
        p.joined?.connection.close()
        p.joined = nil
        p.outbound = nil
        p.inbound = nil
        p.link = nil
        p.firstAudioAt = nil
        if let media = p.sip { media.connected = false }
    }
}
