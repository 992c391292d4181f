#if canImport(Glibc)
import Glibc
#endif
import Admission
import AudioSignal
import Foundation
import JitterBuffer
import KeyDerivation
import OpusCodec
import RTP
import SRTP
import Synchronization
import Transport
import VideoFormats

/// A join or media failure at the endpoint, in words a technician can act on.
public struct EndpointError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public let refusal: String?
    init(_ description: String, refusal: String? = nil) {
        self.description = description
        self.refusal = refusal
    }
}

/// The reference endpoint: joins as one site, sends a tone or a WAV file (Opus with in-band FEC,
/// DTX and the RFC 6464 audio level), records what it hears, and reports its reception.
public final class ReferenceEndpoint: @unchecked Sendable {
    public enum Source: Sendable {
        case tone(frequency: Double, amplitude: Double)
        /// A tone that talks for `on` seconds then is silent for `off`, starting `offset` seconds into the cycle.
        case talkingTone(frequency: Double, amplitude: Double, on: Double, off: Double, offset: Double)
        case samples([Int16])
        case silence
    }

    public struct Options: Sendable {
        public var key: SiteKey
        public var bridge: SocketAddress
        public var source: Source
        /// Stop after this long (nil: until the bridge ends the session or SIGINT).
        public var duration: Double?
        /// Send media here (an impairment relay) instead of to the bridge's media port.
        public var mediaVia: SocketAddress?
        /// Keep every sent packet's sequence number, timestamp and Opus payload (for quality benchmarks).
        public var keepSentPackets = false
        /// Keep every audio packet received from the bridge with its arrival time (for delay benchmarks).
        public var keepHeardPackets = false
        /// Send this video (at its frame rate), starting over at the end when `videoLoop`.
        public var video: VideoFile?
        public var videoLoop = false
        /// No audio from the bridge for this long, seconds, means it is gone: join again.
        public var silenceSeconds = 5.0
        public init(key: SiteKey, bridge: SocketAddress, source: Source, duration: Double?) {
            self.key = key
            self.bridge = bridge
            self.source = source
            self.duration = duration
        }
    }

    public struct Report: Sendable {
        public var meeting: Int
        public var title: String
        public var endedBy: String
        public var seconds: Double
        public var packetsSent = 0
        public var packetsReceived = 0
        public var packetsLost: Int32 = 0
        public var jitterMilliseconds = 0.0
        public var authenticationFailures = 0
        /// Authentic packets that came again (SRTP replay check): a retransmission answering a NACK for
        /// a packet that was only late, or a duplicate on the path. Not an attack, and not counted above.
        public var duplicates = 0
        /// The expected loss the encoder was told last (from the bridge's reports about this site's audio), percent.
        public var encoderExpectedLossPercent = 0
        public var jitterBuffer = JitterBufferStatistics()
        public var notices: [String] = []
        /// Sent audio packets, when ``Options/keepSentPackets`` is set.
        public var sentPackets: [AudioPacketRecord] = []
        /// Audio packets received from the bridge, when ``Options/keepHeardPackets`` is set.
        public var heardPackets: [AudioPacketRecord] = []
        /// Each time the bridge was lost and joined again.
        public var rejoins: [Rejoin] = []
        /// Attempts the first join took (more than 1: the bridge was not there yet when the endpoint started).
        public var firstJoinAttempts = 1
        /// What was heard, 48 kHz mono.
        public var recording: [Int16] = []
        /// The video sent (frames in order, and counters), if any.
        public var videoSent: VideoFileSender?
        /// The presenter and speaker video received.
        public var presenterVideo: VideoStreamRecorder?
        public var speakerVideo: VideoStreamRecorder?

        /// Counts a packet SRTP refused: a replay is a duplicate, anything else a failed authentication.
        mutating func countRefused(_ error: SRTPError) {
            if error == .replay || error == .replayTooOld { duplicates += 1 } else { authenticationFailures += 1 }
        }
    }

