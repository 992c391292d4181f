import Foundation
import Testing
@testable import SDP

private func answer(_ text: String, address: String = "203.0.113.7") throws -> WebRTCAnswer {
    try WebRTCAnswerer.answer(to: SessionDescription(parsing: text), bridge: Bridge.parameters(address: address))
}

private func lines(_ text: String) -> [String] {
    text.split(separator: "\r\n", omittingEmptySubsequences: false).map(String.init)
}

@Suite("WebRTC answers to real offers")
struct AnswerTests {
    static let fingerprintLine = "a=fingerprint:sha-256 00:07:0E:15:1C:23:2A:31:38:3F:46:4D:54:5B:62:69:70:77:7E:85:8C:93:9A:A1:A8:AF:B6:BD:C4:CB:D2:D9"

    static func transport(mid: String) -> [String] {
        ["c=IN IP4 0.0.0.0", "a=ice-ufrag:vcbR", "a=ice-pwd:Vq3s9LkP2wXz7TmN4bYc6Rd+", fingerprintLine,
         "a=setup:passive", "a=mid:\(mid)"]
    }

    static let candidate = ["a=candidate:1 1 UDP 2130706431 203.0.113.7 40000 typ host", "a=end-of-candidates"]

    static func videoCodecs(vp8: Int, h264: Int, fir: Bool = true) -> [String] {
        var out: [String] = []
        for pt in [vp8, h264] {
            out.append(pt == vp8 ? "a=rtpmap:\(pt) VP8/90000" : "a=rtpmap:\(pt) H264/90000")
            out.append("a=rtcp-fb:\(pt) goog-remb")
            if fir { out.append("a=rtcp-fb:\(pt) ccm fir") }
            out += ["a=rtcp-fb:\(pt) nack", "a=rtcp-fb:\(pt) nack pli"]
        }
        out.append("a=fmtp:\(h264) level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f")
        return out
    }

    @Test("Chromium 120: the whole answer, line by line")
    func chromium120Answer() throws {
        let result = try answer(Fixture.chromium120.text)
        let expected: [String] = ["v=0", "o=- 8000000001 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1 2",
                                  "a=ice-lite",
                                  "m=audio 9 UDP/TLS/RTP/SAVPF 111"]
            + Self.transport(mid: "0")
            + ["a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=sendrecv", "a=msid:vcbridge-mix mix",
               "a=rtcp-mux", "a=rtpmap:111 opus/48000/2", "a=fmtp:111 minptime=10;useinbandfec=1",
               "a=ssrc:286326785 cname:vcbridge", "a=ssrc:286326785 msid:vcbridge-mix mix"]
            + Self.candidate
            + ["m=video 9 UDP/TLS/RTP/SAVPF 96 106"] + Self.transport(mid: "1")
            + ["a=sendrecv", "a=msid:vcbridge-video presenter", "a=rtcp-mux", "a=rtcp-rsize"]
            + Self.videoCodecs(vp8: 96, h264: 106)
            + ["a=ssrc:286326786 cname:vcbridge", "a=ssrc:286326786 msid:vcbridge-video presenter"]
            + Self.candidate
            + ["m=video 9 UDP/TLS/RTP/SAVPF 96 106"] + Self.transport(mid: "2")
            + ["a=sendonly", "a=msid:vcbridge-video speaker", "a=rtcp-mux", "a=rtcp-rsize"]
            + Self.videoCodecs(vp8: 96, h264: 106)
            + ["a=ssrc:286326787 cname:vcbridge", "a=ssrc:286326787 msid:vcbridge-video speaker"]
            + Self.candidate + [""]
        let got = lines(result.text)
        #expect(got.count == expected.count)
        for (index, (line, want)) in zip(got, expected).enumerated() {
            #expect(line == want, "line \(index + 1)")
        }
    }

