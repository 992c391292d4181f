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
    /// measurements: offer threads post the offers (as many at once as there are threads; an answer takes the bridge
    /// up to a media tick), and two link threads run each answered site's checks and DTLS handshake on the site's
    /// socket until the first authentic audio packet from the bridge; then they hand the site over (its link, keyed)
    /// to the media loop, which keeps its consent checks. The threads run until ``stop()``: a site that lost the
    /// bridge, or whose join failed, is submitted again (``submit(_:)``) with a fresh offer (new ICE credentials, so a
    /// new DTLS handshake and new SRTP keys) when its backoff says.
    final class WebRTCJoins {
        /// A site handed over, or its join's failure.
        private struct Outcome: @unchecked Sendable {  // the link moves to the media loop's thread once, under the inbox lock
            var index: Int
            var joined: (answer: WebRTCSignalling.Answer, link: WebRTCLink)?
            var failure: EndpointError?
            var postedAt: Int64
            var firstAudioAt: Int64?
        }

        private struct Job: @unchecked Sendable {  // the socket is used by a link thread until the site is handed over
            var index: Int
            var key: SiteKey
            var offer: WebRTCSignalling.Offer
            var socket: UDPSocket
            /// The site's previous session, ended (DELETE) before the new offer.
            var previous: WebRTCSignalling.Answer?
        }

        /// An offer thread's result for a link thread.
        private struct Answered: Sendable {
            var job: Job
            var answer: Result<WebRTCSignalling.Answer, EndpointError>
            var postedAt: Int64
        }

        private final class Queue<Element: Sendable>: Sendable {
            let items = Mutex<[Element]>([])
            func append(_ item: Element) { items.withLock { $0.append(item) } }
            func takeAll() -> [Element] { items.withLock { list in defer { list.removeAll() }; return list } }
            func takeFirst() -> Element? { items.withLock { $0.isEmpty ? nil : $0.removeFirst() } }
        }

        /// How long one site's join may take from its offer to its first audio packet.
        static let joinTimeout: Int64 = 30_000_000_000
        static let linkThreads = 2

        private let participants: [Participant]
        private let certificate: DTLSCertificate
        private let inbox = Queue<Outcome>()
        private let jobs = Queue<Job>()
        private let links: [Queue<Answered>]
        private final class Flag: Sendable {
            let raised = Atomic<Bool>(false)
        }
        private let stopped = Flag()
        private var postTimes: [Int64] = []
        private var pending = 0
        private var failures: [Int: String] = [:]

        init(_ participants: [Participant], options: WebRTCOptions) throws {
            self.participants = participants
            // One certificate for the generator, as a browser keeps one per profile; each offer proves it.
            certificate = try DTLSCertificate.selfSigned(commonName: "vcbridge-loadtest")
            links = (0..<min(Self.linkThreads, max(1, participants.count))).map { _ in Queue<Answered>() }
            for (t, queue) in links.enumerated() {
                Thread.detachNewThread { [inbox, certificate, stopped] in
                    Self.runLinks(thread: t, from: queue, certificate: certificate, options: options, inbox: inbox, stopped: stopped)
                }
            }
            for _ in 0..<max(1, min(options.offerThreads, participants.count)) {
                Thread.detachNewThread { [jobs, links, stopped] in
                    while !stopped.raised.load(ordering: .relaxed) {
                        guard let job = jobs.takeFirst() else {
                            usleep(10_000)  // no offer to post: look again 100 times a second
                            continue
                        }
                        if let previous = job.previous { try? WebRTCSignalling.leave(previous, web: options.web) }
                        let postedAt = monotonicNanoseconds()
                        let answer: Result<WebRTCSignalling.Answer, EndpointError>
                        do {
                            answer = .success(try WebRTCSignalling.join(offer: job.offer, key: job.key, web: options.web))
                        } catch let error as EndpointError {
                            answer = .failure(error)
                        } catch {
                            answer = .failure(EndpointError(JoinFailureLog.describe(error, bridge: options.web)))
                        }
                        links[job.index % links.count].append(Answered(job: job, answer: answer, postedAt: postedAt))
                    }
                }
            }
            for i in participants.indices { try submit(i) }
        }

        /// Ends the threads (a join in progress is dropped).
        func stop() { stopped.raised.store(true, ordering: .relaxed) }

        /// Starts a join of site `index` with a fresh offer (its socket belongs to a link thread until the site is handed
        /// over or its join fails: the caller stops polling it).
        func submit(_ index: Int) throws {
            let p = participants[index]
            let offer = try WebRTCSignalling.Offer(fingerprint: certificate.fingerprint, audioSSRC: .random(in: 1...UInt32.max),
                                                   videoSSRC: .random(in: 1...UInt32.max))
            p.offer = offer
            p.ssrc = offer.audioSSRC
            p.videoSSRC = offer.videoSSRC
            pending += 1
            jobs.append(Job(index: index, key: p.key, offer: offer, socket: p.socket, previous: p.answer))
        }

        /// Takes the sites handed over since the last call (their indices), and those whose join failed (with why).
        func take() -> (joined: [Int], failed: [(index: Int, error: EndpointError)]) {
            var joined: [Int] = []
            var failed: [(index: Int, error: EndpointError)] = []
            for outcome in inbox.takeAll() {
                pending -= 1
                postTimes.append(outcome.postedAt)
                let p = participants[outcome.index]
                p.offerPostedAt = outcome.postedAt
                p.firstAudioAt = outcome.firstAudioAt
                if let (answer, link) = outcome.joined {
                    p.signalled(answer, link: link)
                    p.flushLink()
                    failures[outcome.index] = nil
                    joined.append(outcome.index)
                } else {
                    let error = outcome.failure ?? EndpointError("failed")
                    failures[outcome.index] = "\(p.key.site): \(error)"
                    failed.append((outcome.index, error))
                }
            }
            return (joined, failed)
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

        // MARK: One link thread

        private struct Joining {
            var job: Job
            var answer: WebRTCSignalling.Answer
            var link: WebRTCLink
            var postedAt: Int64
        }

        /// Runs the links of the answers that `queue` brings until each has its first audio packet, fails, or times
        /// out, until `stopped`.
        private static func runLinks(thread: Int, from queue: Queue<Answered>, certificate: DTLSCertificate,
                                     options: WebRTCOptions, inbox: Queue<Outcome>, stopped: Flag) {
            var joining: [Joining] = []
            let batch = DatagramBatch(capacity: 16, slotSize: 1500)
            var buffer = [UInt8](repeating: 0, count: 1500)
            func finish(_ index: Int, postedAt: Int64, joined: (WebRTCSignalling.Answer, WebRTCLink)?, failure: String?,
                        firstAudioAt: Int64? = nil) {
                inbox.append(Outcome(index: index, joined: joined, failure: failure.map { EndpointError($0) }, postedAt: postedAt,
                                     firstAudioAt: firstAudioAt))
            }
            func send(_ j: Joining) {
                for datagram in j.link.takeOutgoing() { try? j.job.socket.send(datagram, to: j.answer.media) }
            }
            while !stopped.raised.load(ordering: .relaxed) {
                for answered in queue.takeAll() {
                    switch answered.answer {
                    case .failure(let error):
                        inbox.append(Outcome(index: answered.job.index, joined: nil, failure: error, postedAt: answered.postedAt))
                    case .success(let answer):
                        do {
                            // Connected to the bridge's media address: an ICMP port-unreachable (the bridge gone) then
                            // fails the site's next send at once (see ``LoadTest/lose``).
                            try answered.job.socket.connect(to: answer.media)
                            let link = try WebRTCLink(offer: answered.job.offer, answer: answer, certificate: certificate,
                                                      srtpProfiles: options.srtpProfiles, now: monotonicNanoseconds())
                            let j = Joining(job: answered.job, answer: answer, link: link, postedAt: answered.postedAt)
                            link.advance(now: monotonicNanoseconds())
                            send(j)
                            joining.append(j)
                        } catch {
                            finish(answered.job.index, postedAt: answered.postedAt, joined: nil, failure: "\(error)")
                        }
                    }
                }
                // Wait for datagrams until the next timer, at most 1 ms (new answers are looked for in between).
                var now = monotonicNanoseconds()
                let wake = joining.map(\.link.nextWake).min() ?? now + 1_000_000
                var fds = joining.map { pollfd(fd: $0.job.socket.descriptorForPolling, events: Int16(POLLIN), revents: 0) }
                let wait = max(0, min(1_000_000, wake - now))
                if fds.isEmpty {
                    usleep(5000)  // nothing joining: look for answers 200 times a second
                } else {
                    _ = try? pollReadable(&fds, nanoseconds: wait)
                }
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
                                finish(j.job.index, postedAt: j.postedAt, joined: (j.answer, j.link), failure: nil, firstAudioAt: arrival)
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
                        finish(j.job.index, postedAt: j.postedAt, joined: nil, failure: why)
                    } else if now - j.postedAt > joinTimeout {
                        done.insert(n)
                        finish(j.job.index, postedAt: j.postedAt, joined: nil,
                               failure: "no audio from the bridge \(joinTimeout / 1_000_000_000) s after the offer (\(j.link.state))")
                    }
                }
                if !done.isEmpty { joining = joining.enumerated().filter { !done.contains($0.offset) }.map(\.element) }
            }
        }
    }
}
