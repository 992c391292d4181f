#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Foundation
import RTP
import SIP
import SRTP
import Testing
import Transport
import VideoFormats
@testable import VCBridgeCLI

/// The NAL units of each frame (what must arrive byte-identical, whatever start codes were written).
private func units(_ frame: VideoFile.Frame) -> [[UInt8]] { H264.nalUnits(annexB: frame.data).map(Array.init) }

/// Checks that `frames` (received) hold at least `minimum` frames of `original`, and that from the first of them on they
/// decode with ffmpeg without an error. Returns how many of `original`'s frames arrived.
private func checkArrived(_ frames: [VideoFile.Frame], of original: VideoFile, minimum: Int, codec: VideoCodec,
                          path: String, _ what: String) throws -> Int {
    let known = Set(original.frames.map { codec == .h264 ? units($0) : [$0.data] })
    let key = { (frame: VideoFile.Frame) in codec == .h264 ? units(frame) : [frame.data] }
    guard let first = frames.firstIndex(where: { known.contains(key($0)) }) else {
        Issue.record("\(what): none of \(frames.count) frames came from the camera")
        return 0
    }
    let theirs = frames[first...].prefix { known.contains(key($0)) }
    #expect(theirs.first?.isKeyframe == true, "\(what): the stream starts on a frame that is not a keyframe")
    #expect(theirs.count >= minimum, "\(what): \(theirs.count) of the camera's frames arrived")
    let file = VideoFile(codec: codec, width: original.width, height: original.height, rate: 25, frames: Array(theirs))
    try Data(file.serialized()).write(to: URL(fileURLWithPath: path))
    let decoded = try decodedFrameCount(path)
    #expect(decoded.frames == theirs.count, "\(what): ffmpeg decoded \(decoded.frames) of \(theirs.count)")
    #expect(decoded.errors.isEmpty, "\(what): \(decoded.errors)")
    return theirs.count
}