    @Test("aiortc: the whole answer, line by line (no minptime, no fir, no rtcp-rsize offered)")
    func aiortcAnswer() throws {
        let result = try answer(Fixture.aiortc.text)
        let expected: [String] = ["v=0", "o=- 8000000001 1 IN IP4 0.0.0.0", "s=-", "t=0 0", "a=group:BUNDLE 0 1 2",
                                  "a=ice-lite",
                                  "m=audio 9 UDP/TLS/RTP/SAVPF 96"]
            + Self.transport(mid: "0")
            + ["a=extmap:2 urn:ietf:params:rtp-hdrext:ssrc-audio-level", "a=sendrecv", "a=msid:vcbridge-mix mix",
               "a=rtcp-mux", "a=rtpmap:96 opus/48000/2", "a=fmtp:96 useinbandfec=1",
               "a=ssrc:286326785 cname:vcbridge", "a=ssrc:286326785 msid:vcbridge-mix mix"]
            + Self.candidate
            + ["m=video 9 UDP/TLS/RTP/SAVPF 97 101"] + Self.transport(mid: "1")
            + ["a=sendrecv", "a=msid:vcbridge-video presenter", "a=rtcp-mux"]
            + Self.videoCodecs(vp8: 97, h264: 101, fir: false)
            + ["a=ssrc:286326786 cname:vcbridge", "a=ssrc:286326786 msid:vcbridge-video presenter"]
            + Self.candidate
            + ["m=video 9 UDP/TLS/RTP/SAVPF 97 101"] + Self.transport(mid: "2")
            + ["a=sendonly", "a=msid:vcbridge-video speaker", "a=rtcp-mux"]
            + Self.videoCodecs(vp8: 97, h264: 101, fir: false)
            + ["a=ssrc:286326787 cname:vcbridge", "a=ssrc:286326787 msid:vcbridge-video speaker"]
            + Self.candidate + [""]
        let got = lines(result.text)
        #expect(got.count == expected.count)
        for (index, (line, want)) in zip(got, expected).enumerated() {
            #expect(line == want, "line \(index + 1)")
        }
    }

    /// What Chromium needs of an answer from an ICE-lite DTLS server, checked on the answer parsed back.
    @Test("every fixture: the answer, parsed back, has what Chromium requires", arguments: Fixture.allCases)
    func chromiumRequirements(fixture: Fixture) throws {
        let offer = try fixture.offer
        let result = try WebRTCAnswerer.answer(to: offer, bridge: Bridge.parameters())
        let parsed = try SessionDescription(parsing: result.text)
        #expect(parsed == result.sessionDescription)

        #expect(parsed.isICELite)
        #expect(parsed.bundleGroup?.mids == ["0", "1", "2"])
        #expect(parsed.groups.count == 1)
        #expect(parsed.media.count == offer.media.count)
        let allowedFeedback = [("nack", nil), ("nack", "pli"), ("ccm", "fir"), ("goog-remb", nil)] as [(String, String?)]
        for (section, offered) in zip(parsed.media, offer.media) {
            #expect(section.kind == offered.kind)
            #expect(section.mid == offered.mid)
            #expect(section.port == 9)
            #expect(section.proto == "UDP/TLS/RTP/SAVPF")
            #expect(section.connection == ConnectionData(addressType: "IP4", address: "0.0.0.0"))
            #expect(parsed.iceCredentials(for: section) == Bridge.ice)
            #expect(parsed.fingerprints(for: section) == [Bridge.fingerprint])
            #expect(parsed.setupRole(for: section) == .passive)
            #expect(section.hasRTCPMux)
            #expect(section.hasReducedSizeRTCP == offered.hasReducedSizeRTCP)
            #expect(section.candidates == ["1 1 UDP 2130706431 203.0.113.7 40000 typ host"])
            #expect(section.attributes.contains(.endOfCandidates))
            // Only formats the offer listed, each with its rtpmap; nothing the bridge does not do.
            #expect(!section.payloadTypes.isEmpty)
            for codec in section.codecs {
                #expect(offered.payloadTypes.contains(codec.payloadType))
                #expect(codec.rtpMap == offered.codec(payloadType: codec.payloadType)?.rtpMap)
                let name = try #require(codec.encodingName).lowercased()
                #expect(["opus", "vp8", "h264"].contains(name))
                for fb in codec.feedback {
                    #expect(allowedFeedback.contains { $0.0 == fb.type && $0.1 == fb.parameter }, "\(fb)")
                    #expect(offered.codec(payloadType: codec.payloadType)!.acceptsFeedback(fb.type, fb.parameter))
                }
            }
            #expect(section.extensionMaps.allSatisfy { $0.uri == ExtensionMap.audioLevelURI })
            // What the bridge sends is announced; nothing when it does not send.
            let direction = try #require(section.direction)
            #expect(section.ssrcs.isEmpty == !direction.sends)
            #expect((section.msid == nil) == !direction.sends)
        }
        #expect(parsed.media.map { $0.direction } == [.sendrecv, .sendrecv, .sendonly])
        #expect(parsed.media[0].ssrcs == [Bridge.audio.ssrc])
        #expect(parsed.media[1].ssrcs == [Bridge.presenter.ssrc])
        #expect(parsed.media[2].ssrcs == [Bridge.speaker.ssrc])
        #expect(parsed.media[1].sourceAttribute("msid", of: Bridge.presenter.ssrc) == "vcbridge-video presenter")
        #expect(parsed.media[0].sourceAttribute("cname", of: Bridge.audio.ssrc) == "vcbridge")
        let opus = try #require(parsed.media[0].codecs.first)
        #expect(opus.parameters?.parameter("useinbandfec") == "1")
    }

