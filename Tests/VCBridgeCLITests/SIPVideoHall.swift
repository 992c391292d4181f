#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Endpoint
import Foundation
import OpusCodec
import RTP
import SIP
import SRTP
import Testing
import Transport
import VideoFormats

/// A room system with a camera, written by hand (baresip-core has no video source): SIP over UDP, audio and video on
/// their own sockets with their own SDES keys (real libsrtp2), real Opus audio, and a real encoded video file sent
/// and the video it receives rebuilt, as a hall's codec would.
final class SIPVideoHall {
    struct Media {
        var opusPayloadType: UInt8 = 109
        var video: VideoCodec? = .h264
        var videoPayloadType: UInt8 = 126
        /// `a=rtcp-fb` nack pli (RTP/SAVPF), or none (RTP/SAVP: keyframes by SIP INFO).
        var feedback = true
        /// The video section's direction as the hall offers it.
        var videoDirection = "sendrecv"
        /// The SDP names another video port than the one the hall sends from (a hall behind NAT).
        var videoBehindNAT = false
    }

    let media: Media
    let sip: UDPSocket
    let audio: UDPSocket
    let video: UDPSocket
    /// The port the SDP names for video when ``Media/videoBehindNAT`` (bound, never read).
    let privateVideo: UDPSocket
    let audioKey: [UInt8]
    let videoKey: [UInt8]
    let audioSSRC = UInt32.random(in: 1...UInt32.max)
    let videoSSRC = UInt32.random(in: 1...UInt32.max)
    private let batch = DatagramBatch(capacity: 64, slotSize: 2048)
    private var outAudio: SRTPSession?
    private var inAudio: SRTPSession?
    private var outVideo: SRTPSession?
    private var inVideo: SRTPSession?
    /// The payload types the hall sends with: its own (the bridge answered its offer), or the bridge's (it answers
    /// the bridge's offer, RFC 3264 §6.1).
    private(set) var sendOpusPayloadType: UInt8
    private(set) var sendVideoPayloadType: UInt8
    private(set) var bridgeAudio: SocketAddress?
    private(set) var bridgeVideo: SocketAddress?
    private let encoder: Opus.Encoder
    private let decoder: Opus.Decoder
    private var audioSequence: UInt16 = 1
    private var audioTimestamp: UInt32 = 0
    private var tonePhase = 0
    var tone: Double = 880
    var sender: VideoFileSender?
    var recorder: VideoStreamRecorder
    /// What it heard (48 kHz mono, decoded from the payload type the bridge sends), and the payload types it saw.
    private(set) var heard: [Int16] = []
    private(set) var audioPayloadTypes: Set<UInt8> = []
    private(set) var videoPayloadTypes: Set<UInt8> = []
    /// The SSRC of the last video packet the bridge sent it (the stream it is shown).
    private(set) var lastVideoSSRC: UInt32?
    /// Keyframe requests the bridge sent: RTCP PLI/FIR about its camera, and SIP INFO picture_fast_update.
    private(set) var pictureLossReceived = 0
    private(set) var firReceived = 0
    private(set) var infoReceived: [SIPMessage] = []
    /// The 200 of the call (incoming) or the INVITE (dial-out), for requests in the dialog.
    var dialogMessage: SIPMessage?

    init(media: Media = Media()) throws {
        self.media = media
        sendOpusPayloadType = media.opusPayloadType
        sendVideoPayloadType = media.videoPayloadType
        let loopback = try SocketAddress(ip: "127.0.0.1", port: 0)
        sip = try UDPSocket(bindTo: loopback)
        audio = try UDPSocket(bindTo: loopback)
        video = try UDPSocket(bindTo: loopback)
        privateVideo = try UDPSocket(bindTo: loopback)
        audioKey = (0..<30).map { _ in UInt8.random(in: 0...255) }
        videoKey = (0..<30).map { _ in UInt8.random(in: 0...255) }
        encoder = try Opus.Encoder()
        decoder = try Opus.Decoder()
        recorder = VideoStreamRecorder(codec: media.video ?? .h264)
    }

    deinit {
        sip.close()
        audio.close()
        video.close()
        privateVideo.close()
    }

