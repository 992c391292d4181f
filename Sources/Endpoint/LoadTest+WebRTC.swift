#if canImport(Glibc)
import Glibc
#endif
import Admission
import DTLS
import Foundation
import RTP
import Synchronization
import Transport

extension LoadTest {
    /// The load generator's WebRTC joins, off the media loop so that neither one's work delays the other's
    /// measurements: a few join threads each post their share of the offers (the first ones at once), run each
    /// site's checks and DTLS handshake on the site's socket, and wait for the first authentic audio packet from the
    /// bridge; then they hand the site over (its link, keyed) to the media loop, which keeps its consent checks.
    final class WebRTCJoins {
        /// A site handed over, or its join's failure.
        private struct Outcome: @unchecked Sendable {  // the link moves to the media loop's thread once, under the inbox lock
            var index: Int
            var joined: (answer: WebRTCSignalling.Answer, link: WebRTCLink)?
            var failure: String?
            var postedAt: Int64
            var firstAudioAt: Int64?
        }

        private final class Inbox: Sendable {
            let outcomes = Mutex<[Outcome]>([])
        }

        private struct Job: @unchecked Sendable {  // the socket is used by the join thread until the site is handed over
            var index: Int
            var key: SiteKey
            var offer: WebRTCSignalling.Offer
            var socket: UDPSocket
        }

        /// How long one site's join may take from its offer to its first audio packet.
        static let joinTimeout: Int64 = 30_000_000_000

        private let participants: [Participant]
        private let inbox = Inbox()
        private var postTimes: [Int64] = []
        private var pending: Int
        private var failures: [Int: String] = [:]

        init(_ participants: [Participant], options: WebRTCOptions) throws {
            self.participants = participants
            // One certificate for the generator, as a browser keeps one per profile; each offer proves it.
            let certificate = try DTLSCertificate.selfSigned(commonName: "vcbridge-loadtest")
            var jobs: [Job] = []
            for (i, p) in participants.enumerated() {
                let offer = try WebRTCSignalling.Offer(fingerprint: certificate.fingerprint, audioSSRC: .random(in: 1...UInt32.max),
                                                       videoSSRC: .random(in: 1...UInt32.max))
                p.offer = offer
                p.ssrc = offer.audioSSRC
                p.videoSSRC = offer.videoSSRC
                jobs.append(Job(index: i, key: p.key, offer: offer, socket: p.socket))
            }
            pending = jobs.count
            let threads = max(1, min(options.signallingThreads, jobs.count))
            for t in 0..<threads {
                let share = jobs.enumerated().filter { $0.offset % threads == t }.map(\.element)
                Thread.detachNewThread { [inbox] in
                    Self.join(share, certificate: certificate, options: options, inbox: inbox)
                }
            }
        }

        /// Takes the sites handed over since the last call; returns their indices.
        func takeJoined() -> [Int] {
            var joined: [Int] = []
            for outcome in inbox.outcomes.withLock({ list in defer { list.removeAll() }; return list }) {
                pending -= 1
                postTimes.append(outcome.postedAt)
                let p = participants[outcome.index]
                p.offerPostedAt = outcome.postedAt
                p.firstAudioAt = outcome.firstAudioAt
                if let (answer, link) = outcome.joined {
                    p.signalled(answer, link: link)
                    p.flushLink()
                    joined.append(outcome.index)
                } else {
                    failures[outcome.index] = "\(p.key.site): \(outcome.failure ?? "failed")"
                }
            }
            return joined
        }

        /// Runs the joined sites' consent checks.
        func advance(now: Int64) {
            for (i, p) in participants.enumerated() {
                guard let link = p.link else { continue }
                if link.nextWake <= now {
                    link.advance(now: now)
                    p.flushLink()
                }
                if case .failed(let why) = link.state, failures[i] == nil { failures[i] = "\(p.key.site): \(why)" }
            }
        }

        /// Every site handed over or failed.
        var isSettled: Bool { pending == 0 }

        func result() -> JoinResult {
            var result = JoinResult()
            let first = postTimes.min() ?? 0
            result.offerSpreadMilliseconds = Double((postTimes.max() ?? 0) - first) / 1e6
            result.joinMilliseconds = participants.compactMap { p in
                p.firstAudioAt.map { Double($0 - p.offerPostedAt) / 1e6 }
            }.sorted()
            if let last = participants.compactMap(\.firstAudioAt).max() { result.allJoinedMilliseconds = Double(last - first) / 1e6 }
            result.failures = failures.keys.sorted().map { failures[$0]! }
            func median(_ values: [Int64]) -> Double { values.isEmpty ? -1 : Double(values.sorted()[values.count / 2]) / 1e6 }
            let joined = participants.filter { $0.firstAudioAt != nil }
            result.answeredP50Milliseconds = median(joined.compactMap { p in p.link.map { $0.createdAt - p.offerPostedAt } })
            result.checkedP50Milliseconds = median(joined.compactMap { p in p.link.flatMap { l in l.checkedAt.map { $0 - l.createdAt } } })
            result.handshakeP50Milliseconds = median(joined.compactMap { p in p.link.flatMap { l in l.connectedAt.map { $0 - (l.checkedAt ?? 0) } } })
            result.firstAudioP50Milliseconds = median(joined.compactMap { p in p.link?.connectedAt.map { p.firstAudioAt! - $0 } })
            for p in participants {
                if let profile = p.link?.profile { result.profiles["\(profile)", default: 0] += 1 }
            }
            return result
        }