    struct Expected: Sendable, CustomStringConvertible {
        let fixture: Fixture
        let ufrag: String
        let opus: UInt8
        let minPTime: Int?
        let audioLevel: UInt8
        let vp8: UInt8
        let h264: UInt8
        let feedback: VideoFeedback
        let audioSSRCs: [UInt32]
        let cameraSSRCs: [UInt32]
        let speakerSSRCs: [UInt32]
        let options: [String]
        var description: String { fixture.rawValue }
    }

    static let expectations: [Expected] = [
        Expected(fixture: .chromium120, ufrag: "Hx3v", opus: 111, minPTime: 10, audioLevel: 1, vp8: 96, h264: 106,
                 feedback: [.nack, .pli, .fir, .remb], audioSSRCs: [3_418_236_077], cameraSSRCs: [2_779_351_442],
                 speakerSSRCs: [], options: ["trickle"]),
        Expected(fixture: .chromium156, ufrag: "p0Qw", opus: 111, minPTime: 10, audioLevel: 1, vp8: 96, h264: 109,
                 feedback: [.nack, .pli, .fir, .remb], audioSSRCs: [1_284_739_605], cameraSSRCs: [604_120_374],
                 speakerSSRCs: [], options: ["trickle"]),
        Expected(fixture: .aiortc, ufrag: "W8zQ", opus: 96, minPTime: nil, audioLevel: 2, vp8: 97, h264: 101,
                 feedback: [.nack, .pli, .remb], audioSSRCs: [2_456_123_987], cameraSSRCs: [811_922_433],
                 speakerSSRCs: [1_554_760_123], options: []),
        Expected(fixture: .firefox, ufrag: "9a8b7c6d", opus: 109, minPTime: nil, audioLevel: 1, vp8: 120, h264: 126,
                 feedback: [.nack, .pli, .fir, .remb], audioSSRCs: [3_149_752_012], cameraSSRCs: [2_214_871_003],
                 speakerSSRCs: [], options: ["trickle"]),
    ]

