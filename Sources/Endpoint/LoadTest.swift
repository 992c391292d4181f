#if canImport(Glibc)
import Glibc
#endif
import Admission
import AudioSignal
import DTLS
import Foundation
import OpusCodec
import RTP
import SDP
import SRTP
import Transport

/// Many endpoints in one process: real joins, real SRTP, real Opus, one UDP socket (one address)
/// per site, on one thread. The first `talkers` sites send distinct tones (encoded every frame);
/// the others send a quiet encoded frame with a silent RFC 6464 level, as a muted room would.
/// Sites join natively, or (``Options/webRTC``) the way a browser does: an SDP offer over HTTP, ICE checks,
/// DTLS as the client (NSS), SRTP from the exporter, consent checks while the meeting runs.
public final class LoadTest {
    public struct Options: Sendable {
        public var bridge: SocketAddress
        public var keys: [SiteKey]
        public var talkers: Int
        public var duration: Double
        /// The first `videoSenders` sites also send synthetic VP8 video (a keyframe every 2 s, and the
        /// frame after a PLI or FIR) at this rate, in packets of `videoPacketBytes`; each payload ends
        /// with its send time, so receivers measure the delay through the bridge.
        public var videoSenders = 0
        public var videoKilobitsPerSecond = 1500
        public var videoFramesPerSecond = 25
        public var videoPacketBytes = 1200
        /// Join as WebRTC peers through this web listener (plain HTTP, loopback) instead of the native join.
        public var webRTC: WebRTCOptions?
        /// The last ``SIPOptions/sites`` of the keys call the bridge's SIP port as room systems instead.
        public var sip: SIPOptions?
        /// Keep every video packet's send time (``VideoResult/sendTimes``); off for long runs, where it would grow.
        public var keepVideoSendTimes = false
        /// Every `progressEvery` seconds, `progress` is told what the sites received over that interval.
        public var progressEvery: Double?
        public var progress: (@Sendable (Progress) -> Void)?
        public init(bridge: SocketAddress, keys: [SiteKey], talkers: Int, duration: Double) {
            self.bridge = bridge
            self.keys = keys
            self.talkers = talkers
            self.duration = duration
        }
    }

    public struct WebRTCOptions: Sendable {
        public var web: SocketAddress
        /// The SRTP profiles the DTLS client offers, in order of preference.
        public var srtpProfiles: [SRTPProfile]
        /// Threads posting offers, each one after another. The web listener takes 8 connections from one address, and
        /// an answered one counts until its thread has closed it (later still when the cores are busy): 6 threads
        /// were refused now and then at 147 joins on 2 cores, 4 never.
        public var offerThreads = 4
        public init(web: SocketAddress, srtpProfiles: [SRTPProfile] = DTLSSession.defaultSRTPProfiles) {
            self.web = web
            self.srtpProfiles = srtpProfiles
        }
    }

    /// How WebRTC joins went: each site's time from posting its offer to its first audio packet from the bridge.
    public struct JoinResult: Sendable {
        /// Per site that got audio, milliseconds, sorted.
        public var joinMilliseconds: [Double] = []
        /// From the first offer posted to the last (all offers go out at once, as many as the threads allow).
        public var offerSpreadMilliseconds = 0.0
        /// From the first offer posted to the last site's first audio packet.
        public var allJoinedMilliseconds = 0.0
        /// Sites whose join failed, with why.
        public var failures: [String] = []
        /// Medians of the join's stages, milliseconds: offer posted to answer read, answer to the first Binding
        /// success, that to DTLS done (keys), keys to the first audio packet.
        public var answeredP50Milliseconds = 0.0
        public var checkedP50Milliseconds = 0.0
        public var handshakeP50Milliseconds = 0.0
        public var firstAudioP50Milliseconds = 0.0
        /// The SRTP profile each connected site negotiated, counted.
        public var profiles: [String: Int] = [:]
    }