@Suite("SIP: room systems' camera video", .serialized)
struct SIPVideoTests {
    /// A room system's H.264 camera given the floor reaches a native receiver byte for byte; before, the room system
    /// receives the host's camera in its own payload type, SRTP-keyed for its video m-line, and ffmpeg decodes both.
    @Test func aRoomSystemsH264CameraReachesANativeSiteAndTheHostsCameraReachesIt() throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let directory = bridge.dataDirectory
        let hostFile = try encodeTestVideo(.h264, pattern: "testsrc", seconds: 2, into: directory)
        let hostVideo = try readVideo(hostFile, codec: .h264)
        let hallVideo = try readVideo(try encodeTestVideo(.h264, pattern: "smptebars", seconds: 2, into: directory), codec: .h264)
        let host = try bridge.endpoint("song-lo", ["--silent", "--video", hostFile, "--video-loop", "--duration", "16s"])
        let watcher = try bridge.endpoint("tam-son", ["--silent", "--duration", "16s", "--record-video", directory + "/tam-son",
                                                      "--json"])
        let hall = try SIPVideoHall()
        let answered = try hall.call(sip, user: "lang-cong", password: password)
        #expect(answered.statusCode == 200, "\(answered.startLine)\n\(bridge.logText)")
        let answer = String(decoding: answered.body, as: UTF8.self)
        #expect(!answer.contains("m=video 0 "), "the camera is refused: \(answer)")
        #expect(answer.contains("a=rtpmap:126 H264/90000") && answer.contains("packetization-mode=1"), "\(answer)")
        hall.tone = 880
        hall.startCamera(hallVideo)
        try hall.run(seconds: 5)
        let given = try bridge.cli(["meeting", "floor", "lang-cong"])
        #expect(given.status == 0, "\(given.stderr)")
        try hall.run(seconds: 7)
        // The room system received the host's camera in its own payload type, and it decodes.
        #expect(hall.videoPayloadTypes == [126], "\(hall.videoPayloadTypes)")
        _ = try checkArrived(hall.recorder.frames, of: hostVideo, minimum: 60, codec: .h264, path: directory + "/hall-got.h264",
                             "the hall's received video")
        // The native watcher's presenter stream switched to the room system's camera: identical frames that decode.
        let status = try videoStatus(bridge, "tam-son")
        #expect(status["presenter"] as? String == "lang-cong", "\(status)")
        let watched = bridge.finish(watcher)
        #expect(watched.status == 0, "\(watched.output)")
        _ = bridge.finish(host)
        let recorded = try readVideo(directory + "/tam-son-presenter.h264", codec: .h264)
        _ = try checkArrived(recorded.frames, of: hallVideo, minimum: 75, codec: .h264, path: directory + "/tam-son-hall.h264",
                             "tam-son's presenter stream")
        let lang = try #require(try bridge.siteStatus("lang-cong"))
        #expect(lang["transport"] as? String == "sip")
        #expect(bridge.stop() == 0)
    }

    /// A room system whose camera sends from another address than its SDP named (behind NAT) is found by its video
    /// key: its camera reaches the meeting, and the host's reaches it where it sends from.
    @Test func aRoomSystemsCameraFromBehindNATIsFoundByItsKey() throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let hostFile = try encodeTestVideo(.h264, pattern: "testsrc", seconds: 2, into: bridge.dataDirectory)
        let host = try bridge.endpoint("song-lo", ["--silent", "--video", hostFile, "--video-loop", "--duration", "9s"])
        let hall = try SIPVideoHall(media: .init(videoBehindNAT: true))
        let answered = try hall.call(sip, user: "lang-cong", password: password)
        #expect(answered.statusCode == 200, "\(answered.startLine)")
        hall.startCamera(try readVideo(try encodeTestVideo(.h264, pattern: "smptebars", seconds: 2, into: bridge.dataDirectory),
                                       codec: .h264))
        try hall.run(seconds: 6)
        let hallStatus = try videoStatus(bridge, "lang-cong")
        #expect(hallStatus["framesIn"] as? Int ?? 0 > 50, "\(hallStatus)")
        #expect(hall.videoPayloadTypes == [126])
        #expect(hall.recorder.frames.count > 50, "\(hall.recorder.frames.count) frames")
        _ = bridge.finish(host)
        #expect(bridge.stop() == 0)
    }

    /// A room system whose video section is `sendonly` (its camera on, no picture wanted) is sent no video; its camera
    /// still reaches the meeting.
    @Test func aRoomSystemThatOnlySendsVideoIsSentNone() throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let hostFile = try encodeTestVideo(.h264, pattern: "testsrc", seconds: 2, into: bridge.dataDirectory)
        let host = try bridge.endpoint("song-lo", ["--silent", "--video", hostFile, "--video-loop", "--duration", "9s"])
        let hall = try SIPVideoHall(media: .init(videoDirection: "sendonly"))
        let answered = try hall.call(sip, user: "lang-cong", password: password)
        #expect(answered.statusCode == 200, "\(answered.startLine)")
        #expect(String(decoding: answered.body, as: UTF8.self).contains("a=recvonly"))
        hall.startCamera(try readVideo(try encodeTestVideo(.h264, pattern: "smptebars", seconds: 2, into: bridge.dataDirectory),
                                       codec: .h264))
        try hall.run(seconds: 6)
        #expect(hall.videoPayloadTypes.isEmpty, "the bridge sent video to a sendonly section: \(hall.videoPayloadTypes)")
        let hallStatus = try videoStatus(bridge, "lang-cong")
        #expect(hallStatus["framesIn"] as? Int ?? 0 > 50, "\(hallStatus)")
        #expect((try videoStatus(bridge, "song-lo")["framesIn"] as? Int ?? 0) > 50)
        _ = bridge.finish(host)
        #expect(bridge.stop() == 0)
    }

    /// A native receiver's PLI reaches a room system's camera: as RTCP PLI when it agreed AVPF feedback (`a=rtcp-fb`),
    /// as SIP INFO picture_fast_update (RFC 5168) when it did not.
    @Test(arguments: [true, false])
    func aReceiversPictureLossReachesTheRoomSystemsCamera(feedback: Bool) throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let hallVideo = try readVideo(try encodeTestVideo(.h264, pattern: "smptebars", seconds: 2, into: bridge.dataDirectory),
                                      codec: .h264)
        let hall = try SIPVideoHall(media: .init(feedback: feedback))
        let answered = try hall.call(sip, user: "lang-cong", password: password)
        #expect(answered.statusCode == 200, "\(answered.startLine)")
        let given = try bridge.cli(["meeting", "floor", "lang-cong"])
        #expect(given.status == 0, "\(given.stderr)")
        hall.startCamera(hallVideo)
        // A native receiver (tam-son) whose presenter stream shows the room system; it sends PLIs about it.
        let site = try RawSite(try bridge.key("tam-son"), bridge: bridge)
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        defer { socket.close() }
        var plisSent = 0
        var ticks = 0
        try hall.run(seconds: 9) {
            for _ in 0..<5 { try socket.send(try site.nextPacket(), to: site.mediaAddress) }
            ticks += 1
            // From 3 s on, one PLI every 1.5 s (the bridge asks a source at most once a second).
            if ticks >= 30, ticks % 15 == 0 {
                let pli = RTCPPacket.pictureLossIndication(PictureLossIndication(senderSSRC: site.ssrc, mediaSSRC: site.presenterSSRC))
                try socket.send(try site.feedback(pli), to: site.mediaAddress)
                plisSent += 1
            }
            while try socket.waitReadable(timeoutMilliseconds: 0) { _ = try socket.receive(into: DatagramBatch(capacity: 64, slotSize: 1600)) }
        }
        #expect(plisSent >= 3)
        let status = try videoStatus(bridge, "tam-son")
        #expect(status["presenter"] as? String == "lang-cong", "\(status)")
        #expect((status["keyframeRequestsReceived"] as? Int ?? 0) >= plisSent, "\(status)")
        if feedback {
            #expect(hall.pictureLossReceived >= plisSent, "PLIs: \(hall.pictureLossReceived) for \(plisSent) sent")
            #expect(hall.infoReceived.isEmpty)
        } else {
            #expect(hall.pictureLossReceived == 0 && hall.firReceived == 0)
            #expect(hall.infoReceived.count >= plisSent, "INFOs: \(hall.infoReceived.count) for \(plisSent) PLIs\n\(bridge.logText)")
            for info in hall.infoReceived {
                #expect(info.contentType == "application/media_control+xml")
                #expect(String(decoding: info.body, as: UTF8.self).contains("<picture_fast_update"))
            }
        }
        #expect(bridge.stop() == 0)
    }

    /// The room system's keyframe request (SIP INFO picture_fast_update, or RTCP PLI when it agreed feedback) makes
    /// the camera it is shown receive a PLI; a malformed INFO body is refused with a 400 naming what is wrong, and the
    /// call goes on.
    @Test(arguments: [false, true])
    func aRoomSystemsKeyframeRequestMakesTheSourceCameraReceiveAPLI(byRTCP: Bool) throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let hall = try SIPVideoHall(media: .init(video: .vp8, videoPayloadType: 100, feedback: byRTCP))
        let answered = try hall.call(sip, user: "lang-cong", password: password)
        #expect(answered.statusCode == 200, "\(answered.startLine)")
        // The host's camera (VP8), a native site written out here so its PLIs can be counted.
        let host = try RawSite(try bridge.key("song-lo"), bridge: bridge)
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        defer { socket.close() }
        let batch = DatagramBatch(capacity: 64, slotSize: 1600)
        var plis: [Double] = []
        let start = Date()
        var frame = 0
        var infoAt: Double?
        var responses: [SIPMessage] = []
        try hall.run(seconds: 9) {
            for _ in 0..<5 { try socket.send(try host.nextPacket(), to: host.mediaAddress) }
            for _ in 0..<2 {
                for packet in try host.nextVideoFrame(key: frame % 25 == 0) { try socket.send(packet, to: host.mediaAddress) }
                frame += 1
            }
            while try socket.waitReadable(timeoutMilliseconds: 0) {
                let count = try socket.receive(into: batch)
                for i in 0..<count where batch.datagram(i).count > 8 && batch.datagram(i)[1] >= 200 && batch.datagram(i)[1] <= 206 {
                    var bytes = Array(batch.datagram(i))
                    let n = bytes.count
                    guard let length = try? bytes.withUnsafeMutableBytes({ try host.inbound.unprotectRTCP($0, length: n) }) else { continue }
                    for case .pictureLossIndication(let pli) in (try? RTCPCompound.parse(Array(bytes[0..<length]))) ?? []
                    where pli.mediaSSRC == host.videoSSRC {
                        plis.append(Date().timeIntervalSince(start))
                    }
                }
            }
            // Once the hall shows the host's camera and 2 s have passed since the bridge last asked for a keyframe.
            let elapsed = Date().timeIntervalSince(start)
            if infoAt == nil, hall.recorder.frames.count > 10, elapsed - (plis.last ?? 0) > 2, let shown = hall.lastVideoSSRC {
                if byRTCP {
                    try hall.sendVideoFeedback(.pictureLossIndication(PictureLossIndication(senderSSRC: hall.videoSSRC,
                                                                                            mediaSSRC: shown)))
                } else {
                    try hall.sendInfo(body: pictureFastUpdateBody, user: "lang-cong")
                }
                infoAt = elapsed
            }
        }
        let sentAt = try #require(infoAt, "the hall never showed the host's camera (\(hall.recorder.frames.count) frames)")
        #expect(plis.contains { $0 > sentAt }, "PLIs at \(plis), the hall's request at \(sentAt)")
        #expect(hall.videoPayloadTypes == [100])
        if byRTCP {
            #expect(bridge.stop() == 0)
            return
        }
        // A malformed body: 400 naming the problem; the call goes on.
        let probe = try #require(hall.probe)
        for body in ["<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive>",
                     "<media_control><vc_primitive><to_encoder><picture_fast_update/><evil/></to_encoder></vc_primitive></media_control>",
                     String(repeating: "<a>", count: 3000)] {
            try hall.sendInfo(body: body, user: "lang-cong")
            let response = try #require(try probe.finalResponse(seconds: 3), "no answer to a malformed INFO")
            responses.append(response)
            #expect(response.statusCode == 400, "\(response.startLine)")
            #expect(response.reasonPhrase?.contains("media_control") == true, "\(response.startLine)")
        }
        // Another body type is 415 naming the one taken; an empty INFO (a keep-alive) is 200.
        try probe.send(probe.inDialog("INFO", user: "lang-cong", answered: answered, body: "v=0\r\n"))
        let other = try #require(try probe.finalResponse(seconds: 3), "no answer to an INFO with SDP")
        #expect(other.statusCode == 415 && other.value("Accept") == "application/media_control+xml", "\(other)")
        try probe.send(probe.inDialog("INFO", user: "lang-cong", answered: answered))
        #expect(try probe.finalResponse(seconds: 3)?.statusCode == 200)
        #expect(try bridge.siteStatus("lang-cong") != nil)
        #expect(bridge.stop() == 0)
    }
}