    @Test("what each answer negotiated is returned as a value", arguments: expectations)
    func negotiation(_ expected: Expected) throws {
        let offer = try expected.fixture.offer
        let result = try WebRTCAnswerer.answer(to: offer, bridge: Bridge.parameters())
        let agreed = result.negotiation
        #expect(agreed.remoteICE.ufrag == expected.ufrag)
        #expect(agreed.remoteICE == offer.iceCredentials(for: offer.media[0]))
        #expect(agreed.remoteFingerprint == offer.fingerprints(for: offer.media[0]).first { $0.hashFunction == "sha-256" })
        #expect(agreed.remoteSetup == .actpass)
        #expect(agreed.remoteICEOptions == expected.options)
        #expect(agreed.bundleMids == ["0", "1", "2"])
        #expect(agreed.rejected.isEmpty)
        #expect(agreed.audio.mid == "0")
        #expect(agreed.audio.index == 0)
        #expect(agreed.audio.payloadType == expected.opus)
        #expect(agreed.audio.minPTime == expected.minPTime)
        #expect(agreed.audio.audioLevelExtensionID == expected.audioLevel)
        #expect(agreed.audio.direction == .sendrecv)
        #expect(agreed.audio.remoteSSRCs == expected.audioSSRCs)
        #expect(agreed.audio.remoteCNAME != nil)
        let camera = try #require(agreed.camera)
        #expect(camera.mid == "1")
        #expect(camera.direction == .sendrecv)
        #expect(camera.vp8?.payloadType == expected.vp8)
        #expect(camera.h264?.payloadType == expected.h264)
        #expect(camera.h264?.profileLevelID == "42e01f")
        #expect(camera.codecs.map(\.name) == [.vp8, .h264])
        #expect(camera.vp8?.feedback == expected.feedback)
        #expect(camera.remoteSSRCs == expected.cameraSSRCs)
        let speaker = try #require(agreed.speaker)
        #expect(speaker.mid == "2")
        #expect(speaker.direction == .sendonly)
        #expect(speaker.remoteSSRCs == expected.speakerSSRCs)
        #expect(agreed.mid(carrying: .siteAudio) == "0")
        #expect(agreed.mid(carrying: .mixAudio) == "0")
        #expect(agreed.mid(carrying: .siteCamera) == "1")
        #expect(agreed.mid(carrying: .presenter) == "1")
        #expect(agreed.mid(carrying: .speaker) == "2")
    }

    @Test("an IPv6 media address gives IP6 connection lines and candidate")
    func ipv6() throws {
        let result = try answer(Fixture.chromium120.text, address: "2001:db8::7")
        let parsed = try SessionDescription(parsing: result.text)
        #expect(parsed.origin.addressType == "IP6")
        for section in parsed.media {
            #expect(section.connection == ConnectionData(addressType: "IP6", address: "::"))
            #expect(section.candidates == ["1 1 UDP 2130706431 2001:db8::7 40000 typ host"])
        }
    }

    @Test("extra sections are rejected with port 0 and left out of BUNDLE; the rest is answered")
    func extraSections() throws {
        let text = Fixture.chromium120.text
        let sections = String(text.dropLast(2)).components(separatedBy: "\r\nm=")
        // sections[0] is the session part, then audio, camera video, recvonly video.
        func renamed(_ section: String, from old: String, to mid: String) -> String {
            section.replacingOccurrences(of: "\r\na=mid:\(old)\r\n", with: "\r\na=mid:\(mid)\r\n")
        }
        let datachannel = "application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\na=mid:6\r\na=sctp-port:5000"
        let extended = [sections[0].replacingOccurrences(of: "a=group:BUNDLE 0 1 2", with: "a=group:BUNDLE 0 1 2 3 4 5 6"),
                        sections[1], sections[2], sections[3],
                        renamed(sections[1], from: "0", to: "3"), renamed(sections[3], from: "2", to: "4"),
                        renamed(sections[2], from: "1", to: "5").replacingOccurrences(of: "\r\na=ssrc", with: "\r\na=x-ssrc"),
                        datachannel + "\r\n"].joined(separator: "\r\nm=")
        let result = try answer(extended)
        let parsed = try SessionDescription(parsing: result.text)
        #expect(parsed.media.count == 7)
        #expect(parsed.bundleGroup?.mids == ["0", "1", "2"])
        #expect(parsed.media.map(\.port) == [9, 9, 9, 0, 0, 0, 0])
        #expect(parsed.media.map(\.mid) == ["0", "1", "2", "3", "4", "5", "6"])
        #expect(parsed.media[6].kind == "application")
        #expect(parsed.media[6].formats == ["webrtc-datachannel"])
        #expect(parsed.media[3].attributes == [.mid("3")])
        #expect(result.negotiation.rejected.map(\.index) == [3, 4, 5, 6])
        #expect(result.negotiation.rejected.map(\.mid) == ["3", "4", "5", "6"])
        #expect(result.negotiation.audio.mid == "0")
        #expect(result.negotiation.speaker?.mid == "2")
    }