    /// The bridge was lost (its connection dropped, or its audio stopped) and joined again.
    public struct Rejoin: Sendable {
        public var lostAtUnixMilliseconds: Int64
        /// "connection-closed" or "media-silence".
        public var reason: String
        /// Join attempts it took (the last one succeeded, unless the time ran out first).
        public var attempts = 0
        public var rejoinedAtUnixMilliseconds: Int64?
        /// Where in ``Report/recording`` the rejoined session's audio starts.
        public var recordingOffset = 0
        init(lostAtUnixMilliseconds: Int64, reason: String) {
            self.lostAtUnixMilliseconds = lostAtUnixMilliseconds
            self.reason = reason
        }
    }

    let options: Options
    /// Set from outside (a signal handler's thread) to stop early.
    public let stopRequested = Shared(false)

    public init(options: Options) {
        self.options = options
    }

    /// Joins, runs the media until the end, leaves. Blocks. A first join the bridge does not answer (it is not
    /// running yet, or not listening) is tried again the same way as a rejoin, until the duration ends; each failed
    /// attempt is told on stderr (at most a line every 5 s). When the bridge goes away (its signalling connection
    /// drops, or no audio from it for ``Options/silenceSeconds``) the endpoint joins again by itself with fresh
    /// keys, attempts spread by ``RejoinBackoff``, until the duration ends; each rejoin is in ``Report/rejoins``.
    /// - Throws: ``EndpointError`` when the bridge refuses the site for good, or the duration ends before a first join.
    public func run() throws -> Report {
        let start = monotonicNanoseconds()
        let deadline = options.duration.map { start + Int64($0 * 1e9) }
        var backoff = RejoinBackoff()
        var random = SystemRandomNumberGenerator()
        var failures = JoinFailureLog(prefix: "endpoint")
        var firstAttempts = 0
        var joined: JoinClient.Joined
        switch try joinWithBackoff(&backoff, random: &random, deadline: deadline, attempts: &firstAttempts, failures: &failures) {
        case .joined(let session): joined = session
        case .gaveUp(let why, let lastError):
            throw EndpointError("no join before the endpoint \(why == "stopped" ? "was stopped" : "ran out of time") after "
                                + "\(firstAttempts) attempt(s): \(lastError ?? "-")")
        }
        var report = Report(meeting: joined.meeting, title: joined.welcome["title"] as? String ?? "", endedBy: "duration", seconds: 0)
        report.firstJoinAttempts = firstAttempts
        while true {
            let ended = try session(joined, start: start, deadline: deadline, report: &report)
            report.endedBy = ended
            guard ended == "connection-closed" || ended == "media-silence" else { break }
            // The bridge is gone: join again (new nonces, so new keys) until it answers or the time is up.
            var rejoin = Rejoin(lostAtUnixMilliseconds: Self.unixMilliseconds(), reason: ended)
            backoff.lost(at: monotonicNanoseconds(), using: &random)
            let outcome: JoinAttempts
            do {
                outcome = try joinWithBackoff(&backoff, random: &random, deadline: deadline, attempts: &rejoin.attempts, failures: &failures)
            } catch let error as EndpointError {
                report.endedBy = error.description
                report.rejoins.append(rejoin)
                return finish(report, start: start)
            }
            guard case .joined(let next) = outcome else {
                if case .gaveUp(let why, _) = outcome { report.endedBy = why }
                return finish(report, start: start)
            }
            rejoin.rejoinedAtUnixMilliseconds = Self.unixMilliseconds()
            rejoin.recordingOffset = report.recording.count
            report.rejoins.append(rejoin)
            joined = next
            report.meeting = joined.meeting
        }
        return finish(report, start: start)
    }

    private enum JoinAttempts {
        case joined(JoinClient.Joined)
        /// "stopped" or "duration", with the last attempt's error.
        case gaveUp(String, lastError: String?)
    }