    /// The hall's SDP: audio (Opus at its own payload type), and camera video when it has one, each with a key.
    func sdp(rejectingVideo: Bool = false) -> String {
        var text = "v=0\r\no=hall 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "m=audio \(audio.localAddress.port) RTP/SAVP \(media.opusPayloadType)\r\n"
            + "a=rtpmap:\(media.opusPayloadType) opus/48000/2\r\n"
            + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(Data(audioKey).base64EncodedString())\r\na=rtcp-mux\r\na=sendrecv\r\n"
        if let codec = media.video {
            let pt = media.videoPayloadType
            text += "m=video \((media.videoBehindNAT ? privateVideo : video).localAddress.port) RTP/SAVP\(media.feedback ? "F" : "") \(pt)\r\n"
            text += codec == .h264
                ? "a=rtpmap:\(pt) H264/90000\r\na=fmtp:\(pt) profile-level-id=42e01f;packetization-mode=1\r\n"
                : "a=rtpmap:\(pt) VP8/90000\r\n"
            if media.feedback { text += "a=rtcp-fb:\(pt) nack\r\na=rtcp-fb:\(pt) nack pli\r\n" }
            text += "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(Data(videoKey).base64EncodedString())\r\na=rtcp-mux\r\n"
                + "a=\(media.videoDirection)\r\n"
        } else if rejectingVideo {
            text += "m=video 0 RTP/SAVP 97\r\n"  // an answer to an offer with video, from a hall without a camera
        }
        return text
    }

