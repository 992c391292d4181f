#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import ICE
import JitterBuffer
import Mixer
import OpusCodec
import Playout
import RTP
import SRTP
import Scheduler
import Transport
import VideoFormats
import VideoRouter
import VoiceCodecs

func wallClockNTP() -> NTPTimestamp {
    let now = wallClock()
    return NTPTimestamp(unixSeconds: now.seconds, nanoseconds: now.nanoseconds)
}

/// One site's media state. Lives on the media thread only (libsrtp2 and libopus are not thread-safe).
final class MediaSession {
    let setup: SessionSetup
    /// The site's SRTP contexts: from the join for a native site; for a WebRTC peer once its DTLS
    /// handshake is done (nothing is sent or accepted before).
    private(set) var inbound: SRTPSession?
    private(set) var outbound: SRTPSession?
    /// A SIP call on plain RTP (its site's policy allows it and it sent no keys): the RTP address its SDP named,
    /// the only address its packets are taken from (nil: none is). Unused when ``isPlainRTP`` is false.
    let plainRTPSource: SocketAddress?
    let isPlainRTP: Bool
    /// A SIP site's camera video contexts (its video m-line's own SDES keys); nil for every other site, whose video
    /// shares `inbound`/`outbound`.
    private(set) var videoInbound: SRTPSession?
    private(set) var videoOutbound: SRTPSession?
    /// A SIP site's video address (its first authentic video packet latches it) and, without rtcp-mux, where its
    /// authentic video RTCP came from.
    var videoAddress: SocketAddress?
    var videoRTCPAddress: SocketAddress?
    /// A WebRTC peer's ICE-lite state (nil for a native site).
    var ice: ICELiteSession?
    /// The SSRCs the site sends audio and video with: the welcome's for a native site; for a WebRTC
    /// peer, learned from its first authentic packets of each kind.
    var audioSSRC: UInt32
    var videoSSRC: UInt32
    let jitter = JitterBuffer()
    let decoder: Opus.Decoder
    /// A room system's G.722/G.711 decoder (nil for Opus), made with the session on the media thread.
    let voiceDecoder: VoiceFrameDecoder?
    /// A room system's 10-60 ms G.722/G.711 packets cut into 20 ms frames for the jitter buffer (nil for Opus).
    let reframer: VoicePacketReframer?
    /// The RTP clock of the site's audio (48 kHz Opus, 8 kHz G.722/G.711) and its timestamp advance per 20 ms frame.
    let rtpClockRate: Int
    let frameTicks: UInt32
    /// Decoded audio between the decoder and the mixer, time-stretched to follow the jitter buffer's target.
    let playout = SitePlayout()
    var address: SocketAddress?
    /// Where the site's RTCP goes when it is not on its RTP port (a SIP room system without rtcp-mux): the
    /// address its authentic RTCP came from; nil until then, and for every other site (RTCP goes to `address`).
    var rtcpAddress: SocketAddress?
    var lastPacketAt: Int64
    var outSequence: UInt16
    var outTimestamp: UInt32
    var packetsSent: UInt32 = 0
    var octetsSent: UInt32 = 0
    /// RFC 6464 level of the last packet (dBov) and when it came.
    var level: UInt8 = 127
    var levelAt: Int64 = 0
    var sendsLevels = false
    /// Whether the decoder has followed the stream (it is skipped while the site is not mixed).
    var decoderCurrent = false
    var reception: RTPSourceStatistics?
    var lastSenderReport: (compact: UInt32, at: Int64)? = nil
    var nextReportAt: Int64
    var statistics: SiteMediaStatistics
    var talkerTicks = 0
    /// Video counters at the last statistics snapshot (for rates), and the FIR command number.
    var videoAtLastSnapshot = VideoSiteStatistics()
    var firSequence: UInt8 = 0
    /// What the jitter buffer gave for this tick (its payload is valid until the next call).
    var pendingDecision: PlayoutDecision = .waiting
    /// This tick plays what waits in `playout`: no frame was taken from the jitter buffer.
    var playsFromPlayout = false
    /// The camera video arriving from the site, its loss counted as RFC 3550 A.3 does (the uplink
    /// loss REMB follows), and the SSRC it is counted for.
    private var videoReception: RTPSourceStatistics?
    private var videoReceptionSSRC: UInt32 = 0
    private var videoExpectedAtLastLoss: UInt32 = 0
    /// For a peer that takes REMB: the rate it is asked to keep under.
    var bitrate: SenderBitrateController?
    /// What the site last reported (RTCP report blocks) about its presenter and speaker streams,
    /// by `VideoStreamKind.rawValue`.
    var videoLossReports: [VideoLossReport?] = [nil, nil]

    /// Whether this tick carries sound from the site (a packet or a rebuilt frame).
    var pendingDecisionIsAudio: Bool {
        if playsFromPlayout { return true }
        return switch pendingDecision {
        case .packet, .fec: true
        case .conceal, .waiting: false
        }
    }

    init(_ setup: SessionSetup, now: Int64, address: String) throws {
        self.setup = setup
        if case .sip(let sip) = setup.transport, sip.isPlain {
            (isPlainRTP, plainRTPSource) = (true, sip.remoteRTP)
        } else {
            (isPlainRTP, plainRTPSource) = (false, nil)
        }
        audioSSRC = setup.endpointSSRC
        videoSSRC = setup.videoSSRC
        decoder = try Opus.Decoder()
        let format = setup.transport.voiceFormat
        voiceDecoder = format.map { VoiceFrameDecoder(format: $0) }
        reframer = format == nil ? nil : VoicePacketReframer()
        rtpClockRate = format?.rtpClockRate ?? 48_000
        frameTicks = format?.frameTimestampIncrement ?? 960
        lastPacketAt = now
        outSequence = UInt16.random(in: 0...UInt16.max)
        outTimestamp = UInt32.random(in: 0...UInt32.max)
        nextReportAt = now + 1_000_000_000
        statistics = SiteMediaStatistics(site: setup.site, siteID: setup.siteID, meeting: setup.meeting, address: address)
        (statistics.transport, statistics.audioCodec) = (setup.transport.kind, setup.transport.audioCodec)
        (statistics.sipMedia, statistics.sipSignalling) = (setup.transport.sipMedia?.media, setup.transport.sipMedia?.signalling)
        if let cap = setup.videoCapBitsPerSecond {
            bitrate = SenderBitrateController(cap: cap, now: now)
            statistics.rembBitsPerSecond = cap
        }
        switch setup.transport {
        case .native(let profile, let inboundKey, let outboundKey):
            try key(profile: profile, inbound: inboundKey, outbound: outboundKey)
        case .webRTC(let local, let remoteUfrag, _):
            ice = try ICELiteSession(local: local, remoteUfrag: remoteUfrag, now: now)
        case .sip(let sip):
            if let keys = sip.keys { try key(profile: sip.profile, inbound: keys.inbound, outbound: keys.outbound) }
            if let video = sip.video {
                videoInbound = try SRTPSession(profile: sip.profile, direction: .inbound, keyingMaterial: video.inboundKey)
                videoOutbound = try SRTPSession(profile: sip.profile, direction: .outbound, keyingMaterial: video.outboundKey)
            }
        }
    }