    /// Join attempts until one is welcomed: the first when `backoff` has it due (at once when nothing is scheduled),
    /// each failure scheduling the next with full jitter and told through `failures`.
    /// - Throws: a refusal no retry can change (``isFinal(_:)``).
    private func joinWithBackoff(_ backoff: inout RejoinBackoff, random: inout SystemRandomNumberGenerator, deadline: Int64?,
                                 attempts: inout Int, failures: inout JoinFailureLog) throws -> JoinAttempts {
        var lastError: String?
        while true {
            while let due = backoff.nextAttemptAt, monotonicNanoseconds() < due {
                if stopRequested.withLock({ $0 }) { return .gaveUp("stopped", lastError: lastError) }
                if let deadline, monotonicNanoseconds() >= deadline { return .gaveUp("duration", lastError: lastError) }
                let wait = min(due - monotonicNanoseconds(), 20_000_000)
                if wait > 0 { var ts = timespec(tv_sec: 0, tv_nsec: Int(wait)); nanosleep(&ts, nil) }
            }
            if stopRequested.withLock({ $0 }) { return .gaveUp("stopped", lastError: lastError) }
            if let deadline, monotonicNanoseconds() >= deadline { return .gaveUp("duration", lastError: lastError) }
            attempts += 1
            do {
                let joined = try JoinClient.join(key: options.key, bridge: options.bridge)
                backoff.joined()
                return .joined(joined)
            } catch let error as EndpointError where Self.isFinal(error) {
                throw error
            } catch {
                lastError = JoinFailureLog.describe(error, bridge: options.bridge)
                if let line = failures.failed(site: options.key.site, attempt: attempts, error: lastError!, now: monotonicNanoseconds()) {
                    JoinFailureLog.write(line)
                }
                backoff.failed(at: monotonicNanoseconds(), using: &random)
            }
        }
    }

    private func finish(_ report: Report, start: Int64) -> Report {
        var report = report
        report.seconds = Double(monotonicNanoseconds() - start) / 1e9
        return report
    }

    /// Refusals a retry cannot change: the bridge does not know the site, the key is wrong, the site is not booked.
    static func isFinal(_ error: EndpointError) -> Bool {
        [JoinRefusal.unknownSite.rawValue, JoinRefusal.authenticationFailed.rawValue, JoinRefusal.notBooked.rawValue]
            .contains(error.refusal ?? "")
    }

    static func unixMilliseconds() -> Int64 {
        let now = wallClock()
        return now.seconds * 1000 + Int64(now.nanoseconds / 1_000_000)
    }

    /// One joined session: media until it ends. - Returns: why it ended.
    private func session(_ joined: JoinClient.Joined, start: Int64, deadline: Int64?, report: inout Report) throws -> String {
        let connection = joined.connection
        let ended = Shared<String?>(nil)
        let notices = Shared<[String]>([])
        let reader = Handoff(value: connection)
        Thread {
            while true {
                let received: String?
                do { received = try reader.value.receiveLine(timeoutMilliseconds: 500) } catch {
                    ended.withLock { if $0 == nil { $0 = "connection-closed" } }  // reset: the bridge died
                    return
                }
                guard let line = received else {
                    if reader.value.peerClosed {
                        ended.withLock { if $0 == nil { $0 = "connection-closed" } }
                        return
                    }
                    if ended.withLock({ $0 }) != nil { return }
                    continue
                }
                guard let message = JoinProtocol.decode(line), let type = message["type"] as? String else { continue }
                switch type {
                case "ended":
                    ended.withLock { $0 = message["reason"] as? String ?? "ended" }
                    return
                case "warning", "extended":
                    notices.withLock { $0.append(line) }
                default:
                    continue
                }
            }
        }.start()
        lastBridgeSSRC = nil
        defer {
            ended.withLock { if $0 == nil { $0 = "left" } }
            connection.shutdownBoth()
        }
        try media(to: options.mediaVia ?? options.bridge.with(port: UInt16(joined.mediaPort)), ssrc: joined.ssrc,
                  profile: joined.profile, keys: joined.keys, welcome: joined.welcome, ended: ended, start: start, deadline: deadline,
                  report: &report)
        let reason = ended.withLock { $0 } ?? (stopRequested.withLock { $0 } ? "stopped" : "duration")
        report.notices += notices.withLock { $0 }
        if reason != "connection-closed" { try? connection.send(line: JoinProtocol.encode(["type": "bye"])) }
        return reason
    }