    /// Reads the bridge's SDP (its answer or its offer): where it takes audio and video, and its keys.
    func use(bridgeSDP text: String, answering: Bool = false) throws {
        if answering {
            func payloadType(_ name: String) -> UInt8? {
                text.components(separatedBy: "\r\n").first { $0.hasPrefix("a=rtpmap:") && $0.contains(" \(name)/") }
                    .flatMap { UInt8($0.dropFirst(9).prefix { $0 != " " }) }
            }
            sendOpusPayloadType = try #require(payloadType("opus"), "\(text)")
            if let codec = media.video { sendVideoPayloadType = try #require(payloadType(codec == .h264 ? "H264" : "VP8"), "\(text)") }
        }
        let sections = text.components(separatedBy: "\r\nm=")
        func section(_ kind: String) -> String? { sections.first { $0.hasPrefix(kind + " ") } }
        func port(_ section: String) -> UInt16? { section.split(separator: " ").dropFirst().first.flatMap { UInt16($0) } }
        func key(_ section: String) throws -> [UInt8] {
            let line = try #require(section.components(separatedBy: "\r\n").first { $0.hasPrefix("a=crypto:") }, "\(text)")
            let inline = try #require(line.components(separatedBy: "inline:").last?.split(separator: "|").first)
            return try #require(Data(base64Encoded: String(inline)).map { [UInt8]($0) })
        }
        let audioSection = try #require(section("audio"), "\(text)")
        bridgeAudio = try SocketAddress(ip: "127.0.0.1", port: try #require(port(audioSection)))
        inAudio = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .inbound, keyingMaterial: try key(audioSection))
        outAudio = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .outbound, keyingMaterial: audioKey)
        if let videoSection = section("video"), let videoPort = port(videoSection), videoPort != 0 {
            bridgeVideo = try SocketAddress(ip: "127.0.0.1", port: videoPort)
            inVideo = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .inbound, keyingMaterial: try key(videoSection))
            outVideo = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .outbound, keyingMaterial: videoKey)
        }
    }

    // MARK: Calls

    /// Calls the bridge as `user` with this hall's offer; the final response.
    func call(_ bridge: SocketAddress, user: String, password: String) throws -> SIPMessage {
        let probe = try SIPProbe(bridge: bridge, socket: sip)
        probe.sdp = sdp()
        let answered = try probe.call(user: user, password: password)
        if answered.statusCode == 200 {
            try use(bridgeSDP: String(decoding: answered.body, as: UTF8.self))
            try probe.send(probe.inDialog("ACK", user: user, answered: answered, cseq: 2))
            dialogMessage = answered
            self.probe = probe
        }
        return answered
    }

    private(set) var probe: SIPProbe?

    /// Calls without an offer: the bridge offers in the 200, the hall answers in the ACK with its own numbering.
    func callWithoutOffer(_ bridge: SocketAddress, user: String, password: String) throws -> SIPMessage {
        let probe = try SIPProbe(bridge: bridge, socket: sip)
        let answered = try probe.call(user: user, password: password, offer: false)
        if answered.statusCode == 200 {
            try use(bridgeSDP: String(decoding: answered.body, as: UTF8.self), answering: true)
            let offered = String(decoding: answered.body, as: UTF8.self)
            try probe.send(probe.inDialog("ACK", user: user, answered: answered, cseq: 2,
                                          body: sdp(rejectingVideo: offered.contains("\r\nm=video "))))
            dialogMessage = answered
            self.probe = probe
        }
        return answered
    }

    /// Answers the bridge's INVITE (dial-out) with this hall's SDP; waits for the ACK.
    func answerCall(seconds: Double) throws -> SIPMessage? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard try sip.waitReadable(timeoutMilliseconds: 100) else { continue }
            let count = try sip.receive(into: batch)
            for i in 0..<count {
                guard let from = batch.address(i),
                      let invite = try? SIPMessage.parse(datagram: Array(UnsafeRawBufferPointer(batch.datagram(i)))),
                      invite.method == "INVITE", var ok = SIPMessage.response(to: invite, status: 200, toTag: "hall1")
                else { continue }
                try use(bridgeSDP: String(decoding: invite.body, as: UTF8.self), answering: true)
                ok.add("Contact", "<sip:hall@127.0.0.1:\(sip.localAddress.port)>")
                ok.add("Content-Type", "application/sdp")
                ok.body = Array(sdp(rejectingVideo: invite.body.count > 0
                                    && String(decoding: invite.body, as: UTF8.self).contains("\r\nm=video ")).utf8)
                try sip.send(ok.serialized(), to: from)
                dialogMessage = invite
                return invite
            }
        }
        return nil
    }

    // MARK: Media

    /// Runs the hall for `seconds`: 20 ms of Opus tone a packet, its camera's frames at the file's rate, and everything
    /// that arrives read (audio decoded, video rebuilt, RTCP and SIP INFO counted). `each` runs about every 100 ms.
    func run(seconds: Double, each: () throws -> Void = {}) throws {
        let start = Date()
        var nextAudio = start
        var nextVideo = start
        var nextEach = start
        while Date().timeIntervalSince(start) < seconds {
            let now = Date()
            if now >= nextAudio {
                try sendAudio()
                nextAudio = nextAudio.addingTimeInterval(0.02)
            }
            if now >= nextVideo, sender != nil {
                try sendVideoFrame()
                nextVideo = nextVideo.addingTimeInterval(0.04)
            }
            if now >= nextEach {
                try each()
                nextEach = now.addingTimeInterval(0.1)
            }
            try receive(on: audio)
            try receive(on: video)
            try receiveSIP()
            let wait = min(nextAudio, sender == nil ? nextAudio : nextVideo).timeIntervalSinceNow
            if wait > 0 { Thread.sleep(forTimeInterval: min(wait, 0.005)) }
        }
        recorder.finish(now: Int64(Date().timeIntervalSince1970 * 1e9))
    }

    private func protect(_ plain: [UInt8], with session: SRTPSession?, rtcp: Bool = false) throws -> [UInt8] {
        let session = try #require(session)
        var buffer = plain + [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
        let length = try buffer.withUnsafeMutableBytes {
            rtcp ? try session.protectRTCP($0, length: plain.count) : try session.protectRTP($0, length: plain.count)
        }
        return Array(buffer[0..<length])
    }

    private func sendAudio() throws {
        guard let bridgeAudio else { return }
        let pcm = Tone.samples(frequency: tone, start: tonePhase, count: 960)
        tonePhase += 960
        let payload = try encoder.encode(pcm)
        let plain = try RTPPacket(payloadType: sendOpusPayloadType, sequenceNumber: audioSequence, timestamp: audioTimestamp,
                                  ssrc: audioSSRC, payload: payload).serialized()
        audioSequence &+= 1
        audioTimestamp &+= 960
        try audio.send(try protect(plain, with: outAudio), to: bridgeAudio)
    }

    /// The hall's camera: `file` sent at its frame rate, looped, with the payload type the hall sends with.
    func startCamera(_ file: VideoFile) {
        sender = VideoFileSender(file: file, payloadType: sendVideoPayloadType, ssrc: videoSSRC, loop: true)
    }

    private func sendVideoFrame() throws {
        guard let bridgeVideo, var sender, let packets = sender.nextFrame() else { return }
        self.sender = sender
        for plain in packets { try video.send(try protect(plain, with: outVideo), to: bridgeVideo) }
    }

    /// An RTCP compound about the stream the bridge sends this hall (`media` SSRC): RR, then `packet`.
    func sendVideoFeedback(_ packet: RTCPPacket) throws {
        guard let bridgeVideo else { return }
        let compound = try RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: videoSSRC)), packet])
        try video.send(try protect(compound, with: outVideo, rtcp: true), to: bridgeVideo)
    }

    private func receive(on socket: UDPSocket) throws {
        while try socket.waitReadable(timeoutMilliseconds: 0) {
            let count = try socket.receive(into: batch)
            for i in 0..<count {
                var bytes = Array(UnsafeRawBufferPointer(batch.datagram(i)))
                guard bytes.count >= 12 else { continue }
                let isRTCP = bytes[1] >= 200 && bytes[1] <= 206
                let session = socket === audio ? inAudio : inVideo
                guard let session else { continue }
                let n = bytes.count
                guard let length = try? bytes.withUnsafeMutableBytes({
                    isRTCP ? try session.unprotectRTCP($0, length: n) : try session.unprotectRTP($0, length: n)
                }) else { continue }
                let plain = Array(bytes[0..<length])
                if isRTCP {
                    for packet in (try? RTCPCompound.parse(plain)) ?? [] {
                        switch packet {
                        case .pictureLossIndication(let pli) where pli.mediaSSRC == videoSSRC:
                            pictureLossReceived += 1
                            sender?.keyframeRequested()
                        case .fullIntraRequest(let fir) where fir.entries.contains { $0.ssrc == videoSSRC }:
                            firReceived += 1
                            sender?.keyframeRequested()
                        default: break
                        }
                    }
                    continue
                }
                let header = try plain.withUnsafeBytes { try RTPHeader(parsing: $0) }
                let payload = Array(plain[header.payloadRange])
                if socket === audio {
                    audioPayloadTypes.insert(header.payloadType)
                    guard header.payloadType == media.opusPayloadType else { continue }
                    var pcm = [Int16](repeating: 0, count: 5760)
                    let samples = try payload.withUnsafeBytes { raw in
                        try pcm.withUnsafeMutableBufferPointer { try decoder.decode(raw, into: $0) }
                    }
                    heard += pcm[0..<samples]
                } else {
                    videoPayloadTypes.insert(header.payloadType)
                    lastVideoSSRC = header.ssrc
                    guard header.payloadType == media.videoPayloadType else { continue }
                    let now = Int64(Date().timeIntervalSince1970 * 1e9)
                    _ = recorder.insert(header, payload: payload, arrival: now)
                    // A frame it cannot show: with feedback agreed it asks by RTCP PLI, as a room system would.
                    if recorder.advance(now: now), media.feedback {
                        try sendVideoFeedback(.pictureLossIndication(PictureLossIndication(senderSSRC: videoSSRC, mediaSSRC: header.ssrc)))
                    }
                }
            }
        }
    }

    private func receiveSIP() throws {
        while try sip.waitReadable(timeoutMilliseconds: 0) {
            let count = try sip.receive(into: batch)
            for i in 0..<count {
                guard let from = batch.address(i),
                      let message = try? SIPMessage.parse(datagram: Array(UnsafeRawBufferPointer(batch.datagram(i)))),
                      message.isRequest else { continue }
                if message.method == "INFO" { infoReceived.append(message) }
                if message.method != "ACK", let ok = SIPMessage.response(to: message, status: 200) {
                    try sip.send(ok.serialized(), to: from)
                }
            }
        }
    }

    /// An INFO in the call's dialog (the hall called in) carrying `body` as `application/media_control+xml`.
    func sendInfo(body: String, user: String) throws {
        let probe = try #require(probe)
        let answered = try #require(dialogMessage)
        var request = try probe.inDialog("INFO", user: user, answered: answered, body: body)
        let text = String(decoding: request, as: UTF8.self).replacingOccurrences(
            of: "Content-Type: application/sdp", with: "Content-Type: application/media_control+xml")
        request = Array(text.utf8)
        try probe.send(request)
    }
}

/// RFC 5168's request for a full picture.
let pictureFastUpdateBody = """
<?xml version="1.0" encoding="utf-8" ?>\r
<media_control>\r
  <vc_primitive>\r
    <to_encoder>\r
      <picture_fast_update/>\r
    </to_encoder>\r
  </vc_primitive>\r
</media_control>\r

"""