        // MARK: One join thread

        private struct Joining {
            var job: Job
            var answer: WebRTCSignalling.Answer
            var link: WebRTCLink
            var postedAt: Int64
        }

        /// Posts each offer of `jobs` in turn, and between posts (and after the last) runs the links of those already
        /// answered until each has its first audio packet, fails, or times out.
        private static func join(_ jobs: [Job], certificate: DTLSCertificate, options: WebRTCOptions, inbox: Inbox) {
            var toPost = jobs[...]
            var joining: [Joining] = []
            let batch = DatagramBatch(capacity: 16, slotSize: 1500)
            var buffer = [UInt8](repeating: 0, count: 1500)
            func finish(_ j: Joining, failure: String?, firstAudioAt: Int64? = nil) {
                let outcome = Outcome(index: j.job.index, joined: failure == nil ? (j.answer, j.link) : nil, failure: failure,
                                      postedAt: j.postedAt, firstAudioAt: firstAudioAt)
                inbox.outcomes.withLock { $0.append(outcome) }
            }
            func send(_ j: Joining) {
                for datagram in j.link.takeOutgoing() { try? j.job.socket.send(datagram, to: j.answer.media) }
            }
            while !toPost.isEmpty || !joining.isEmpty {
                if let job = toPost.popFirst() {
                    let postedAt = monotonicNanoseconds()
                    do {
                        let answer = try WebRTCSignalling.join(offer: job.offer, key: job.key, web: options.web)
                        let link = try WebRTCLink(offer: job.offer, answer: answer, certificate: certificate,
                                                  srtpProfiles: options.srtpProfiles, now: monotonicNanoseconds())
                        let j = Joining(job: job, answer: answer, link: link, postedAt: postedAt)
                        link.advance(now: monotonicNanoseconds())
                        send(j)
                        joining.append(j)
                    } catch {
                        inbox.outcomes.withLock { $0.append(Outcome(index: job.index, failure: "\(error)", postedAt: postedAt)) }
                    }
                }
                // Wait for datagrams: not at all while offers remain, else until the next timer (at most 10 ms).
                var now = monotonicNanoseconds()
                let wake = joining.map(\.link.nextWake).min() ?? now
                var fds = joining.map { pollfd(fd: $0.job.socket.descriptorForPolling, events: Int16(POLLIN), revents: 0) }
                let wait = toPost.isEmpty ? max(0, min(10_000_000, wake - now)) : 0
                _ = try? pollReadable(&fds, nanoseconds: wait)
                now = monotonicNanoseconds()
                var done: Set<Int> = []
                for (n, j) in joining.enumerated() {
                    if fds[n].revents & Int16(POLLIN) != 0, let count = try? j.job.socket.receive(into: batch) {
                        let arrival = monotonicNanoseconds()
                        for k in 0..<count {
                            let datagram = UnsafeRawBufferPointer(batch.datagram(k))
                            let media = j.link.receive(datagram, now: arrival)
                            send(j)
                            // The first authentic audio packet of the mix ends the join (RTCP is not audio).
                            guard media, datagram.count > 12, !(192...223).contains(datagram[1]), let inbound = j.link.inbound
                            else { continue }
                            let ssrc = UInt32(datagram[8]) << 24 | UInt32(datagram[9]) << 16 | UInt32(datagram[10]) << 8 | UInt32(datagram[11])
                            guard ssrc == j.answer.audioSSRC else { continue }
                            buffer.withUnsafeMutableBytes { $0.copyMemory(from: datagram) }
                            if (try? buffer.withUnsafeMutableBytes({ try inbound.unprotectRTP($0, length: datagram.count) })) != nil {
                                done.insert(n)
                                finish(j, failure: nil, firstAudioAt: arrival)
                                break
                            }
                        }
                    }
                    guard !done.contains(n) else { continue }
                    if j.link.nextWake <= now {
                        j.link.advance(now: now)
                        send(j)
                    }
                    if case .failed(let why) = j.link.state {
                        done.insert(n)
                        finish(j, failure: why)
                    } else if now - j.postedAt > joinTimeout {
                        done.insert(n)
                        finish(j, failure: "no audio from the bridge \(joinTimeout / 1_000_000_000) s after the offer (\(j.link.state))")
                    }
                }
                if !done.isEmpty { joining = joining.enumerated().filter { !done.contains($0.offset) }.map(\.element) }
            }
        }
    }
}