    private func media(
        to bridge: SocketAddress, ssrc: UInt32, profile: SRTPProfile, keys: JoinProtocol.SessionKeys,
        welcome: [String: Any], ended: Shared<String?>, start: Int64, deadline: Int64?, report: inout Report
    ) throws {
        let socket = try UDPSocket(bindTo: try SocketAddress(ip: bridge.description.hasPrefix("[") ? "::" : "0.0.0.0", port: 0))
        let outbound = try SRTPSession(profile: profile, direction: .outbound, keyingMaterial: keys.siteToBridge)
        let inbound = try SRTPSession(profile: profile, direction: .inbound, keyingMaterial: keys.bridgeToSite)
        // DTX suits speech; a steady test tone looks like background noise to Opus's voice
        // detector and would be cut, so tones are sent without it.
        var isTone = false
        switch options.source {
        case .tone, .talkingTone: isTone = true
        default: break
        }
        // Encoded as a browser on a hall's PC does: complexity 10, in-band FEC sized to the loss the bridge reports
        // about this stream (nothing spent on FEC while the link is clean).
        var encoding = Opus.EncoderConfiguration(bitrate: 32_000, complexity: 10, inbandFEC: true, expectedPacketLossPercent: 0,
                                                 dtx: !isTone)
        let encoder = try Opus.Encoder(configuration: encoding)
        var lossFollower = EncoderLossFollower()
        func followLoss(_ blocks: [ReportBlock]) {
            guard let block = blocks.first(where: { $0.ssrc == ssrc }),
                  let expected = lossFollower.reported(fractionLost: block.fractionLost) else { return }
            encoding.expectedPacketLossPercent = expected
            try? encoder.apply(encoding)
            report.encoderExpectedLossPercent = Int(expected)
        }
        let decoder = try Opus.Decoder()
        let jitter = JitterBuffer()
        var reception: RTPSourceStatistics? = nil
        let batch = DatagramBatch(capacity: 32, slotSize: 1500)
        var packet = [UInt8](repeating: 0, count: 1500)
        var pcm = [Int16](repeating: 0, count: 960)
        var heard = [Int16](repeating: 0, count: 960)
        var sequence = UInt16.random(in: 0...UInt16.max)
        var timestamp = UInt32.random(in: 0...UInt32.max)
        var packetsSent: UInt32 = 0, octetsSent: UInt32 = 0
        var lastSR: (compact: UInt32, at: Int64)? = nil
        var frameIndex = 0
        // Video: what the welcome says, a sender for the file, a recorder per received stream.
        let welcomeVideo = welcome["video"] as? [String: Any] ?? [:]
        let videoSSRC = UInt32(truncatingIfNeeded: welcomeVideo["ssrc"] as? Int ?? 0)
        let streamSSRCs = [welcomeVideo["presenterSSRC"] as? Int, welcomeVideo["speakerSSRC"] as? Int].map { UInt32(truncatingIfNeeded: $0 ?? 0) }
        let audioSSRC = UInt32(truncatingIfNeeded: welcome["bridgeSSRC"] as? Int ?? 0)
        let payloadTypes = welcomeVideo["payloadTypes"] as? [String: Int] ?? [:]
        var sender: VideoFileSender? = nil
        if let file = options.video {
            guard let pt = payloadTypes[file.codec.rawValue], videoSSRC != 0 else {
                throw EndpointError("the bridge does not take \(file.codec.rawValue) video")
            }
            sender = VideoFileSender(file: file, payloadType: UInt8(pt), ssrc: videoSSRC, loop: options.videoLoop,
                                     maximumPacket: min(1200, welcomeVideo["maxPacketBytes"] as? Int ?? 1200))
        }
        var nextVideoAt = monotonicNanoseconds()
        var recorders: [VideoStreamRecorder?] = [nil, nil]
        var codecByType: [Int: VideoCodec] = [:]
        for (name, pt) in payloadTypes { codecByType[pt] = VideoCodec(rawValue: name) }

        func sendFeedback(_ feedback: RTCPPacket) {
            guard let bytes = try? RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: ssrc)), feedback]) else { return }
            var buffer = bytes + [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
            buffer.withUnsafeMutableBytes { raw in
                if let n = try? outbound.protectRTCP(raw, length: bytes.count) {
                    try? socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<n]), to: bridge)
                }
            }
        }
        func advanceRecorders(_ now: Int64) {
            for i in 0..<2 where recorders[i] != nil {
                let again = recorders[i]!.nacksDue(now: now)
                if !again.isEmpty {
                    sendFeedback(.nack(GenericNACK(senderSSRC: ssrc, mediaSSRC: streamSSRCs[i], lost: again)))
                }
                if recorders[i]!.advance(now: now) {
                    sendFeedback(.pictureLossIndication(PictureLossIndication(senderSSRC: ssrc, mediaSSRC: streamSSRCs[i])))
                }
            }
        }
        func watchRecorders(_ now: Int64) {
            for i in 0..<2 where recorders[i] != nil { recorders[i]!.watchForFreeze(now: now) }
        }
        let sessionStart = monotonicNanoseconds()
        var nextTick = sessionStart
        var nextReport = sessionStart + 1_000_000_000
        // No audio from the bridge for this long (it sends a frame every 20 ms, never DTX): it is gone.
        let silenceLimit = Int64(options.silenceSeconds * 1e9)
        var lastAudioAt: Int64? = nil
        // When this loop last looked at its socket: silence counts only up to then, so a loop starved of CPU
        // (not receiving) never takes its own lag for the bridge's silence.
        var polledAt: Int64 = 0
        let tick: Int64 = 20_000_000

        func sendRTCP(goodbye: Bool) {
            var blocks: [ReportBlock] = []
            // The report block names the bridge's stream by the SSRC it arrives with.
            if var r = reception, let bridgeSSRC = lastBridgeSSRC {
                let lsr = lastSR?.compact ?? 0
                let dlsr = lastSR.map { CompactNTP.units(nanoseconds: UInt64(max(0, monotonicNanoseconds() - $0.at))) } ?? 0
                blocks.append(r.makeReportBlock(ssrc: bridgeSSRC, lastSenderReport: lsr, delaySinceLastSenderReport: dlsr))
                reception = r
            }
            var packets: [RTCPPacket] = [
                .senderReport(SenderReport(ssrc: ssrc, ntpTimestamp: ntpNow(), rtpTimestamp: timestamp,
                                           packetCount: packetsSent, octetCount: octetsSent, reports: blocks)),
                .sourceDescription(SourceDescription(ssrc: ssrc, cname: options.key.site)),
            ]
            if goodbye { packets.append(.goodbye(Goodbye(sources: [ssrc], reason: "leaving"))) }
            guard let bytes = try? RTCPCompound.serialize(packets) else { return }
            var buffer = bytes + [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
            buffer.withUnsafeMutableBytes { raw in
                if let n = try? outbound.protectRTCP(raw, length: bytes.count) {
                    try? socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<n]), to: bridge)
                }
            }
        }

        while true {
            let now = monotonicNanoseconds()
            if ended.withLock({ $0 }) != nil || stopRequested.withLock({ $0 }) { break }
            if let deadline, now >= deadline { break }
            if let last = lastAudioAt, polledAt - last > silenceLimit {
                ended.withLock { if $0 == nil { $0 = "media-silence" } }
                break
            }
            // Video starts once the bridge's media arrives: the session is then in place at the bridge,
            // so the first keyframe is not lost.
            if var video = sender, !video.finished, report.packetsReceived > 0, now >= nextVideoAt {
                for packet in video.nextFrame() ?? [] {
                    var buffer = packet + [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
                    try buffer.withUnsafeMutableBytes { raw in
                        let n = try outbound.protectRTP(raw, length: packet.count)
                        try socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<n]), to: bridge)
                    }
                }
                sender = video
                nextVideoAt += video.file.frameNanoseconds
            }
            if now < nextTick {
                if report.packetsReceived == 0 { nextVideoAt = max(nextVideoAt, now) }
                let wake = sender.map { $0.finished || report.packetsReceived == 0 ? nextTick : min(nextTick, nextVideoAt) } ?? nextTick
                let readable = try socket.waitReadable(nanoseconds: max(0, wake - now))
                polledAt = monotonicNanoseconds()
                if readable {
                    let count = try socket.receive(into: batch)
                    let arrival = monotonicNanoseconds()
                    for i in 0..<count {
                        let datagram = batch.datagram(i)
                        guard datagram.count >= 12 else { continue }
                        if datagram[1] >= 200 && datagram[1] <= 206 {
                            let n: Int
                            do {
                                n = try inbound.unprotectRTCP(datagram, length: datagram.count)
                            } catch {
                                report.countRefused(error)
                                continue
                            }
                            guard let parsed = try? RTCPCompound.parse(UnsafeRawBufferPointer(rebasing: datagram[0..<n])) else { continue }
                            for p in parsed {
                                switch p {
                                case .senderReport(let sr):
                                    lastSR = (sr.ntpTimestamp.compact, arrival)
                                    followLoss(sr.reports)
                                case .receiverReport(let rr):
                                    followLoss(rr.reports)
                                case .pictureLossIndication(let pli) where pli.mediaSSRC == videoSSRC: sender?.keyframeRequested()
                                case .fullIntraRequest(let fir) where fir.entries.contains(where: { $0.ssrc == videoSSRC }):
                                    sender?.keyframeRequested()
                                default: break
                                }
                            }
                            continue
                        }
                        let n: Int
                        do {
                            n = try inbound.unprotectRTP(datagram, length: datagram.count)
                        } catch {
                            report.countRefused(error)
                            continue
                        }
                        let plain = UnsafeRawBufferPointer(rebasing: datagram[0..<n])
                        guard let header = try? RTPHeader(parsing: plain) else { continue }
                        if let stream = streamSSRCs.firstIndex(of: header.ssrc), let codec = codecByType[Int(header.payloadType)] {
                            if recorders[stream] == nil { recorders[stream] = VideoStreamRecorder(codec: codec) }
                            let missing = recorders[stream]!.insert(header, payload: Array(plain[header.payloadRange]), arrival: arrival)
                            if !missing.isEmpty {
                                sendFeedback(.nack(GenericNACK(senderSSRC: ssrc, mediaSSRC: streamSSRCs[stream], lost: missing)))
                            }
                            continue
                        }
                        guard header.ssrc == audioSSRC || audioSSRC == 0 else { continue }
                        lastBridgeSSRC = header.ssrc
                        lastAudioAt = arrival
                        report.packetsReceived += 1
                        if reception == nil { reception = RTPSourceStatistics(firstSequence: header.sequenceNumber) }
                        _ = reception!.update(sequence: header.sequenceNumber)
                        reception!.updateJitter(arrival: UInt32(truncatingIfNeeded: arrival / 20_833), rtpTimestamp: header.timestamp)
                        jitter.insert(sequence: header.sequenceNumber, timestamp: header.timestamp, ssrc: header.ssrc,
                                      payload: UnsafeRawBufferPointer(rebasing: plain[header.payloadRange]), arrival: arrival)
                        if options.keepHeardPackets {
                            report.heardPackets.append(AudioPacketRecord(sequence: header.sequenceNumber, timestamp: header.timestamp,
                                                                         payload: Array(plain[header.payloadRange]), at: arrival))
                        }
                    }
                }
                advanceRecorders(monotonicNanoseconds())
                continue
            }
            nextTick += tick
            watchRecorders(now)  // a stream that stops sends nothing to notice it by

            // Send one 20 ms frame.
            nextFrame(frameIndex, into: &pcm)
            frameIndex += 1
            let level = pcm.withUnsafeBufferPointer { Tone.audioLevel($0) }
            let sent = try packet.withUnsafeMutableBytes { raw -> Bool in
                let headerLength = try RTPHeader.write(
                    into: raw, payloadType: 111, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc,
                    audioLevel: (id: 1, level: AudioLevel(level: level, voiceActivity: level < 50)))
                let payloadLength = try pcm.withUnsafeBufferPointer { try encoder.encode($0, into: UnsafeMutableRawBufferPointer(rebasing: raw[headerLength...])) }
                timestamp &+= 960
                // DTX: a frame of 2 bytes or less is silence; it is not sent and takes no sequence number.
                guard !Opus.isDTX(payloadLength: payloadLength) else { return false }
                if options.keepSentPackets {
                    report.sentPackets.append(AudioPacketRecord(sequence: sequence, timestamp: timestamp &- 960,
                                                                payload: Array(raw[headerLength..<(headerLength + payloadLength)]),
                                                                at: monotonicNanoseconds()))
                }
                let length = try outbound.protectRTP(raw, length: headerLength + payloadLength)
                try socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<length]), to: bridge)
                sequence &+= 1
                packetsSent &+= 1
                octetsSent &+= UInt32(payloadLength)
                return true
            }
            if sent { report.packetsSent += 1 }

            // Play one 20 ms frame of what the bridge sends.
            let decision = jitter.nextFrame(now: monotonicNanoseconds())
            let produced: Int
            switch decision {
            case .waiting: produced = 0
            case .packet(let payload): produced = (try? heard.withUnsafeMutableBufferPointer { try decoder.decode(payload, into: $0) }) ?? 0
            case .fec(let payload): produced = (try? heard.withUnsafeMutableBufferPointer { try decoder.decodeFEC(from: payload, into: $0) }) ?? 0
            case .conceal: produced = (try? heard.withUnsafeMutableBufferPointer { try decoder.conceal(into: $0) }) ?? 0
            }
            for i in produced..<960 { heard[i] = 0 }
            if case .waiting = decision {} else { report.recording += heard }

            if now >= nextReport {
                sendRTCP(goodbye: false)
                nextReport = now + 5_000_000_000
            }
        }
        sendRTCP(goodbye: true)
        let end = monotonicNanoseconds()
        advanceRecorders(end + 1_000_000_000)  // what is still missing now is lost
        for i in 0..<2 where recorders[i] != nil { recorders[i]!.finish(now: end) }  // a stream that stopped is frozen
        report.videoSent = sender
        report.presenterVideo = recorders[0]
        report.speakerVideo = recorders[1]
        report.seconds = Double(monotonicNanoseconds() - start) / 1e9
        report.packetsLost += reception?.cumulativeLost ?? 0
        report.jitterMilliseconds = (reception?.jitter ?? 0) / 48
        report.jitterBuffer = jitter.statistics
    }

    private var lastBridgeSSRC: UInt32?

    private func nextFrame(_ index: Int, into pcm: inout [Int16]) {
        switch options.source {
        case .tone(let frequency, let amplitude):
            let step = 2 * Double.pi * frequency / 48_000
            for i in 0..<960 { pcm[i] = Int16((sin(step * Double(index * 960 + i)) * amplitude * 32767).rounded()) }
        case .talkingTone(let frequency, let amplitude, let on, let off, let offset):
            let cycle = on + off
            let t = (Double(index) * 0.02 + offset).truncatingRemainder(dividingBy: cycle)
            let gain = t < on ? amplitude : 0
            let step = 2 * Double.pi * frequency / 48_000
            for i in 0..<960 { pcm[i] = Int16((sin(step * Double(index * 960 + i)) * gain * 32767).rounded()) }
        case .samples(let samples):
            for i in 0..<960 {
                let j = index * 960 + i
                pcm[i] = j < samples.count ? samples[j] : 0
            }
        case .silence:
            for i in 0..<960 { pcm[i] = 0 }
        }
    }
}