    /// Video through the bridge, over the whole run.
    public struct VideoResult: Sendable {
        public var packetsSent = 0
        public var bytesSent = 0
        /// When each video packet left (monotonic nanoseconds), so a benchmark can replay the same pattern.
        public var sendTimes: [Int64] = []
        /// Keyframe requests (PLI, FIR) the senders received from the bridge; each made the next frame a keyframe.
        public var keyframeRequests = 0
        /// Per receiving site: video packets received per second over the measured interval.
        public var receivedPerSecond: [Double] = []
        public var packetsReceived = 0
        public var authenticationFailures = 0
        /// Send-to-arrival delay of every video packet received, in microseconds (sender and receivers
        /// share this process's clock).
        public var delayP50Microseconds = 0
        public var delayP99Microseconds = 0
        public var delayMaxMicroseconds = 0
    }

    /// What the sites received over one interval of a run (``Options/progressEvery``).
    public struct Progress: Sendable {
        /// Seconds since the run started, and the interval's length.
        public var elapsedSeconds: Double
        public var intervalSeconds: Double
        /// Per site, audio packets per second over the interval, sorted.
        public var audioPerSecond: [Double]
        /// Per site that does not send video (when some do), video frames per second received, sorted.
        public var videoFramesPerSecond: [Double]
        /// Times sites lost the bridge and joined again, since the start.
        public var rejoins: Int
    }

    public struct SiteResult: Sendable {
        public let site: String
        public var sent = 0
        public var received = 0
        public var authenticationFailures = 0
        /// Packets per second received over the measured interval (after the first second).
        public var receivedPerSecond = 0.0
        /// Each time the bridge was lost and the site joined again.
        public var rejoins: [Rejoin] = []
        /// Attempts of the first join (more than 1: the bridge was not there yet), and when it succeeded (Unix ms).
        public var firstJoinAttempts = 0
        public var firstJoinedAtUnixMilliseconds: Int64?
        /// Audio packets per second from the first join to the end of the run.
        public var audioPerSecondSinceFirstJoin = 0.0
        /// Why the site stopped joining again ("ended" by the bridge, or a refusal), if it did.
        public var gaveUp: String?
    }

    final class Participant {
        let key: SiteKey
        let socket: UDPSocket
        var outbound: SRTPSession?
        var inbound: SRTPSession?
        var destination: SocketAddress
        let encoder: Opus.Encoder?
        let frequency: Double
        var sequence = UInt16.random(in: 0...UInt16.max)
        var timestamp = UInt32.random(in: 0...UInt32.max)
        var result: SiteResult
        var receivedAtStart = 0
        /// The site's own audio SSRC, the bridge's mix SSRC, the site's video SSRC, the two streams it receives.
        var ssrc: UInt32
        var audioSSRC: UInt32
        var videoSSRC: UInt32
        var streamSSRCs: [UInt32]
        var videoSequence = UInt16.random(in: 0...UInt16.max)
        var videoTimestamp = UInt32.random(in: 0...UInt32.max)
        var videoReceived = 0
        var videoReceivedAtStart = 0
        /// Video frames received (packets with the marker bit), and both counters at the last progress report.
        var videoFrames = 0
        var audioAtProgress = 0
        var videoFramesAtProgress = 0
        /// The bridge asked for a keyframe (PLI or FIR): the next frame is one, as from an encoder.
        var keyframeRequested = false
        /// Native join: the join connection (kept open for the session).
        var joined: JoinClient.Joined?
        /// WebRTC join: the offer, the answer once signalled, the ICE/DTLS link, when the offer was posted and
        /// when the first audio packet came back.
        var offer: WebRTCSignalling.Offer?
        var answer: WebRTCSignalling.Answer?
        var link: WebRTCLink?
        var offerPostedAt: Int64 = 0
        var firstAudioAt: Int64?
        /// First joins that failed and rejoins: the schedule, whether a join is with a join thread, the last audio
        /// packet's arrival, why the site stopped rejoining.
        var backoff = RejoinBackoff()
        var joining = false
        var lastAudioAt: Int64 = 0
        var gaveUp: String? {
            get { result.gaveUp }
            set { result.gaveUp = newValue }
        }
        /// A SIP site (``LoadTest+SIP.swift``): its call, codec and payload type; and its own address.
        let sip: SIPMedia?
        let host: String