    /// Counts a video packet the site sent (authentic, whether the router forwards it or not).
    func countVideo(_ header: RTPHeader) {
        if videoReception == nil || header.ssrc != videoReceptionSSRC {
            videoReception = RTPSourceStatistics(firstSequence: header.sequenceNumber)
            videoReceptionSSRC = header.ssrc
            videoExpectedAtLastLoss = 0
        }
        _ = videoReception!.update(sequence: header.sequenceNumber)
    }

    /// The fraction of the site's camera video lost on its way to the bridge since the last call;
    /// nil if no video came meanwhile.
    func takeVideoUplinkLoss() -> Double? {
        guard var reception = videoReception else { return nil }
        let expected = reception.expected
        let fraction = reception.takeFractionLost()
        videoReception = reception
        defer { videoExpectedAtLastLoss = expected }
        return expected == videoExpectedAtLastLoss ? nil : Double(fraction) / 256
    }

    /// Sets the SRTP contexts (a native join's keys, or a WebRTC peer's from its DTLS handshake).
    func key(profile: SRTPProfile, inbound inboundKey: [UInt8], outbound outboundKey: [UInt8]) throws(SRTPError) {
        inbound = try SRTPSession(profile: profile, direction: .inbound, keyingMaterial: inboundKey)
        // No index is ever protected twice (a NACK is answered with the bytes sent before, kept by the
        // video router), so libsrtp2 refuses repeated indices: under AES-GCM one would reuse a nonce.
        outbound = try SRTPSession(profile: profile, direction: .outbound, keyingMaterial: outboundKey)
    }
}

/// The media thread: one UDP socket for all media, a 20 ms mixer clock, every session's SRTP,
/// jitter buffer and codec state, and the meetings' video routers. Nothing else touches this state.
final class MediaEngine: VideoSink {
    static let tickNanoseconds: Int64 = 20_000_000
    static let maximumSites = 256
    /// Audio-only, the thread lets packets gather this long after each receive rather than waking for
    /// each one (147 sites send 7,350 packets a second); arrival times stay kernel-stamped. While video
    /// flows (within the last 100 ms) it does not pause: a video packet waiting in the socket is delay
    /// added to every receiver's copy.
    static let coalesceNanoseconds: Int64 = 1_000_000
    /// Copies of a video packet go out in sends of this many, so the first receivers need not wait
    /// for the last ones' encryption.
    static let videoSendChunk = 32
    /// The tick sends its audio in chunks of this many, forwarding arrived video in between.
    static let audioSendChunk = 48
    static let receiveBatchSize = 64
    /// At most this many datagrams are read between one tick and the next (the reads during a tick count for
    /// the next): 51,200 a second, seven times a 147-site meeting's audio. A flood beyond it stays in the
    /// socket, whose buffer fills and the kernel drops the rest, so the 20 ms mix runs whatever arrives.
    static let receiveBudgetPerTick = 1024
    /// And at most this long spent reading and handling them (a fifth of the tick), for datagrams that cost
    /// more each (a forged packet with a known SSRC costs an SRTP authentication) or a thread slowed down.
    static let receiveBudgetNanosecondsPerTick: Int64 = 4_000_000

    let socket: UDPSocket
    let mailbox: MediaMailbox
    let talkers: Int
    let lostAfterNanoseconds: Int64
    let consentNanoseconds: Int64
    var sessions = [MediaSession?](repeating: nil, count: maximumSites)
    var bySSRC: [UInt32: Int] = [:]
    /// WebRTC peers: by our ICE ufrag (their checks name it), and by the address ICE selected.
    var byUfrag: [String: Int] = [:]
    var byAddress: [SocketAddress: Int] = [:]
    /// SIP sites by the RTP address their SDP named (`MediaEngine+SIP.swift`).
    var bySIPAddress: [SocketAddress: Int] = [:]
    /// Where DTLS datagrams from WebRTC peers go: the handshake thread.
    let handshakes: WebRTCHandshakes?
    /// One STUN answer at a time, written here (no allocation).
    let stunResponse = UnsafeMutableRawBufferPointer.allocate(byteCount: 128, alignment: 8)
    var stunRefused = 0
    private var mixers: [MeetingID: AudioMixer] = [:]
    var routers: [MeetingID: VideoRouter] = [:]
    private let videoPolicy: VideoPolicy
    /// Video is forwarded as it arrives (not on the tick), its copies sent in chunks.
    // Room for the largest packet the settings allow (1,472 bytes) and libsrtp2's trailer.
    private let videoBatch = DatagramBatch(capacity: videoSendChunk, slotSize: 1472 + SRTPSession.maxTrailerLength)
    let receiveBatch = DatagramBatch(capacity: receiveBatchSize, slotSize: 1500, arrivalTimes: true)
    private var arrivals = [Int64](repeating: 0, count: receiveBatchSize)
    private let sendBatch = DatagramBatch(capacity: maximumSites, slotSize: 1500)
    private let scratch = UnsafeMutableBufferPointer<Int16>.allocate(capacity: 5760)
    var rtcpBuffer = [UInt8](repeating: 0, count: 1500)
    /// Once a second, for one camera, the losses its receivers report (room for every stream).
    var receiverLosses: [Double] = []
    /// Tick lateness since start, in 50 µs buckets (the last bucket holds everything from 50 ms).
    private var lateness = [Int](repeating: 0, count: 1000)
    private var latenessCount = 0
    /// The same, per second for the last `recentLateness.count` seconds (a ring; the current second at
    /// `recentSecond`), so the figure shows the mixer's recent ticks, not all since start.
    private var recentLateness = [[Int]](repeating: [Int](repeating: 0, count: 1000), count: 10)
    private var recentSecond = 0
    /// Datagrams this tick slice may still read (``receiveBudgetPerTick``), the slices that ended with the
    /// budget spent and a full batch last read (datagrams were left in the socket), and the socket's drop
    /// counter as the kernel last reported it (its buffer was full).
    private var receiveBudget = receiveBudgetPerTick
    private var receiveTimeBudget = receiveBudgetNanosecondsPerTick
    private var receiveBudgetExhausted = 0
    private var droppedByKernel: UInt32 = 0
    /// Video forwarding time per copy (arrival of the source packet to the return of the send that
    /// carried the copy) in 10 µs buckets; the arrival of the packet being forwarded; the last video.
    private var forwardDelay = [Int](repeating: 0, count: 1000)
    private var forwardingArrival: Int64 = 0
    private var lastVideoAt: Int64 = .min / 2
    private var tickCount = 0
    private var unknownSSRC = 0
    private var malformed = 0
    /// `bridge.timeStretch`: decoded talkers go through their `SitePlayout`, stretched to follow the target.
    private let timeStretch: Bool
    private var nextPublish: Int64 = 0