/// A value shared between the media loop and the signalling reader thread.
public final class Shared<T: Sendable>: Sendable {
    private let mutex: Mutex<T>
    public init(_ value: T) { mutex = Mutex(value) }
    public func withLock<R>(_ body: (inout T) -> R) -> R { mutex.withLock { body(&$0) } }
}

/// The join exchange from the site's side (docs/PROTOCOL.md).
public enum JoinClient {
    public struct Joined {
        public let connection: TCPConnection
        public let keys: JoinProtocol.SessionKeys
        public let profile: SRTPProfile
        public let meeting: Int
        public let mediaPort: Int
        /// The SSRC this site must send with.
        public let ssrc: UInt32
        public let welcome: [String: Any]
    }

    public static func join(key: SiteKey, bridge: SocketAddress) throws -> Joined {
        let connection = try TCPConnection(connectingTo: bridge)
        let siteNonce = try SecureRandom.bytes(JoinProtocol.nonceLength)
        try connection.send(line: JoinProtocol.encode([
            "type": "hello", "version": JoinProtocol.version, "site": key.site, "nonce": JoinProtocol.hex(siteNonce),
        ]))
        guard let challengeLine = try connection.receiveLine(timeoutMilliseconds: 5000),
              let challenge = JoinProtocol.decode(challengeLine)
        else { throw EndpointError("the bridge did not answer the join") }
        if challenge["type"] as? String == "refused" { throw refusal(challenge) }
        guard challenge["type"] as? String == "challenge",
              let bridgeNonce = JoinProtocol.bytes(hex: challenge["nonce"], length: JoinProtocol.nonceLength),
              let bridgeProof = JoinProtocol.bytes(hex: challenge["proof"], length: 32)
        else { throw EndpointError("the bridge sent a malformed challenge") }
        let profile = SRTPProfile.aeadAES128GCM
        let keys = try JoinProtocol.deriveKeys(secret: key.secret, site: key.site, siteNonce: siteNonce,
                                               bridgeNonce: bridgeNonce, keyingMaterialLength: profile.keyingMaterialLength)
        guard HMACSHA256.constantTimeEqual(
            bridgeProof, try JoinProtocol.proof(.bridge, keys: keys, site: key.site, siteNonce: siteNonce, bridgeNonce: bridgeNonce))
        else {
            // Final, as the bridge's own authentication-failed: no retry makes a wrong key file or a wrong bridge right.
            throw EndpointError("the bridge could not prove it holds this site's key: wrong bridge or wrong key file",
                                refusal: JoinRefusal.authenticationFailed.rawValue)
        }
        try connection.send(line: JoinProtocol.encode([
            "type": "proof",
            "proof": JoinProtocol.hex(try JoinProtocol.proof(.site, keys: keys, site: key.site, siteNonce: siteNonce, bridgeNonce: bridgeNonce)),
        ]))
        guard let welcomeLine = try connection.receiveLine(timeoutMilliseconds: 5000),
              let welcome = JoinProtocol.decode(welcomeLine)
        else { throw EndpointError("the bridge did not answer the proof") }
        if welcome["type"] as? String == "refused" { throw refusal(welcome) }
        guard welcome["type"] as? String == "welcome", let mediaPort = welcome["mediaPort"] as? Int,
              let ssrc = welcome["ssrc"] as? Int, let meeting = welcome["meeting"] as? Int
        else { throw EndpointError("the bridge sent a malformed welcome") }
        return Joined(connection: connection, keys: keys, profile: profile, meeting: meeting, mediaPort: mediaPort,
                      ssrc: UInt32(truncatingIfNeeded: ssrc), welcome: welcome)
    }

    static func refusal(_ message: [String: Any]) -> EndpointError {
        let reason = message["reason"] as? String ?? "refused"
        var text: String
        switch reason {
        case JoinRefusal.unknownSite.rawValue: text = "refused: the bridge does not know this site"
        case JoinRefusal.authenticationFailed.rawValue: text = "refused: authentication failed"
        case JoinRefusal.notBooked.rawValue:
            text = "refused: this site is not booked now"
            if let next = message["next"] as? [String: Any] {
                text += "; next booking #\(next["meeting"] ?? "?") \"\(next["title"] ?? "")\" from \(next["start"] ?? "?")"
                    + " (room ready from \(next["roomReadyFrom"] ?? "?"))"
            } else {
                text += "; no upcoming booking"
            }
        default: text = "refused: \(reason)"
        }
        return EndpointError(text, refusal: reason)
    }

}

func ntpNow() -> NTPTimestamp {
    let now = wallClock()
    return NTPTimestamp(unixSeconds: now.seconds, nanoseconds: now.nanoseconds)
}