        init(key: SiteKey, talkerFrequency: Double?, sip codec: SIPAudioCodec? = nil, host: String = "127.0.0.1") throws {
            self.key = key
            self.host = host
            if let codec {
                sip = try SIPMedia(codec: codec, talkerFrequency: talkerFrequency)
                socket = try LoadTest.sipMediaSocket(host: host)
            } else {
                sip = nil
                socket = try UDPSocket(bindTo: try SocketAddress(ip: host, port: 0), receiveBufferBytes: 1 << 20)
            }
            encoder = talkerFrequency == nil || codec != nil ? nil : try Opus.Encoder(configuration: .init(dtx: false))
            frequency = talkerFrequency ?? 0
            result = SiteResult(site: key.site)
            destination = socket.localAddress
            (ssrc, audioSSRC, videoSSRC, streamSSRCs) = (0, 0, 0, [])
        }

        func joined(_ joined: JoinClient.Joined, bridge: SocketAddress) throws {
            self.joined = joined
            outbound = try SRTPSession(profile: joined.profile, direction: .outbound, keyingMaterial: joined.keys.siteToBridge)
            inbound = try SRTPSession(profile: joined.profile, direction: .inbound, keyingMaterial: joined.keys.bridgeToSite)
            destination = bridge.with(port: UInt16(joined.mediaPort))
            let video = joined.welcome["video"] as? [String: Any] ?? [:]
            ssrc = joined.ssrc
            audioSSRC = UInt32(truncatingIfNeeded: joined.welcome["bridgeSSRC"] as? Int ?? 0)
            videoSSRC = UInt32(truncatingIfNeeded: video["ssrc"] as? Int ?? 0)
            streamSSRCs = [video["presenterSSRC"] as? Int ?? 0, video["speakerSSRC"] as? Int ?? 0].map { UInt32(truncatingIfNeeded: $0) }
        }

        func signalled(_ answer: WebRTCSignalling.Answer, link: WebRTCLink) {
            self.answer = answer
            self.link = link
            destination = answer.media
            audioSSRC = answer.audioSSRC
            streamSSRCs = [answer.presenterSSRC, answer.speakerSSRC]
        }