    @Test("a section with port 0 or outside the BUNDLE group is rejected, the others answered")
    func disabledAndUnbundled() throws {
        let text = Fixture.chromium120.text
            .replacingLines("a=group:BUNDLE 0 1 2", with: "a=group:BUNDLE 0 1")
        let result = try answer(text)
        #expect(result.negotiation.bundleMids == ["0", "1"])
        #expect(result.negotiation.speaker == nil)
        #expect(result.negotiation.rejected.map(\.why) == ["mid 2 is not in the BUNDLE group"])
        #expect(result.negotiation.mid(carrying: .speaker) == nil)
        #expect(result.sessionDescription.media[2].port == 0)

        let stopped = Fixture.chromium120.text.split(separator: "\r\n", omittingEmptySubsequences: false).enumerated()
            .map { $0.offset == 167 ? "m=video 0 UDP/TLS/RTP/SAVPF 96" : String($0.element) }.joined(separator: "\r\n")
        let second = try answer(stopped)
        #expect(second.negotiation.rejected.map(\.why) == ["port 0 in the offer (disabled)"])
        #expect(second.sessionDescription.media[2].port == 0)
        #expect(second.sessionDescription.bundleGroup?.mids == ["0", "1"])
    }

    struct DirectionCase: Sendable, CustomStringConvertible {
        let audio: MediaDirection
        let camera: MediaDirection
        let speaker: MediaDirection
        let answer: [MediaDirection]
        var description: String { "\(audio) \(camera) \(speaker)" }
    }

    @Test("directions: the bridge sends what the site receives and receives what it sends; nothing up on the speaker",
          arguments: [
              DirectionCase(audio: .sendrecv, camera: .sendrecv, speaker: .recvonly, answer: [.sendrecv, .sendrecv, .sendonly]),
              DirectionCase(audio: .sendonly, camera: .sendonly, speaker: .inactive, answer: [.recvonly, .recvonly, .inactive]),
              DirectionCase(audio: .recvonly, camera: .recvonly, speaker: .sendrecv, answer: [.sendonly, .sendonly, .sendonly]),
              DirectionCase(audio: .inactive, camera: .inactive, speaker: .sendonly, answer: [.inactive, .inactive, .inactive]),
          ])
    func directions(_ testCase: DirectionCase) throws {
        // Replace the three direction lines in order: audio, camera, speaker.
        var order = [testCase.audio, testCase.camera, testCase.speaker].makeIterator()
        let directionLines = Set(MediaDirection.allCases.map { "a=" + $0.rawValue })
        let final = Fixture.aiortc.text.split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { directionLines.contains(String($0)) ? "a=" + order.next()!.rawValue : String($0) }
            .joined(separator: "\r\n")
        let result = try answer(final)
        let parsed = try SessionDescription(parsing: result.text)
        #expect(parsed.media.map { $0.direction! } == testCase.answer)
        #expect(parsed.media.map { !$0.ssrcs.isEmpty } == testCase.answer.map(\.sends))
        #expect(result.negotiation.mid(carrying: .siteAudio) == (testCase.answer[0].receives ? "0" : nil))
        #expect(result.negotiation.mid(carrying: .mixAudio) == (testCase.answer[0].sends ? "0" : nil))
        #expect(result.negotiation.mid(carrying: .siteCamera) == (testCase.answer[1].receives ? "1" : nil))
        #expect(result.negotiation.mid(carrying: .presenter) == (testCase.answer[1].sends ? "1" : nil))
        #expect(result.negotiation.mid(carrying: .speaker) == (testCase.answer[2].sends ? "2" : nil))
    }