    init(socket: UDPSocket, mailbox: MediaMailbox, talkers: Int, lostAfterSeconds: Int, consentSeconds: Int, video: VideoPolicy,
         timeStretch: Bool = false, handshakes: WebRTCHandshakes? = nil) {
        self.timeStretch = timeStretch
        self.socket = socket
        self.handshakes = handshakes
        videoPolicy = video
        self.mailbox = mailbox
        self.talkers = talkers
        lostAfterNanoseconds = Int64(lostAfterSeconds) * 1_000_000_000
        consentNanoseconds = Int64(consentSeconds) * 1_000_000_000
        scratch.initialize(repeating: 0)
        receiverLosses.reserveCapacity(2 * Self.maximumSites)
    }

    deinit {
        scratch.deallocate()
        stunResponse.deallocate()
    }

    /// Runs until a `.stop` command; then says goodbye (RTCP BYE) to every site.
    func run() {
        // A media clock should not wait behind ordinary processes, nor behind the bridge's own other threads
        // (ThreadPriority: real-time scheduling if allowed, else a lower nice value if allowed; the other
        // threads run at nice 10 in any case).
        Log.info("media-thread", ["scheduling": ThreadPriority.raiseMedia()])
        var nextTick = monotonicNanoseconds() + Self.tickNanoseconds
        nextPublish = nextTick + 1_000_000_000
        while true {
            let now = monotonicNanoseconds()
            if now >= nextTick {
                let bucket = min(lateness.count - 1, Int((now - nextTick) / 50_000))
                lateness[bucket] += 1
                recentLateness[recentSecond][bucket] += 1
                latenessCount += 1
                receiveBudget = Self.receiveBudgetPerTick
                receiveTimeBudget = Self.receiveBudgetNanosecondsPerTick
                if !applyCommands(now: now) { break }
                tick(now: now)
                nextTick += Self.tickNanoseconds
                if now - nextTick > 10 * Self.tickNanoseconds { nextTick = now + Self.tickNanoseconds }  // fell far behind
                continue
            }
            guard receiveBudget > 0 && receiveTimeBudget > 0 else {
                // This slice has read all it may: the rest waits in the socket (or is dropped) until the tick.
                var pause = timespec(tv_sec: 0, tv_nsec: Int(nextTick - now))
                nanosleep(&pause, nil)
                continue
            }
            do {
                if try socket.waitReadable(nanoseconds: nextTick - now) {
                    try receiveWaiting(until: nextTick)
                    let videoFlows = elapsed(since: lastVideoAt) < 100_000_000
                    if !videoFlows && nextTick - monotonicNanoseconds() > Self.coalesceNanoseconds {
                        var pause = timespec(tv_sec: 0, tv_nsec: Int(Self.coalesceNanoseconds))
                        nanosleep(&pause, nil)
                    }
                }
            } catch {
                Log.error("media-socket", ["error": error])
            }
        }
        for session in sessions.compactMap({ $0 }) { sendGoodbye(session, reason: "bridge shutting down") }
        mailbox.stopped.withLock { $0 = true }
    }

    // MARK: Commands