        /// A SIP site's call was answered: its keys (SDES, both directions), the bridge's media address (the socket is
        /// connected to it, so an ICMP port-unreachable fails the next send: the bridge is gone).
        func called(_ call: SIPLoadCall, negotiation: SIPNegotiation) throws {
            guard let media = sip else { return }
            guard let keys = negotiation.audio.media.srtp else { throw EndpointError("\(key.site): the answer has no SRTP key") }
            let remote = negotiation.audio.media.remote
            let destination = try SocketAddress(ip: remote.address, port: remote.rtpPort)
            outbound = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .outbound, keyingMaterial: keys.localKey.keySalt)
            inbound = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .inbound, keyingMaterial: keys.remoteKey.keySalt)
            try socket.connect(to: destination)
            self.destination = destination
            media.call = call
            media.payloadType = negotiation.audio.payloadType
            media.connected = true
        }

        /// Sends what the WebRTC link has to send; takes its keys once it has them.
        func flushLink() {
            guard let link else { return }
            for datagram in link.takeOutgoing() { try? socket.send(datagram, to: destination) }
            if outbound == nil, link.state == .connected {
                outbound = link.outbound
                inbound = link.inbound
            }
        }
    }

    let options: Options
    public init(options: Options) { self.options = options }
    /// Filled by ``run()`` when video was sent.
    public private(set) var video = VideoResult()
    /// Filled by ``run()`` for WebRTC joins.
    public private(set) var joins = JoinResult()
    /// Filled by ``run()`` for SIP sites.
    public private(set) var sipCalls = SIPResult()
    /// How far the generator's own 20 ms loop fell behind (its lateness is not the bridge's).
    public struct LoopResult: Sendable {
        /// The latest a tick ran, milliseconds after it was due.
        public var tickLateMaxMilliseconds = 0.0
        /// Ticks that ran more than 40 ms late.
        public var ticksLateOver40Milliseconds = 0
        /// 20 ms frames not sent because the loop was more than ``LoadTest/catchUpLimit`` behind.
        public var framesSkipped = 0
    }

    /// A loop further behind than this skips the frames it missed (their RTP time passes unsent, as when a room's
    /// capture drops audio) instead of sending them all at once: 147 sites bursting together when the generator's
    /// thread was starved (a storm of rejoins after a bridge restart) made the bridge's jitter buffers hold the burst as
    /// 0.4-0.6 s of delay for tens of seconds, and the quality grades showed the generator's stall, not the bridge.
    static let catchUpLimit: Int64 = 60_000_000
    public private(set) var loop = LoopResult()

    public func run() throws -> [SiteResult] {
        var participants: [Participant] = []
        var random = SystemRandomNumberGenerator()
        var joinFailures = JoinFailureLog(prefix: "loadtest")
        // Native (or WebRTC) sites first, then the SIP sites; the first talkers of each kind send tones.
        let sipSites = options.sip?.sites ?? 0
        let firstSIP = options.keys.count - sipSites
        let sipTalkers = min(options.sip?.talkers ?? 0, sipSites, options.talkers)
        let nativeTalkers = options.talkers - sipTalkers
        for (i, key) in options.keys.enumerated() {
            let sip = i >= firstSIP
            let talker = sip ? i - firstSIP < sipTalkers : i < nativeTalkers
            let ordinal = sip ? nativeTalkers + i - firstSIP : i
            let participant = try Participant(key: key, talkerFrequency: talker ? 300 + 110 * Double(ordinal) : nil,
                                              sip: sip ? options.sip?.codec : nil,
                                              host: sip ? Self.sipSiteHost(i - firstSIP) : "127.0.0.1")
            if sip {
                participant.ssrc = .random(in: 1...UInt32.max)
            } else if options.webRTC == nil {
                // The first join: one that fails (the bridge not there yet) is tried again with backoff in the loop.
                participant.result.firstJoinAttempts = 1
                do {
                    try participant.joined(try JoinClient.join(key: key, bridge: options.bridge), bridge: options.bridge)
                    participant.result.firstJoinedAtUnixMilliseconds = ReferenceEndpoint.unixMilliseconds()
                } catch let error as EndpointError {
                    firstJoinFailed(participant, error, failures: &joinFailures, random: &random)
                } catch {
                    firstJoinFailed(participant, EndpointError(JoinFailureLog.describe(error, bridge: options.bridge)),
                                    failures: &joinFailures, random: &random)
                }
            }
            participants.append(participant)
        }
        if let sip = options.sip {
            sipCalls = placeSIPCalls(participants, options: sip, failures: &joinFailures, random: &random)
        }
        let sipQuiet = try options.sip.map { try Self.quietFrames($0.codec) } ?? []
        let signalling = try options.webRTC.map { try WebRTCJoins(Array(participants[..<firstSIP]), options: $0) }
        if signalling != nil { for p in participants[..<firstSIP] { p.result.firstJoinAttempts = 1 } }
        // First joins that failed, and sites that lose the bridge, join again by themselves (checked every tick; the
        // sessions watched every 100 ms), each kind through its own join thread.
        let joiners = Joiners(native: options.webRTC == nil && firstSIP > 0 ? NativeRejoins(bridge: options.bridge) : nil,
                              sip: options.sip.map { SIPJoins(bridge: $0.bridge) }, webRTC: signalling)
        defer { joiners.stop() }
        // A muted room's frame: a low hiss, encoded once.
        let quietEncoder = try Opus.Encoder(configuration: .init(dtx: false))
        var quiet = [UInt8]()
        for i in 0..<10 { quiet = try quietEncoder.encode(Tone.samples(frequency: 3000, amplitude: 0.001, start: i * 960, count: 960)) }

        var packet = [UInt8](repeating: 0, count: 1500)
        let batch = DatagramBatch(capacity: 16, slotSize: 1500)
        // A WebRTC site's socket belongs to its join thread until the site is handed over (poll skips fd -1).
        var fds = participants.map { pollfd(fd: signalling == nil || $0.sip != nil ? $0.socket.descriptorForPolling : -1, events: Int16(POLLIN), revents: 0) }
        // Video delays in 10 µs buckets up to 100 ms.
        var delays = [Int](repeating: 0, count: 10_001)
        let videoSenders = participants.prefix(options.videoSenders)
        let frameBytes = options.videoKilobitsPerSecond * 1000 / 8 / max(1, options.videoFramesPerSecond)
        let payloadBytes = options.videoPacketBytes - 12
        let frameInterval = Int64(1_000_000_000 / max(1, options.videoFramesPerSecond))
        // Video leaves through a pacer, as from a real sender: a frame's packets at 2.5 times the
        // video bitrate, not in one burst.
        let pacing = Int64(Double(options.videoPacketBytes * 8) / (Double(options.videoKilobitsPerSecond) * 1000 * 2.5) * 1e9)
        var paced: [(sender: Participant, payloadSize: Int, first: Bool, key: Bool, last: Bool)] = []
        var pacedNext = 0
        var nextPacketAt: Int64 = 0
        let start = monotonicNanoseconds()
        var nextTick = start
        var nextVideoAt = start
        var videoFrame = 0
        var frame = 0
        var measuredFrom: Int64 = 0
        // When every site can send (native: at once; WebRTC: once each link is connected or has failed).
        var readyAt: Int64? = signalling == nil ? start : nil
        // When the loop last looked at the sockets: a site's silence counts only up to then (a loop behind its
        // ticks is not receiving, and must not take its own lag for the bridge's silence).
        var polledAt = start
        var progressAt = start
        while true {
            let now = monotonicNanoseconds()
            if Double(now - start) / 1e9 >= options.duration { break }
            if pacedNext < paced.count && now >= nextPacketAt {
                let p = paced[pacedNext]
                pacedNext += 1
                if pacedNext == paced.count {
                    paced.removeAll(keepingCapacity: true)
                    pacedNext = 0
                }
                nextPacketAt = max(nextPacketAt, now - pacing) + pacing
                guard let outbound = p.sender.outbound else { continue }
                try packet.withUnsafeMutableBytes { raw in
                    let header = try RTPHeader.write(into: raw, marker: p.last, payloadType: 96, sequenceNumber: p.sender.videoSequence,
                                                     timestamp: p.sender.videoTimestamp, ssrc: p.sender.videoSSRC)
                    let size = p.payloadSize
                    raw[header] = p.first ? 0x10 : 0x00
                    raw[header + 1] = p.key ? 0x10 : 0x11
                    for i in (header + 2)..<(header + size - 8) { raw[i] = 0x5A }
                    var sent = monotonicNanoseconds()
                    withUnsafeBytes(of: &sent) { UnsafeMutableRawBufferPointer(rebasing: raw[(header + size - 8)..<(header + size)]).copyMemory(from: $0) }
                    let protected = try outbound.protectRTP(raw, length: header + size)
                    do {
                        try p.sender.socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<protected]), to: p.sender.destination)
                    } catch let error as SocketError where error == .connectionRefused {
                        return  // the bridge is gone: its audio send finds out too, and the site rejoins
                    }
                    if options.keepVideoSendTimes { video.sendTimes.append(sent) }
                    video.packetsSent += 1
                    video.bytesSent += header + size
                }
                p.sender.videoSequence &+= 1
                if p.last { p.sender.videoTimestamp &+= UInt32(90_000 / max(1, options.videoFramesPerSecond)) }
                continue
            }
            if now < nextTick {
                let until = pacedNext < paced.count ? min(nextTick, nextPacketAt) : nextTick
                let ready = try pollReadable(&fds, nanoseconds: until - now)
                polledAt = monotonicNanoseconds()
                if ready > 0 {
                    for (i, fd) in fds.enumerated() where fd.revents & Int16(POLLIN) != 0 {
                        let p = participants[i]
                        let count: Int
                        do {
                            count = try p.socket.receive(into: batch)
                        } catch {
                            guard error == .connectionRefused else { throw error }
                            // An ICMP port-unreachable for the bridge's media port: the bridge is gone.
                            if p.outbound != nil { lose(p, reason: "media-refused", now: monotonicNanoseconds(), random: &random) }
                            continue
                        }
                        let arrival = monotonicNanoseconds()
                        for j in 0..<count {
                            let datagram = batch.datagram(j)
                            if let link = p.link {
                                let media = link.receive(UnsafeRawBufferPointer(datagram), now: arrival)
                                p.flushLink()
                                guard media else { continue }
                            }
                            guard datagram.count > 12, let inbound = p.inbound else { continue }
                            guard datagram[1] < 200 || datagram[1] > 206 else {
                                // RTCP: a video sender answers keyframe requests.
                                if i < options.videoSenders, let n = try? inbound.unprotectRTCP(datagram, length: datagram.count) {
                                    _ = try? RTCPFastPath.read(UnsafeRawBufferPointer(rebasing: datagram[0..<n]), blockAbout: 0) { request in
                                        switch request {
                                        case .pictureLoss(_, p.videoSSRC), .fullIntraRequest(_, p.videoSSRC, _):
                                            p.keyframeRequested = true
                                            video.keyframeRequests += 1
                                        default: break
                                        }
                                    }
                                }
                                continue
                            }
                            let ssrc = UInt32(datagram[8]) << 24 | UInt32(datagram[9]) << 16 | UInt32(datagram[10]) << 8 | UInt32(datagram[11])
                            let isVideo = ssrc != p.audioSSRC && p.streamSSRCs.contains(ssrc)
                            guard let n = try? inbound.unprotectRTP(datagram, length: datagram.count) else {
                                if isVideo { video.authenticationFailures += 1 } else { p.result.authenticationFailures += 1 }
                                continue
                            }
                            guard isVideo else {
                                p.result.received += 1
                                p.lastAudioAt = arrival
                                if p.firstAudioAt == nil {
                                    p.firstAudioAt = arrival
                                    if !p.result.rejoins.isEmpty {
                                        p.result.rejoins[p.result.rejoins.count - 1].firstAudioAtUnixMilliseconds = ReferenceEndpoint.unixMilliseconds()
                                    }
                                }
                                if !p.result.rejoins.isEmpty { p.result.rejoins[p.result.rejoins.count - 1].audioReceived += 1 }
                                continue
                            }
                            p.videoReceived += 1
                            if datagram[1] & 0x80 != 0 { p.videoFrames += 1 }
                            video.packetsReceived += 1
                            if n >= 12 + 8 {
                                var sent: Int64 = 0
                                withUnsafeMutableBytes(of: &sent) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: datagram[(n - 8)..<n])) }
                                delays[min(delays.count - 1, max(0, Int((arrival - sent) / 10_000)))] += 1
                            }
                        }
                    }
                }
                continue
            }
            let lateness = now - nextTick
            loop.tickLateMaxMilliseconds = max(loop.tickLateMaxMilliseconds, Double(lateness) / 1e6)
            if lateness > 40_000_000 { loop.ticksLateOver40Milliseconds += 1 }
            if lateness > Self.catchUpLimit {
                // The frames missed are skipped: the RTP timestamps move on (the sequence numbers do not, as in DTX), so the
                // bridge sees a gap in time rather than a late burst.
                let missed = Int(lateness / 20_000_000)
                nextTick += Int64(missed) * 20_000_000
                frame += missed
                loop.framesSkipped += missed
                for p in participants {
                    p.timestamp &+= UInt32(truncatingIfNeeded: missed) &* (p.sip?.frameTicks ?? 960)
                }
            }
            nextTick += 20_000_000
            if let every = options.progressEvery, let progress = options.progress, now - progressAt >= Int64(every * 1e9) {
                progress(progressReport(participants, since: progressAt, now: now, start: start))
                progressAt = now
            }
            try followJoins(participants, joiners: joiners, fds: &fds, random: &random, failures: &joinFailures, now: now,
                            polledAt: polledAt, watch: frame % 5 == 0)
            if let signalling {
                signalling.advance(now: now)
                if readyAt == nil, signalling.isSettled { readyAt = now }
            }
            if measuredFrom == 0, let readyAt, now - readyAt >= 1_000_000_000 {
                measuredFrom = now
                for p in participants {
                    p.receivedAtStart = p.result.received
                    p.videoReceivedAtStart = p.videoReceived
                }
            }
            if !videoSenders.isEmpty && now >= nextVideoAt {
                // One frame per sender: packets of synthetic VP8 (descriptor, key flag, filler, send time).
                nextVideoAt += frameInterval
                let scheduledKey = videoFrame % (2 * max(1, options.videoFramesPerSecond)) == 0
                videoFrame += 1
                for p in videoSenders {
                    let key = scheduledKey || p.keyframeRequested
                    p.keyframeRequested = false
                    var left = frameBytes
                    var first = true
                    while left > 0 {
                        let size = min(payloadBytes, max(16, left))
                        left -= size
                        paced.append((p, size, first, key, left <= 0))
                        first = false
                    }
                }
            }
            for p in participants {
                guard let outbound = p.outbound else { continue }
                if let media = p.sip {
                    do {
                        try packet.withUnsafeMutableBytes { raw in
                            let length = try Self.writeSIPPacket(p, media: media, frame: frame, quiet: sipQuiet, into: raw)
                            let protected = try outbound.protectRTP(raw, length: length)
                            try p.socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<protected]), to: p.destination)
                        }
                    } catch let error as SocketError where error == .connectionRefused {
                        lose(p, reason: "media-refused", now: now, random: &random)  // the bridge's media port is closed
                        continue
                    }
                    p.sequence &+= 1
                    p.timestamp &+= media.frameTicks
                    p.result.sent += 1
                    continue
                }
                let refused = try packet.withUnsafeMutableBytes { raw -> Bool in
                    let talking = p.encoder != nil
                    let level: UInt8 = talking ? 20 : 127
                    let header = try RTPHeader.write(into: raw, payloadType: 111, sequenceNumber: p.sequence, timestamp: p.timestamp,
                                                     ssrc: p.ssrc,
                                                     audioLevel: (id: 1, level: AudioLevel(level: level, voiceActivity: talking)))
                    var length = header
                    if let encoder = p.encoder {
                        let pcm = Tone.samples(frequency: p.frequency, amplitude: 0.2, start: frame * 960, count: 960)
                        length += try pcm.withUnsafeBufferPointer {
                            try encoder.encode($0, into: UnsafeMutableRawBufferPointer(rebasing: raw[header...]))
                        }
                    } else {
                        UnsafeMutableRawBufferPointer(rebasing: raw[header..<(header + quiet.count)]).copyBytes(from: quiet)
                        length += quiet.count
                    }
                    let protected = try outbound.protectRTP(raw, length: length)
                    do {
                        try p.socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<protected]), to: p.destination)
                    } catch {
                        // A WebRTC site's socket is connected to the bridge's media port: refused, it is closed.
                        guard (error as? SocketError) == .connectionRefused && p.link != nil else { throw error }
                        return true
                    }
                    return false
                }
                if refused {
                    lose(p, reason: "media-refused", now: now, random: &random)
                    continue
                }
                p.sequence &+= 1
                p.timestamp &+= 960
                p.result.sent += 1
            }
            frame += 1
        }
        let measured = measuredFrom == 0 ? 0 : Double(monotonicNanoseconds() - measuredFrom) / 1e9
        let endedAt = ReferenceEndpoint.unixMilliseconds()  // the media's end (the BYEs below take time)
        if let signalling { joins = signalling.result() }
        if !videoSenders.isEmpty {
            let total = delays.reduce(0, +)
            func percentile(_ q: Double) -> Int {
                var sum = 0
                for (i, n) in delays.enumerated() {
                    sum += n
                    if Double(sum) >= Double(total) * q { return (i + 1) * 10 }
                }
                return delays.count * 10
            }
            video.delayP50Microseconds = total > 0 ? percentile(0.5) : -1
            video.delayP99Microseconds = total > 0 ? percentile(0.99) : -1
            video.delayMaxMicroseconds = total > 0 ? ((delays.lastIndex { $0 > 0 } ?? 0) + 1) * 10 : -1
            video.receivedPerSecond = participants.dropFirst(options.videoSenders).map {
                measured > 0 ? Double($0.videoReceived - $0.videoReceivedAtStart) / measured : 0
            }
        }
        if options.sip != nil {
            // Calls that failed at first but were placed later (a bridge that started after the load generator) count.
            let connected = Set(participants.filter { $0.sip != nil && $0.result.firstJoinedAtUnixMilliseconds != nil }.map(\.key.site))
            sipCalls.connected = connected.count
            sipCalls.failures.removeAll { failure in connected.contains { failure.hasPrefix($0 + ":") } }
            sipCalls.hungUp = SIPLoadCall.hangUp(participants.compactMap { $0.sip?.call }, within: 5)
        }
        for p in participants {
            p.result.receivedPerSecond = measured > 0 ? Double(p.result.received - p.receivedAtStart) / measured : 0
            if let joinedAt = p.result.firstJoinedAtUnixMilliseconds, endedAt > joinedAt {
                p.result.audioPerSecondSinceFirstJoin = Double(p.result.received) * 1000 / Double(endedAt - joinedAt)
            }
            for (n, rejoin) in p.result.rejoins.enumerated() {
                guard let first = rejoin.firstAudioAtUnixMilliseconds, endedAt > first else { continue }
                p.result.rejoins[n].audioPerSecond = Double(rejoin.audioReceived) * 1000 / Double(endedAt - first)
            }
            if let joined = p.joined {
                try? joined.connection.send(line: JoinProtocol.encode(["type": "bye"]))
                joined.connection.close()
            }
            if let answer = p.answer, let web = options.webRTC?.web { try? WebRTCSignalling.leave(answer, web: web) }
        }
        sipCalls.receivedPerSecond = participants.filter { $0.sip != nil }.map(\.result.receivedPerSecond).sorted()
        return participants.map(\.result)
    }

    /// What each site received since the last report, and resets the counters for the next.
    private func progressReport(_ participants: [Participant], since: Int64, now: Int64, start: Int64) -> Progress {
        let seconds = Double(now - since) / 1e9
        var report = Progress(elapsedSeconds: Double(now - start) / 1e9, intervalSeconds: seconds, audioPerSecond: [],
                              videoFramesPerSecond: [], rejoins: participants.reduce(0) { $0 + $1.result.rejoins.count })
        for (i, p) in participants.enumerated() {
            report.audioPerSecond.append(Double(p.result.received - p.audioAtProgress) / seconds)
            if options.videoSenders > 0 && i >= options.videoSenders {
                report.videoFramesPerSecond.append(Double(p.videoFrames - p.videoFramesAtProgress) / seconds)
            }
            p.audioAtProgress = p.result.received
            p.videoFramesAtProgress = p.videoFrames
        }
        report.audioPerSecond.sort()
        report.videoFramesPerSecond.sort()
        return report
    }
}