    @Test("setup active and an offer without a=setup are accepted (the browser is the DTLS client)")
    func setupRoles() throws {
        let active = try answer(Fixture.chromium120.text.replacingLines("a=setup:actpass", with: "a=setup:active"))
        #expect(active.negotiation.remoteSetup == .active)
        let absent = try answer(Fixture.chromium120.text.droppingLines { $0.hasPrefix("a=setup:") })
        #expect(absent.negotiation.remoteSetup == .active)
        #expect(absent.sessionDescription.media.allSatisfy { $0.attributes.contains(.setup(.passive)) })
    }

    @Test("H.264 only: the constrained baseline payload type, level from the offer without level asymmetry")
    func h264Only() throws {
        let text = Fixture.aiortc.text
            .droppingLines { $0.hasPrefix("a=rtpmap:97 VP8") }
            .replacingLines("a=fmtp:101 level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
                            with: "a=fmtp:101 packetization-mode=1;profile-level-id=42e01e")
        let result = try answer(text)
        let camera = try #require(result.negotiation.camera)
        #expect(camera.codecs.map(\.name) == [.h264])
        #expect(camera.h264?.payloadType == 101)
        #expect(camera.h264?.profileLevelID == "42e01e")
        let section = result.sessionDescription.media[1]
        #expect(section.formats == ["101"])
        #expect(section.codec(payloadType: 101)?.parameters?.parameters == "packetization-mode=1;profile-level-id=42e01e")
    }

    @Test("H.264 profile-level-id: constrained baseline recognised in its three spellings, others not")
    func profiles() {
        let constrained = ["42e01f", "42E01F", "42c01e", "4d801f", "58c01f", "42f00b"]
        let others = ["42001f", "4d001f", "64001f", "f4001f", "42e0", "zz0000", "42e81f"]
        #expect(constrained.allSatisfy { H264ProfileLevel($0)?.isConstrainedBaseline == true })
        #expect(others.allSatisfy { H264ProfileLevel($0)?.isConstrainedBaseline != true })
        #expect(H264ProfileLevel.answer(for: H264ProfileLevel("42e01f")!, levelAsymmetryAllowed: false) == "42e01f")
        #expect(H264ProfileLevel.answer(for: H264ProfileLevel("42e034")!, levelAsymmetryAllowed: false) == "42e01f")
        #expect(H264ProfileLevel.answer(for: H264ProfileLevel("42e00d")!, levelAsymmetryAllowed: true) == "42e01f")
        #expect(H264ProfileLevel.answer(for: H264ProfileLevel("42e00d")!, levelAsymmetryAllowed: false) == "42e00d")
        #expect(H264ProfileLevel.answer(for: H264ProfileLevel("42f00b")!, levelAsymmetryAllowed: false) == "42f00b")
    }

    @Test("no audio-level extension offered: none answered")
    func noAudioLevel() throws {
        let result = try answer(Fixture.chromium120.text.droppingLines { $0.hasSuffix("ssrc-audio-level") })
        #expect(result.negotiation.audio.audioLevelExtensionID == nil)
        #expect(result.sessionDescription.media[0].extensionMaps.isEmpty)
    }

    @Test("an offer at the parser's limits (1,300 payload types, 600 feedback lines a section) is answered in bounded time")
    func largeOffer() throws {
        let formats = Array(repeating: "96", count: 1_300).joined(separator: " ")
        let feedback = (0..<600).map { "a=rtcp-fb:* x-feedback-\($0)" }.joined(separator: "\r\n")
        let text = Fixture.chromium120.text
            .mappingLines(withPrefix: "m=video 9 ") { _ in "m=video 9 UDP/TLS/RTP/SAVPF " + formats }
            .replacingLines("a=rtpmap:96 VP8/90000", with: "a=rtpmap:96 VP8/90000\r\n" + feedback)
        let clock = ContinuousClock()
        let start = clock.now
        let result = try answer(text)
        #expect(clock.now - start < .seconds(20))
        #expect(result.negotiation.camera?.codecs.map(\.payloadType) == [96])
        #expect(result.sessionDescription.media[1].formats == ["96"])
        #expect(result.negotiation.camera?.vp8?.feedback == [.nack, .pli, .fir, .remb])
    }
}