@Suite("SIP: payload types per direction", .serialized)
struct SIPPayloadTypeTests {
    /// Tones both ways with a hall numbering Opus 109: the bridge sends with the hall's number.
    private func expectTonesBothWays(_ hall: SIPVideoHall, heard: String, bridge: RunningBridge, host: (Process, Pipe)) throws {
        #expect(hall.audioPayloadTypes == [109], "the bridge sent \(hall.audioPayloadTypes)")
        #expect(hall.heard.count > 48_000 * 4, "\(hall.heard.count) samples\n\(bridge.logText)")
        if hall.heard.count > 48_000 * 4 {
            #expect(Tone.dominant(among: [440, 880], in: hall.heard[(48_000 * 2)..<(48_000 * 4)])?.frequency == 440)
        }
        let result = bridge.finish(host)
        #expect(result.status == 0, "\(result.output)")
        let hostHeard = try WAVFile.read(heard)
        #expect(hostHeard.count > 48_000 * 6)
        if hostHeard.count > 48_000 * 6 {
            #expect(Tone.dominant(among: [440, 880], in: hostHeard[(48_000 * 3)..<(48_000 * 6)])?.frequency == 880)
        }
    }

    @Test func anIncomingOfferWithOpusAt109() throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "9s", "--record", heard])
        let hall = try SIPVideoHall(media: .init(video: nil))
        let answered = try hall.call(sip, user: "lang-cong", password: password)
        #expect(answered.statusCode == 200, "\(answered.startLine)")
        try hall.run(seconds: 7)
        try expectTonesBothWays(hall, heard: heard, bridge: bridge, host: host)
        #expect(bridge.stop() == 0)
    }

    /// An INVITE without SDP: the bridge offers Opus as 96, the hall answers in the ACK with 109.
    @Test func anAnswerInTheACKWithOpusAt109() throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "9s", "--record", heard])
        let hall = try SIPVideoHall(media: .init(video: nil))
        let answered = try hall.callWithoutOffer(sip, user: "lang-cong", password: password)
        #expect(answered.statusCode == 200, "\(answered.startLine)")
        #expect(hall.sendOpusPayloadType == 96)
        try hall.run(seconds: 7)
        #expect(!bridge.logText.contains("event=sip-refused"), "\(bridge.logText)")
        try expectTonesBothWays(hall, heard: heard, bridge: bridge, host: host)
        #expect(bridge.stop() == 0)
    }

    /// The bridge dials a hall that answers Opus as 109 and H.264 as 126: the call works, tones both ways, and the
    /// hall receives the host's camera in its payload type.
    @Test func aDialOutAnswerWithOpusAt109AndH264At126() throws {
        let hall = try SIPVideoHall(media: .init(opusPayloadType: 109, video: .h264, videoPayloadType: 126, feedback: false))
        let bridge = try RunningBridge(sip: dialOutSection(port: hall.sip.localAddress.port))
        let directory = bridge.dataDirectory
        let hostFile = try encodeTestVideo(.h264, pattern: "testsrc", seconds: 2, into: directory)
        let heard = directory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--video", hostFile, "--video-loop", "--duration", "12s",
                                                   "--record", heard])
        let invite = try #require(try hall.answerCall(seconds: 15), "the bridge never called\n\(bridge.logText)")
        let offer = String(decoding: invite.body, as: UTF8.self)
        #expect(offer.contains("m=video ") && !offer.contains("m=video 0 "), "the bridge offers no camera video: \(offer)")
        #expect(hall.sendOpusPayloadType == 96)
        try hall.run(seconds: 8)
        #expect(!bridge.logText.contains("event=sip-refused"), "\(bridge.logText)")
        try expectTonesBothWays(hall, heard: heard, bridge: bridge, host: host)
        #expect(hall.videoPayloadTypes == [126], "\(hall.videoPayloadTypes)")
        _ = try checkArrived(hall.recorder.frames, of: try readVideo(hostFile, codec: .h264), minimum: 50, codec: .h264,
                             path: directory + "/hall-got.h264", "the dialled hall's received video")
        #expect(bridge.stop() == 0)
    }
}