    /// - Returns: false when told to stop.
    private func applyCommands(now: Int64) -> Bool {
        let commands = mailbox.commands.withLock { queue -> [MediaCommand] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for command in commands {
            switch command {
            case .add(let setup):
                if let old = sessions[setup.site] { remove(old, reason: "replaced by a new join") }
                do {
                    let session = try MediaSession(setup, now: now, address: "-")
                    sessions[setup.site] = session
                    bySSRC[setup.endpointSSRC] = setup.site
                    bySSRC[setup.videoSSRC] = setup.site
                    if let ice = session.ice { byUfrag[ice.localUfrag] = setup.site }
                    session.playout.stretching = timeStretch
                    if routers[setup.meeting] == nil {
                        let router = VideoRouter(capacity: Self.maximumSites, host: setup.host, policy: videoPolicy)
                        if let floor = setup.floor { router.giveFloor(to: floor, now: now, sink: self) }
                        routers[setup.meeting] = router
                    }
                    if mixers[setup.meeting] == nil {
                        var selection = TalkerSelector.Configuration()
                        selection.maximumTalkers = talkers
                        mixers[setup.meeting] = try AudioMixer(capacity: Self.maximumSites, talkers: selection)
                    }
                    // After the router exists: a call the bridge placed enters it at once (MediaEngine+DialOut.swift).
                    addSIP(session)
                    mixers[setup.meeting]!.setCodec(setup.site, setup.transport.voiceFormat)
                    mixers[setup.meeting]!.setPresent(setup.site, true)
                    mailbox.added.withLock { _ = $0.insert(setup.endpointSSRC) }
                } catch {
                    Log.error("media-session", ["site": setup.siteID, "error": error])
                }
            case .remove(let site, let reason):
                if let session = sessions[site] { remove(session, reason: reason) }
            case .keys(let site, let id, let keys):
                if let session = sessions[site], session.setup.endpointSSRC == id { keyed(session, keys, now: now) }
            case .transportFailed(let site, let id, let reason):
                if let session = sessions[site], session.setup.endpointSSRC == id {
                    Log.warning("webrtc-transport-failed", ["site": session.setup.siteID, "reason": reason])
                    remove(session, reason: reason)
                    mailbox.events.withLock { $0.append(.lost(site: site, meeting: session.setup.meeting, ssrc: session.setup.endpointSSRC)) }
                }
            case .floor(let meeting, let site):
                routers[meeting]?.giveFloor(to: site, now: now, sink: self)
            case .pictureFastUpdate(let site, let id):
                pictureFastUpdate(site: site, session: id, now: now)  // MediaEngine+SIP.swift
            case .stop:
                return false
            }
        }
        return true
    }

    private func remove(_ session: MediaSession, reason: String) {
        sendGoodbye(session, reason: reason)
        let setup = session.setup
        sessions[setup.site] = nil
        bySSRC[setup.endpointSSRC] = nil
        bySSRC[setup.videoSSRC] = nil
        if session.ice != nil { forgetWebRTC(session) }
        forgetSIP(session)
        routers[setup.meeting]?.remove(site: setup.site)
        if let mixer = mixers[setup.meeting] {
            mixer.setPresent(setup.site, false)
        }
        if !sessions.contains(where: { $0?.setup.meeting == setup.meeting }) {
            mixers[setup.meeting] = nil
            routers[setup.meeting] = nil
        }
    }

    // MARK: Receiving

    /// Handles the datagrams waiting in the socket, video first: its copies go out at once, while
    /// audio waits in jitter buffers for the next tick anyway. Reads no more than the slice's budgets
    /// (``receiveBudgetPerTick`` datagrams, ``receiveBudgetNanosecondsPerTick``) and stops at `deadline`
    /// (monotonic), so the tick is never held up.
    private func receiveWaiting(until deadline: Int64 = .max) throws(SocketError) {
        var count = 0
        var wanted = 0
        var mark = monotonicNanoseconds()
        repeat {
            wanted = min(receiveBatch.capacity, receiveBudget)
            guard wanted > 0 && receiveTimeBudget > 0 else { return }
            count = try socket.receive(into: receiveBatch, atMost: wanted)
            receiveBudget -= count
            if count > 0, let dropped = receiveBatch.droppedBefore(count - 1) { droppedByKernel = dropped }
            receiveBatchArrivals()
            for i in 0..<count where isVideo(i) { handle(i, arrival: arrivals[i]) }
            for i in 0..<count where !isVideo(i) { handle(i, arrival: arrivals[i]) }
            let now = monotonicNanoseconds()
            receiveTimeBudget -= now - mark
            mark = now
            if count == wanted && (receiveBudget == 0 || receiveTimeBudget <= 0) { receiveBudgetExhausted += 1 }
        } while count == wanted && mark < deadline
    }

    /// Each received datagram's arrival on the monotonic clock: the kernel's stamp when there is one
    /// (so time spent waiting in the socket counts), else now.
    private func receiveBatchArrivals() {
        let now = monotonicNanoseconds()
        let wall = wallClock()
        let wallMinusMonotonic = wall.seconds * 1_000_000_000 + Int64(wall.nanoseconds) - now
        for i in 0..<receiveBatch.count {
            // (A wall clock stepped since is not trusted: the stamp must fall within the last second.)
            arrivals[i] = receiveBatch.arrival(i).map { min(now, max(now - 1_000_000_000, $0 - wallMinusMonotonic)) } ?? now
        }
    }

    /// An RTP packet whose payload type is not audio (read before authentication: this only orders work).
    private func isVideo(_ index: Int) -> Bool {
        let datagram = receiveBatch.datagram(index)
        guard datagram.count >= 12 else { return false }
        let type = datagram[1] & 0x7F
        return type != PayloadTypes.native.audio && !(datagram[1] >= 200 && datagram[1] <= 206)
    }

    private func handle(_ index: Int, arrival: Int64) {
        let datagram = receiveBatch.datagram(index)
        guard !receiveBatch.isTruncated(index) else {
            malformed += 1
            return
        }
        // One port for everything (RFC 7983): STUN and DTLS are WebRTC peers' ICE checks and handshakes.
        switch MediaDatagramKind(classifying: UnsafeRawBufferPointer(datagram)) {
        case .stun: return handleSTUN(index, now: arrival)
        case .dtls: return handleDTLS(index)
        case .rtcp where datagram.count >= 8: return handleRTCP(index, arrival: arrival)
        case .rtp where datagram.count >= 12: break
        default:
            malformed += 1
            return
        }
        let ssrc = UInt32(datagram[8]) << 24 | UInt32(datagram[9]) << 16 | UInt32(datagram[10]) << 8 | UInt32(datagram[11])
        let known = bySSRC[ssrc]
        let from = receiveBatch.address(index)
        // A SIP site behind NAT sends from another address than its SDP named: tried by key (MediaEngine+SIP.swift).
        let trial = known == nil && webRTCSite(at: from) == nil && sipSite(at: from) == nil ? sipSiteByKey(datagram) : nil
        guard let site = known ?? webRTCSite(at: from) ?? sipSite(at: from) ?? trial?.site, let session = sessions[site] else {
            unknownSSRC += 1
            return
        }
        // (A SIP site's video has its own key: chosen by the payload type, which SRTP leaves in the clear.)
        let sipVideo = session.isSIPVideo(payloadType: datagram[1] & 0x7F)
        let length: Int
        if session.isPlainRTP {
            // Nothing to authenticate it: taken only from the address its SDP named (MediaEngine+SIP.swift).
            guard let from, from == session.plainRTPSource else {
                session.statistics.authenticationFailures += 1
                return
            }
            length = datagram.count
        } else if let trial {
            length = trial.length
        } else {
            guard let inbound = sipVideo ? session.videoInbound : session.inbound else { return }  // a WebRTC peer before its keys: nothing is accepted
            do {
                length = try inbound.unprotectRTP(datagram, length: datagram.count)
            } catch {
                if error == .replay || error == .replayTooOld { session.statistics.replays += 1 } else { session.statistics.authenticationFailures += 1 }
                return
            }
        }
        if known == nil, session.learnsSSRCs { bySSRC[ssrc] = site }  // a WebRTC peer's or SIP site's SSRCs
        if session.ice != nil {
            // A WebRTC peer's address is ICE's to move, not SRTP's.
        } else if sipVideo {
            if let from = receiveBatch.address(index), from != session.videoAddress { session.videoAddress = from }
        } else if let from = receiveBatch.address(index), from != session.address {
            // Only a packet that passed SRTP authentication may move a native site's address.
            if session.address != nil {
                session.statistics.relatches += 1
            } else {
                // Video streams start only now that the site can be reached: a stream switched to a source
                // while nothing could be sent would begin mid-keyframe.
                let setup = session.setup
                routers[setup.meeting]?.add(site: setup.site, presenterSSRC: setup.presenterSSRC, speakerSSRC: setup.speakerSSRC)
            }
            session.address = from
            session.statistics.address = from.description
        }
        session.lastPacketAt = arrival
        let plain = UnsafeRawBufferPointer(rebasing: datagram[0..<length])
        guard let header = try? RTPHeader(parsing: plain) else {
            malformed += 1
            return
        }
        let payloadTypes = session.setup.payloadTypes
        if session.voiceDecoder != nil, header.payloadType != payloadTypes.audio, payloadTypes.video[header.payloadType] == nil {
            // A room system's telephone-event (DTMF), comfort noise or anything else not agreed: not audio to decode.
            session.statistics.otherPayloadsDropped += 1
            return
        }
        if session.learnsSSRCs {
            if header.payloadType == payloadTypes.audio { session.audioSSRC = header.ssrc } else { session.videoSSRC = header.ssrc }
        }
        guard header.payloadType == payloadTypes.audio else {
            // Anything but the audio payload type is video (the router drops unknown types and counts them).
            forwardingArrival = arrival
            lastVideoAt = arrival
            if payloadTypes.video[header.payloadType] != nil { session.countVideo(header) }  // not RTX, FEC, ...
            routers[session.setup.meeting]?.receive(plain, header: header, codec: payloadTypes.video[header.payloadType],
                                                    from: site, now: arrival, sink: self)
            flushVideo()
            return
        }
        session.statistics.packetsReceived += 1
        session.statistics.bytesReceived += length
        if session.reception == nil { session.reception = RTPSourceStatistics(firstSequence: header.sequenceNumber) }
        _ = session.reception!.update(sequence: header.sequenceNumber)
        // Interarrival jitter in the stream's own clock units (RFC 3550 A.8), as its receiver reports expect.
        let arrivalTicks = session.rtpClockRate == 8_000 ? arrival / 125_000 : arrival / 20_833
        session.reception!.updateJitter(arrival: UInt32(truncatingIfNeeded: arrivalTicks), rtpTimestamp: header.timestamp)
        var voice: Bool? = nil
        if let id = payloadTypes.audioLevelID, let level = header.audioLevel(id: id, in: plain) {
            session.sendsLevels = true
            session.level = level.level
            session.levelAt = arrival
            voice = level.voiceActivity
        }
        let payload = UnsafeRawBufferPointer(rebasing: plain[header.payloadRange])
        if let reframer = session.reframer, payload.count != VoicePayloadFormat.g722.payloadBytesPerFrame {
            // A room system sending 10, 30, 40, 50 or 60 ms packets despite our ptime 20: cut into 20 ms frames.
            // Any other length is no whole number of 10 ms: not audio the decoder could place in time.
            guard VoicePacketReframer.accepts(payloadBytes: payload.count) else {
                malformed += 1
                return
            }
            let jitter = session.jitter, clockRate = session.rtpClockRate, ssrc = header.ssrc
            _ = try? reframer.reframe(timestamp: header.timestamp, payload: payload) { sequence, timestamp, frame in
                jitter.insert(sequence: sequence, timestamp: JitterBuffer.timestamp48k(timestamp, rtpClockRate: clockRate),
                              ssrc: ssrc, payload: frame, voiceActivity: voice, arrival: arrival)
            }
            return
        }
        // The jitter buffer counts 48 kHz: an 8 kHz stream's timestamps are scaled (modulo 2^32, right across its wrap).
        let timestamp = JitterBuffer.timestamp48k(header.timestamp, rtpClockRate: session.rtpClockRate)
        session.jitter.insert(sequence: header.sequenceNumber, timestamp: timestamp, ssrc: header.ssrc,
                              payload: payload, voiceActivity: voice, arrival: arrival)
    }

    private func handleRTCP(_ index: Int, arrival: Int64) {
        let datagram = receiveBatch.datagram(index)
        let ssrc = UInt32(datagram[4]) << 24 | UInt32(datagram[5]) << 16 | UInt32(datagram[6]) << 8 | UInt32(datagram[7])
        let from = receiveBatch.address(index)
        guard let site = bySSRC[ssrc] ?? webRTCSite(at: from) ?? sipSite(at: from), let session = sessions[site] else {
            unknownSSRC += 1
            return
        }
        let checked = session.isPlainRTP ? session.plainRTCPLength(datagram, from: from).map { (length: $0, video: false) }
            : session.unprotectRTCP(datagram)  // MediaEngine+SIP.swift
        guard let unprotected = checked else {
            session.statistics.authenticationFailures += 1
            return
        }
        let length = unprotected.length
        session.statistics.rtcpPacketsReceived += 1
        if unprotected.video {
            if session.sendsVideoRTCPApart, let from, from != session.videoRTCPAddress { session.videoRTCPAddress = from }
        } else if session.sendsRTCPApart, let from, from != session.rtcpAddress {
            session.rtcpAddress = from  // authentic: this is where the site takes RTCP
            session.statistics.rtcpAddress = from.description
        }
        let router = routers[session.setup.meeting]
        forwardingArrival = arrival
        defer { flushVideo() }  // NACK answers
        guard let reading = try? RTCPFastPath.read(UnsafeRawBufferPointer(rebasing: datagram[0..<length]),
                                                   blockAbout: session.setup.bridgeSSRC,
                                                   feedback: { router?.feedback($0, from: site, now: arrival, sink: self) },
                                                   reportBlock: { self.noteVideoLoss($0, from: session, router: router, at: arrival) })
        else {
            malformed += 1
            return
        }
        session.lastPacketAt = arrival
        if let ntp = reading.senderReportNTP { session.lastSenderReport = (ntp, arrival) }
        if let block = reading.block {
            session.statistics.remoteFractionLost = Double(block.fractionLost) / 256
            session.statistics.remoteJitterMilliseconds = Double(block.jitter) / Double(session.rtpClockRate / 1000)
            if let rtt = CompactNTP.roundTrip(arrival: wallClockNTP().compact, lastSenderReport: block.lastSenderReport,
                                              delaySinceLastSenderReport: block.delaySinceLastSenderReport) {
                session.statistics.roundTripMilliseconds = CompactNTP.seconds(rtt) * 1000
            }
        }
    }

    // MARK: The 20 ms tick

    private func tick(now: Int64) {
        tickCount += 1
        var sent = 0
        var unsent = 0
        var encodes = 0
        for (meeting, mixer) in mixers {
            // 1. What each site plays this tick, and who talks. A decoded site whose playout already
            //    holds a frame (speech was stretched) takes none from its jitter buffer.
            for case let session? in sessions where session.setup.meeting == meeting {
                let waiting = session.decoderCurrent ? session.playout.buffered : 0
                session.playsFromPlayout = waiting >= SitePlayout.frameSamples
                if !session.playsFromPlayout {
                    session.pendingDecision = session.jitter.nextFrame(now: now, downstreamSamples: waiting)
                }
            }
            mixer.selectTalkers { site in
                guard let session = self.sessions[site], session.setup.meeting == meeting,
                      now - session.levelAt < 100_000_000, session.pendingDecisionIsAudio
                else { return nil }
                return Double(session.level)
            }
            if let router = routers[meeting] {
                var loudest: MediaSession? = nil
                for case let session? in sessions where session.setup.meeting == meeting && mixer.isTalker(session.setup.site) {
                    if loudest == nil || session.level < loudest!.level { loudest = session }
                }
                router.tick(loudestTalker: loudest?.setup.site, now: now, sink: self)
            }
            // 2. Decode only what can reach the mix (talkers), and sites whose level must be measured.
            var sharedListeners = false
            for case let session? in sessions where session.setup.meeting == meeting {
                let site = session.setup.site
                let talker = mixer.isTalker(site)
                if talker { session.talkerTicks += 1 } else if session.voiceDecoder == nil { sharedListeners = true }
                guard talker || !session.sendsLevels else {
                    session.decoderCurrent = false
                    continue
                }
                if !session.decoderCurrent {
                    if session.voiceDecoder == nil { try? session.decoder.reset() }
                    session.playout.reset()
                    session.decoderCurrent = true
                }
                let output = talker ? mixer.input(for: site) : scratch
                play(session, into: output, now: now)
                if !session.sendsLevels {
                    session.level = Tone.audioLevel(UnsafeBufferPointer(rebasing: output[0..<960]))
                    session.levelAt = now
                }
            }
            do {
                try mixer.mix(sharedListeners: sharedListeners)
            } catch {
                Log.error("mix", ["meeting": meeting, "error": error])
                continue
            }
            encodes += mixer.encodesLastTick
            serviceArrivalsDuringTick()
            // 3. Each site's own RTP stream, protected with its own keys, sent in chunks; video that
            //    arrives meanwhile is forwarded between chunks rather than after the whole tick.
            for case let session? in sessions where session.setup.meeting == meeting {
                guard let address = session.address, sent < sendBatch.capacity else { continue }
                if prepare(session, payload: mixer.payload(for: session.setup.site), slot: sent, to: address) { sent += 1 }
                if sent - unsent >= Self.audioSendChunk { sendAudio(upTo: sent, from: &unsent) }
            }
        }
        sendAudio(upTo: sent, from: &unsent)
        housekeeping(now: now, encodes: encodes)
    }

    /// Sends the audio packets prepared in `unsent..<sent`, then forwards any video that came meanwhile.
    private func sendAudio(upTo sent: Int, from unsent: inout Int) {
        guard sent > unsent else { return }
        sendBatch.count = sent
        do { _ = try socket.send(sendBatch, from: unsent) } catch { Log.error("media-send", ["error": error]) }
        unsent = sent
        serviceArrivalsDuringTick()
    }

    /// Mid-tick, after a meeting's frames for this tick were taken from its sites' jitter buffers:
    /// packets handled now only go into jitter buffers, as if they had come just after the tick, so
    /// video need not wait for the tick to end.
    private func serviceArrivalsDuringTick() {
        do { try receiveWaiting() } catch { Log.error("media-socket", ["error": error]) }
    }

    // MARK: Video (VideoSink)

    /// Queues a copy of a source's packet for a receiver, with that receiver's SSRC, sequence number
    /// and timestamp, protected with its key. Sent by ``flushVideo()``, in chunks.
    /// - Returns: the protected copy (in its send slot, valid until the next call).
    func forward(_ packet: UnsafeRawBufferPointer, codec: VideoCodec, to receiver: Int, ssrc: UInt32, sequenceNumber: UInt16,
                 timestamp: UInt32) -> UnsafeRawBufferPointer? {
        guard let session = sessions[receiver], let address = session.videoDestination, let source = packet.baseAddress,
              let receiverType = session.setup.payloadTypes.payloadType(for: codec),  // else it cannot decode this source
              session.takesStream(ssrc, presenter: routers[session.setup.meeting]?.presenter)  // one stream for a SIP site
        else { return nil }
        if videoBatch.count >= Self.videoSendChunk { flushVideo() }
        let slot = videoBatch.slot(videoBatch.count)
        guard packet.count >= 12, packet.count + SRTPSession.maxTrailerLength <= slot.count else { return nil }
        slot.baseAddress!.copyMemory(from: source, byteCount: packet.count)
        slot.storeBytes(of: sequenceNumber.bigEndian, toByteOffset: 2, as: UInt16.self)
        slot.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        slot.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        // A packet too old for the outbound replay window (its index could have been used) is not sent.
        slot[1] = slot[1] & 0x80 | receiverType  // the receiver's payload type for the codec
        guard let length = try? session.videoSender?.protectRTP(slot, length: packet.count) else { return nil }
        videoBatch.prepare(videoBatch.count, length: length, to: address)
        videoBatch.count += 1
        return UnsafeRawBufferPointer(rebasing: slot[0..<length])
    }

    /// Queues bytes already protected for a receiver (a NACK's answer), as they are.
    func resend(_ protected: UnsafeRawBufferPointer, to receiver: Int) {
        guard let session = sessions[receiver], let address = session.videoDestination, let source = protected.baseAddress else { return }
        if videoBatch.count >= Self.videoSendChunk { flushVideo() }
        let slot = videoBatch.slot(videoBatch.count)
        guard protected.count <= slot.count else { return }
        slot.baseAddress!.copyMemory(from: source, byteCount: protected.count)
        videoBatch.prepare(videoBatch.count, length: protected.count, to: address)
        videoBatch.count += 1
    }

    /// Sends the site an RTCP keyframe request (PLI, or FIR) about its video.
    func requestKeyframe(from source: Int, fir: Bool) {
        guard let session = sessions[source] else { return }
        var fir = fir
        if let request = session.sipVideoSetup?.keyframeRequest {  // a SIP camera: as its SDP agreed
            guard request != .info else { return askByInfo(session) }  // MediaEngine+SIP.swift
            fir = request == .fir
        }
        guard let address = session.videoRTCPDestination else { return }
        if fir { session.firSequence &+= 1 }
        rtcpBuffer.withUnsafeMutableBytes { raw in
            guard let length = try? RTCPFastPath.writeKeyframeRequest(
                into: raw, senderSSRC: session.setup.bridgeSSRC, mediaSSRC: session.videoSSRC,
                firSequence: fir ? session.firSequence : nil),
                let protected = try? session.videoSender?.protectRTCP(raw, length: length)
            else { return }
            try? socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<protected]), to: address)
        }
    }

    func flushVideo() {
        guard videoBatch.count > 0 else { return }
        do { _ = try socket.send(videoBatch) } catch { Log.error("video-send", ["error": error]) }
        let took = monotonicNanoseconds() - forwardingArrival
        forwardDelay[min(forwardDelay.count - 1, max(0, Int(took / 10_000)))] += videoBatch.count
        videoBatch.count = 0
    }

    private func elapsed(since: Int64) -> Int64 { monotonicNanoseconds() - since }

    /// A decoded site's 20 ms for this tick: the frame taken from its jitter buffer decoded into its
    /// playout, another taken early when the playout is to shed delay and needs more to work on, and
    /// the playout's next 960 samples, stretched so that the site's whole delay (both stages) follows
    /// the jitter buffer's target.
    private func play(_ session: MediaSession, into output: UnsafeMutableBufferPointer<Int16>, now: Int64) {
        let jitter = session.jitter, playout = session.playout
        let decoded = UnsafeMutableBufferPointer(rebasing: scratch[960..<1920])
        let target = Int(jitter.statistics.targetDelayMilliseconds) * 48
        func level() -> Int { Int(jitter.bufferedMilliseconds) * 48 + playout.buffered }
        if !session.playsFromPlayout {
            decode(session, into: decoded)
            playout.append(UnsafeBufferPointer(decoded))
        }
        if playout.needsFrame(target: target), jitter.bufferedMilliseconds >= JitterBuffer.frameMilliseconds {
            session.pendingDecision = jitter.nextFrame(now: now, downstreamSamples: playout.buffered)
            decode(session, into: decoded)
            playout.append(UnsafeBufferPointer(decoded))
        }
        playout.play(into: UnsafeMutableBufferPointer(rebasing: output[0..<960]), level: level(), target: target)
    }

    private func decode(_ session: MediaSession, into output: UnsafeMutableBufferPointer<Int16>) {
        let frame = UnsafeMutableBufferPointer(rebasing: output[0..<960])
        var produced = 0
        if let voice = session.voiceDecoder {
            // G.722/G.711: 160 bytes make 960 samples; no FEC, so a frame the buffer would rebuild is concealed.
            switch session.pendingDecision {
            case .packet(let payload):
                produced = (try? voice.decode48k(payload, into: frame)) ?? 0
            case .fec, .conceal:
                produced = voice.conceal48k(into: frame)
            case .waiting:
                produced = 0
            }
            for i in produced..<960 { frame[i] = 0 }
            return
        }
        switch session.pendingDecision {
        case .packet(let payload):
            produced = (try? session.decoder.decode(payload, into: frame)) ?? 0
        case .fec(let payload):
            produced = (try? session.decoder.decodeFEC(from: payload, into: frame)) ?? 0
        case .conceal:
            produced = (try? session.decoder.conceal(into: frame)) ?? 0
        case .waiting:
            produced = 0
        }
        for i in produced..<960 { frame[i] = 0 }
    }

    private func prepare(_ session: MediaSession, payload: UnsafeRawBufferPointer, slot: Int, to address: SocketAddress) -> Bool {
        let buffer = sendBatch.slot(slot)
        guard let headerLength = try? RTPHeader.write(
            into: buffer, payloadType: session.setup.payloadTypes.sentAudio, sequenceNumber: session.outSequence,
            timestamp: session.outTimestamp, ssrc: session.setup.bridgeSSRC),
            headerLength + payload.count + SRTPSession.maxTrailerLength <= buffer.count
        else { return false }
        session.outSequence &+= 1
        session.outTimestamp &+= session.frameTicks  // 960 for Opus, 160 for G.722/G.711
        if let base = payload.baseAddress, !payload.isEmpty {
            (buffer.baseAddress! + headerLength).copyMemory(from: base, byteCount: payload.count)
        }
        guard let length = session.protectRTP(buffer, length: headerLength + payload.count) else { return false }
        sendBatch.prepare(slot, length: length, to: address)
        session.packetsSent &+= 1
        session.octetsSent &+= UInt32(payload.count)
        session.statistics.packetsSent += 1
        return true
    }

    // MARK: RTCP, timeouts, statistics

    private func housekeeping(now: Int64, encodes: Int) {
        for case let session? in sessions {
            // Lost when nothing comes (checks count), or for a WebRTC peer when its consent checks stop
            // (RFC 7675), whatever else it sends.
            if now - session.lastPacketAt > lostAfterNanoseconds
                || session.ice?.isConsentExpired(now: now, after: consentNanoseconds) == true {
                let setup = session.setup
                Log.warning("site-lost", ["site": setup.siteID, "meeting": setup.meeting,
                                          "silentSeconds": (now - session.lastPacketAt) / 1_000_000_000])
                remove(session, reason: "no media received")
                mailbox.events.withLock { $0.append(.lost(site: setup.site, meeting: setup.meeting, ssrc: setup.endpointSSRC)) }
                continue
            }
            if now >= session.nextReportAt, session.address != nil {
                sendReport(session, now: now, goodbye: false)
                session.nextReportAt = now + 5_000_000_000
            }
        }
        guard now >= nextPublish else { return }
        nextPublish = now + 1_000_000_000
        for case let session? in sessions { sendEstimatedMaximumBitrate(session, now: now) }
        for (meeting, mixer) in mixers {
            mixer.adaptToReportedLoss { site in
                guard let s = self.sessions[site], s.setup.meeting == meeting, s.statistics.roundTripMilliseconds != nil
                        || s.statistics.remoteFractionLost > 0 else { return nil }
                return s.statistics.remoteFractionLost
            }
        }
        var published: [SiteMediaStatistics] = []
        for case let session? in sessions {
            var s = session.statistics
            s.at = now
            let j = session.jitter.statistics
            s.late = j.packetsLate
            s.duplicates = j.packetsDuplicated
            s.reordered = j.packetsReordered
            s.concealed = j.framesConcealed
            s.recoveredByFEC = j.framesRecoveredByFEC
            s.dtxFrames = j.framesDTX
            s.jitterBufferTargetMilliseconds = j.targetDelayMilliseconds
            s.jitterBufferDelayMilliseconds = j.currentDelayMilliseconds
            s.removedSamplesForAcceleration = session.playout.removedSamplesForAcceleration
            s.insertedSamplesForDeceleration = session.playout.insertedSamplesForDeceleration
            s.framesDroppedInPauses = j.framesDroppedForAcceleration
            s.framesInsertedInPauses = j.framesInsertedForDeceleration
            s.packetsLost = session.reception?.cumulativeLost ?? 0
            s.jitterMilliseconds = (session.reception?.jitter ?? 0) / Double(session.rtpClockRate / 1000)
            s.talker = mixers[session.setup.meeting]?.isTalker(session.setup.site) ?? false
            s.talkerSeconds = Double(session.talkerTicks) / 50
            s.level = Int(session.level)
            s.secondsSinceLastPacket = Double(now - session.lastPacketAt) / 1e9
            if let router = routers[session.setup.meeting], let video = router.statistics(of: session.setup.site) {
                let before = session.videoAtLastSnapshot
                s.video = video
                s.videoInKilobitsPerSecond = Double(video.bytesIn - before.bytesIn) * 8 / 1000
                s.videoOutKilobitsPerSecond = Double(video.bytesOut - before.bytesOut) * 8 / 1000
                s.videoFramesPerSecond = Double(video.framesIn - before.framesIn)
                s.videoKeyframesPerSecond = Double(video.keyframesIn - before.keyframesIn)
                s.presenterShown = video.presenterSource.flatMap { sessions[$0]?.setup.siteID }
                s.speakerShown = video.speakerSource.flatMap { sessions[$0]?.setup.siteID }
                session.videoAtLastSnapshot = video
            }
            s.videoReportedLossFraction = nil
            for case let report? in session.videoLossReports where now - report.at <= VideoLossReport.freshNanoseconds {
                s.videoReportedLossFraction = max(s.videoReportedLossFraction ?? 0, report.fraction)
            }
            published.append(s)
        }
        mailbox.statistics.withLock { $0 = published }
        mailbox.structures.publish([
            "media.sessions": sessions.lazy.filter { $0 != nil }.count, "media.bySSRC": bySSRC.count,
            "media.byUfrag": byUfrag.count, "media.byAddress": byAddress.count, "media.bySIPAddress": bySIPAddress.count,
            "media.mixers": mixers.count, "media.routers": routers.count,
            "media.routerSites": routers.values.reduce(0) { $0 + $1.siteCount },
            "media.waitingForJoin": mailbox.added.withLock { $0.count },
        ])
        func percentile(_ q: Double, of histogram: [Int], bucketMicroseconds: Int) -> Int {
            let total = histogram.reduce(0, +)
            guard total > 0 else { return 0 }
            let wanted = Int((Double(total) * q).rounded(.up))
            var sum = 0
            for (i, n) in histogram.enumerated() {
                sum += n
                if sum >= wanted { return (i + 1) * bucketMicroseconds }
            }
            return histogram.count * bucketMicroseconds
        }
        var recent = recentLateness[0]
        for second in recentLateness.dropFirst() { for i in 0..<recent.count { recent[i] += second[i] } }
        recentSecond = (recentSecond + 1) % recentLateness.count
        for i in 0..<recentLateness[recentSecond].count { recentLateness[recentSecond][i] = 0 }
        let ticks = TickStatistics(
            ticks: tickCount, lateP50Microseconds: percentile(0.5, of: lateness, bucketMicroseconds: 50),
            lateP99Microseconds: percentile(0.99, of: lateness, bucketMicroseconds: 50),
            lateP99RecentMicroseconds: percentile(0.99, of: recent, bucketMicroseconds: 50),
            receiveBudgetExhausted: receiveBudgetExhausted, receiveDroppedByKernel: Int(droppedByKernel), encodesLastTick: encodes,
            unknownSSRCPackets: unknownSSRC, malformedPackets: malformed, refusedWebRTCPackets: stunRefused,
            videoPacketsForwarded: forwardDelay.reduce(0, +),
            videoForwardP50Microseconds: percentile(0.5, of: forwardDelay, bucketMicroseconds: 10),
            videoForwardP99Microseconds: percentile(0.99, of: forwardDelay, bucketMicroseconds: 10))
        mailbox.ticks.withLock { $0 = ticks }
    }

    /// Sends an SR (the bridge's stream) with an RR block (the site's stream), SDES, and BYE if leaving.
    /// Written straight into a preallocated buffer: no allocation on the media thread.
    private func sendReport(_ session: MediaSession, now: Int64, goodbye: Bool) {
        guard let address = session.rtcpDestination else { return }
        var block: ReportBlock? = nil
        if var reception = session.reception {
            var lsr: UInt32 = 0
            var dlsr: UInt32 = 0
            if let last = session.lastSenderReport {
                lsr = last.compact
                dlsr = CompactNTP.units(nanoseconds: UInt64(max(0, now - last.at)))
            }
            block = reception.makeReportBlock(ssrc: session.audioSSRC, lastSenderReport: lsr,
                                              delaySinceLastSenderReport: dlsr)
            session.reception = reception
        }
        rtcpBuffer.withUnsafeMutableBytes { raw in
            guard let length = try? RTCPFastPath.writeReport(
                into: raw, ssrc: session.setup.bridgeSSRC, ntp: wallClockNTP(), rtpTimestamp: session.outTimestamp,
                packetCount: session.packetsSent, octetCount: session.octetsSent, block: block, cname: "vcbridge",
                goodbye: goodbye),
                length + SRTPSession.maxTrailerLength <= raw.count,
                let protected = session.protectRTCP(raw, length: length)
            else { return }
            try? socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<protected]), to: address)
        }
    }

    private func sendGoodbye(_ session: MediaSession, reason: String) {
        sendReport(session, now: monotonicNanoseconds(), goodbye: true)
    }
}
