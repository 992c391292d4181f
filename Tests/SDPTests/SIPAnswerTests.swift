import Testing
@testable import SDP

@Suite("SIP answers to room systems and baresip")
struct SIPAnswerTests {
    static let header = ["v=0", "o=vcbridge 9000000001 1 IN IP4 203.0.113.7", "s=vcbridge", "c=IN IP4 203.0.113.7",
                         "t=0 0"]
    static let audioCrypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(SIPBridge.audioKeyText)"
    static let videoCrypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(SIPBridge.videoKeyText)"

    @Test("baresip (captured, RTP/SAVP): Opus answered with its tag and our key, the whole answer line by line")
    func baresip() throws {
        let answer = try SIPBridge.answer(SIPFixture.baresipSRTPMandatory.text)
        #expect(SIPBridge.lines(answer.text) == Self.header + [
            "m=audio 30000 RTP/SAVP 96", "a=rtpmap:96 opus/48000/2", "a=fmtp:96 useinbandfec=1", "a=ptime:20", "a=rtcp:30000",
            Self.audioCrypto, "a=sendrecv"])
        let audio = answer.negotiation.audio
        #expect(audio.codec == .opus)
        #expect(audio.payloadType == 96)
        #expect(audio.clockRate == 48_000)
        #expect(audio.telephoneEventPayloadType == 101)
        #expect(audio.packetTime == 20)
        #expect(audio.media.remote == SIPMediaTransport(address: "127.0.0.1", rtpPort: 8118, rtcpAddress: "127.0.0.1",
                                                        rtcpPort: 8119, rtcpMux: false))
        #expect(audio.media.srtp?.suite == .aesCM128HMACSHA1_80)
        #expect(audio.media.srtp?.tag == 1)
        #expect(audio.media.srtp?.remoteKey.keySalt == SDESCryptoTests.baresipKey)
        #expect(audio.media.srtp?.localKey.keySalt == SIPBridge.audioKeyBytes)
        #expect(audio.media.direction == .sendrecv)
        #expect(audio.media.avpf == false)
        #expect(answer.negotiation.video == nil)
        #expect(answer.negotiation.rejected.isEmpty)
    }

    @Test("baresip's best-effort SRTP (RTP/AVP with a=crypto) is keyed, even where plain RTP is not allowed")
    func baresipBestEffort() throws {
        let answer = try SIPBridge.answer(SIPFixture.baresipSRTPBestEffort.text)
        #expect(SIPBridge.lines(answer.text).contains("m=audio 30000 RTP/AVP 96"))
        #expect(SIPBridge.lines(answer.text).contains(Self.audioCrypto))
        #expect(answer.negotiation.audio.media.srtp?.tag == 1)
    }

    @Test("Poly-style: G.722 over G.722.1, baseline H.264 at our level, slides video and BFCP rejected with port 0")
    func poly() throws {
        let answer = try SIPBridge.answer(SIPFixture.poly.text)
        #expect(SIPBridge.lines(answer.text) == Self.header + [
            "m=audio 30000 RTP/SAVP 9", "a=rtpmap:9 G722/8000", "a=ptime:20", "a=rtcp:30000", Self.audioCrypto, "a=sendrecv",
            "m=video 30002 RTP/SAVP 109", "a=rtpmap:109 H264/90000", "a=rtcp-fb:109 ccm fir",
            "a=rtcp-fb:109 nack pli", "a=fmtp:109 packetization-mode=1;profile-level-id=42801f", "a=rtcp:30002", Self.videoCrypto,
            "a=sendrecv",
            "m=video 0 RTP/SAVP 109",
            "m=application 0 TCP/BFCP *"])
        let negotiation = answer.negotiation
        #expect(negotiation.audio.codec == .g722)
        #expect(negotiation.audio.payloadType == 9)
        #expect(negotiation.audio.clockRate == 8_000)
        #expect(negotiation.audio.telephoneEventPayloadType == 101)
        #expect(negotiation.audio.media.remote.rtcpPort == 49_173)
        #expect(negotiation.audio.media.srtp?.tag == 1)
        let video = try #require(negotiation.video)
        #expect(video.codec == NegotiatedVideoCodec(name: .h264, payloadType: 109, feedback: [.fir, .pli],
                                                    profileLevelID: "42801f"))
        #expect(video.media.remote == SIPMediaTransport(address: "192.0.2.21", rtpPort: 49_174,
                                                        rtcpAddress: "192.0.2.21", rtcpPort: 49_175, rtcpMux: false))
        #expect(video.media.srtp?.localKey.keySalt == SIPBridge.videoKeyBytes)
        #expect(negotiation.rejected.map(\.index) == [2, 3])
        #expect(negotiation.rejected.map(\.kind) == ["video", "application"])
    }

    @Test("Cisco-style without Opus: G.722; constrained baseline chosen over High, level lowered to 3.1")
    func cisco() throws {
        let answer = try SIPBridge.answer(SIPFixture.cisco.text)
        let lines = SIPBridge.lines(answer.text)
        #expect(lines.contains("m=audio 30000 RTP/SAVP 9"))
        #expect(lines.contains("m=video 30002 RTP/SAVP 126"))
        #expect(lines.contains("a=fmtp:126 packetization-mode=1;profile-level-id=42e01f"))
        #expect(answer.negotiation.audio.codec == .g722)
        #expect(answer.negotiation.audio.media.remote.rtcpPort == 2347)
        let video = try #require(answer.negotiation.video)
        #expect(video.codec == NegotiatedVideoCodec(name: .h264, payloadType: 126, feedback: [.pli, .fir],
                                                    profileLevelID: "42e01f"))
    }

    @Test("H.264 level: the lower of the offer's and the bridge's, the offer's profile kept")
    func h264Level() throws {
        let cisco = SIPFixture.cisco.text
        let high = try SIPBridge.answer(cisco, h264MaxLevel: 0x28)
        #expect(high.negotiation.video?.codec.profileLevelID == "42e028")
        let lowOffer = cisco.replacingLines(
            "a=fmtp:126 profile-level-id=42e028;max-mbps=245000;max-fs=8160;packetization-mode=1",
            with: "a=fmtp:126 profile-level-id=42e016;packetization-mode=1")
        #expect(try SIPBridge.answer(lowOffer, h264MaxLevel: 0x28).negotiation.video?.codec.profileLevelID == "42e016")
        // Only High profile and packetization mode 0: the video section is rejected, the call goes on.
        let noBaseline = cisco.droppingLines { $0.hasPrefix("a=fmtp:126") || $0.hasPrefix("a=rtpmap:126") }
        let answer = try SIPBridge.answer(noBaseline)
        #expect(answer.negotiation.video == nil)
        #expect(SIPBridge.lines(answer.text).contains("m=video 0 RTP/SAVP 97 126 96 34"))
        #expect(answer.negotiation.rejected.first?.why.contains("H.264") == true)
    }

    @Test("VP8 offered alone is answered with the feedback offered")
    func vp8() throws {
        let offer = SIPFixture.baresipSRTPMandatory.text + [
            "m=video 8120 RTP/SAVPF 100", "a=rtpmap:100 VP8/90000", "a=rtcp-fb:100 nack", "a=rtcp-fb:100 nack pli",
            "a=rtcp-fb:100 goog-remb", "a=rtcp-mux",
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QMKdK3fNO6lWEGaraW2w+CmDtjQmxttqDLXUzgeD", ""]
            .joined(separator: "\r\n")
        let answer = try SIPBridge.answer(offer)
        let video = try #require(answer.negotiation.video)
        #expect(video.codec == NegotiatedVideoCodec(name: .vp8, payloadType: 100, feedback: [.nack, .pli],
                                                    profileLevelID: nil))
        #expect(video.media.avpf)
        #expect(video.media.remote.rtcpMux)
        #expect(video.media.remote.rtcpPort == 8120)
        #expect(Array(SIPBridge.lines(answer.text).suffix(7)) == [
            "m=video 30002 RTP/SAVPF 100", "a=rtpmap:100 VP8/90000", "a=rtcp-fb:100 nack", "a=rtcp-fb:100 nack pli",
            "a=rtcp-mux", Self.videoCrypto, "a=sendrecv"])
    }

    @Test("static payload types 9, 8, 0 are known without rtpmap; preference G.722 > PCMA > PCMU")
    func staticPayloadTypes() throws {
        func offer(_ formats: String) -> String {
            ["v=0", "o=- 1 1 IN IP4 192.0.2.5", "s=-", "c=IN IP4 192.0.2.5", "t=0 0", "m=audio 5004 RTP/SAVP \(formats)",
             "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(SDESCryptoTests.key)", ""].joined(separator: "\r\n")
        }
        #expect(try SIPBridge.answer(offer("0 8 9")).negotiation.audio.codec == .g722)
        #expect(try SIPBridge.answer(offer("0 8")).negotiation.audio.codec == .pcma)
        let pcmu = try SIPBridge.answer(offer("0 18"))
        #expect(pcmu.negotiation.audio.codec == .pcmu)
        #expect(pcmu.negotiation.audio.payloadType == 0)
        #expect(SIPBridge.lines(pcmu.text).contains("a=rtpmap:0 PCMU/8000"))
        #expect(throws: SIPSDPError.self) { try SIPBridge.answer(offer("18 4")) }
        do { _ = try SIPBridge.answer(offer("18 4")) } catch let error as SIPSDPError { #expect(error.reason == .noAudioCodec) }
    }

    @Test("plain RTP: refused by default with a 488, answered without crypto when the policy allows it")
    func plainRTP() throws {
        let plain = SIPFixture.baresipSRTPBestEffort.text.droppingLines { $0.hasPrefix("a=crypto:") }
        do {
            _ = try SIPBridge.answer(plain)
            Issue.record("plain RTP answered without the policy")
        } catch let error as SIPSDPError {
            #expect(error.reason == .plainRTPNotAllowed)
            #expect(error.sipStatus == 488)
        }
        let answer = try SIPBridge.answer(plain, policy: SIPMediaPolicy(allowsPlainRTP: true))
        #expect(answer.negotiation.audio.media.srtp == nil)
        #expect(SIPBridge.lines(answer.text) == Self.header + [
            "m=audio 30000 RTP/AVP 96", "a=rtpmap:96 opus/48000/2", "a=fmtp:96 useinbandfec=1", "a=ptime:20", "a=rtcp:30000",
            "a=sendrecv"])
    }

    static let goodKey = SDESCryptoTests.key
    static let cryptoLine = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:4Xh5BJn2S6619VGggFbHs0vYY3GdIHOxXrdK3QYZ"

    struct CryptoCase: Sendable, CustomStringConvertible {
        let name: String
        let lines: [String]
        let reason: SDESCryptoError.Reason
        var description: String { name }
    }

    static let cryptoCases: [CryptoCase] = [
        CryptoCase(name: "only an MKI line", lines: ["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(goodKey)|2^31|1:4"],
                   reason: .mkiNotSupported),
        CryptoCase(name: "bad base64", lines: ["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(goodKey.dropLast())!"],
                   reason: .badBase64),
        CryptoCase(name: "29 bytes",
                   lines: ["a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:lJLVSjSqaZUQbfKYBM+5Jww4/Ys9Rzpj7jv6biM="],
                   reason: .wrongKeyLength),
        CryptoCase(name: "unknown suite", lines: ["a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:\(goodKey)"],
                   reason: .unknownSuite),
    ]

    @Test("an offer whose only crypto lines are unusable is refused (488) naming each line's reason",
          arguments: cryptoCases)
    func unusableCrypto(_ testCase: CryptoCase) throws {
        let offer = SIPFixture.baresipSRTPMandatory.text.mappingLines(withPrefix: "a=crypto:") { _ in
            testCase.lines.joined(separator: "\r\n")
        }
        do {
            _ = try SIPBridge.answer(offer)
            Issue.record("answered")
        } catch let error as SIPSDPError {
            #expect(error.reason == .noUsableCrypto)
            #expect(error.sipStatus == 488)
            #expect(error.section == 0)
            #expect(error.cryptoErrors.map(\.reason) == [testCase.reason])
            #expect(!error.description.contains("4Xh5BJn2S6619"))
        }
        // The same line on RTP/AVP with plain RTP not allowed: still refused for the crypto, not for being plain.
        let avp = offer.replacingLines("m=audio 8118 RTP/SAVP 96 9 0 8 101", with: "m=audio 8118 RTP/AVP 96 9 0 8 101")
        #expect(throws: SIPSDPError.self) { try SIPBridge.answer(avp) }
    }

    @Test("an MKI line next to a usable _32 line: the _32 line is chosen")
    func fallsBackToOtherLine() throws {
        let offer = SIPFixture.baresipSRTPMandatory.text.mappingLines(withPrefix: "a=crypto:") { _ in
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.goodKey)|2^31|1:4\r\n"
                + "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:\(Self.goodKey)"
        }
        let answer = try SIPBridge.answer(offer)
        #expect(answer.negotiation.audio.media.srtp?.suite == .aesCM128HMACSHA1_32)
        #expect(answer.negotiation.audio.media.srtp?.tag == 2)
        #expect(SIPBridge.lines(answer.text).contains(
            "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:\(SIPBridge.audioKeyText)"))
    }

    @Test("RTP/SAVP without any a=crypto, a DTLS transport, a host name in c=: each its named refusal")
    func otherRefusals() throws {
        let baresip = SIPFixture.baresipSRTPMandatory.text
        let cases: [(String, SIPSDPError.Reason)] = [
            (baresip.droppingLines { $0.hasPrefix("a=crypto:") }, .noCrypto),
            (baresip.replacingLines("m=audio 8118 RTP/SAVP 96 9 0 8 101",
                                    with: "m=audio 8118 UDP/TLS/RTP/SAVPF 96 9 0 8 101"), .unsupportedTransport),
            (baresip.replacingLines("c=IN IP4 127.0.0.1", with: "c=IN IP4 hall.example.org"), .unsupportedAddress),
            (baresip.replacingLines("a=ptime:20", with: "a=rtcp:70000"), .badRTCPAttribute),
            (baresip.replacingLines("m=audio 8118 RTP/SAVP 96 9 0 8 101", with: "m=audio 0 RTP/SAVP 96 9 0 8 101"),
             .noAudio),
        ]
        for (offer, reason) in cases {
            do {
                _ = try SIPBridge.answer(offer)
                Issue.record("answered, wanted \(reason)")
            } catch let error as SIPSDPError {
                #expect(error.reason == reason)
            }
        }
    }

    @Test("directions mirrored: sendonly → recvonly, inactive → inactive, c=0.0.0.0 hold → recvonly")
    func directions() throws {
        let baresip = SIPFixture.baresipSRTPMandatory.text
        let sendonly = try SIPBridge.answer(baresip.replacingLines("a=sendrecv", with: "a=sendonly"))
        #expect(sendonly.negotiation.audio.media.direction == .recvonly)
        #expect(SIPBridge.lines(sendonly.text).contains("a=recvonly"))
        let inactive = try SIPBridge.answer(baresip.replacingLines("a=sendrecv", with: "a=inactive"))
        #expect(inactive.negotiation.audio.media.direction == .inactive)
        let recvonly = try SIPBridge.answer(baresip.replacingLines("a=sendrecv", with: "a=recvonly"))
        #expect(recvonly.negotiation.audio.media.direction == .sendonly)
        let oldHold = try SIPBridge.answer(baresip.replacingLines("c=IN IP4 127.0.0.1", with: "c=IN IP4 0.0.0.0"))
        #expect(oldHold.negotiation.audio.media.direction == .recvonly)
    }

    @Test("a=rtcp with an address, and rtcp-mux answered when offered")
    func rtcpAddresses() throws {
        let baresip = SIPFixture.baresipSRTPMandatory.text
        let withAddress = try SIPBridge.answer(baresip.replacingLines("a=label:1", with: "a=rtcp:9000 IN IP4 192.0.2.9"))
        #expect(withAddress.negotiation.audio.media.remote == SIPMediaTransport(
            address: "127.0.0.1", rtpPort: 8118, rtcpAddress: "192.0.2.9", rtcpPort: 9000, rtcpMux: false))
        let mux = try SIPBridge.answer(baresip.replacingLines("a=label:1", with: "a=rtcp-mux"))
        #expect(mux.negotiation.audio.media.remote.rtcpMux)
        #expect(mux.negotiation.audio.media.remote.rtcpPort == 8118)
        #expect(SIPBridge.lines(mux.text).contains("a=rtcp-mux"))
    }

    @Test("no video port: the camera section is rejected, audio answered")
    func noVideoPort() throws {
        let answer = try SIPBridge.answer(SIPFixture.poly.text, videoPort: nil)
        #expect(answer.negotiation.video == nil)
        #expect(answer.negotiation.rejected.map(\.index) == [1, 2, 3])
        #expect(SIPBridge.lines(answer.text).contains("m=video 0 RTP/SAVP 109 110 34"))
    }

    @Test("IPv6 on both sides: c=IN IP6 read, and written for the bridge's address")
    func ipv6() throws {
        let offer = SIPFixture.baresipSRTPMandatory.text
            .replacingLines("c=IN IP4 127.0.0.1", with: "c=IN IP6 2001:db8::21")
        let bridge = try SIPBridgeParameters(address: "2001:db8::7", audioPort: 30_000,
                                             audioKey: SDESKey(keySalt: SIPBridge.audioKeyBytes),
                                             videoKey: SDESKey(keySalt: SIPBridge.videoKeyBytes), sessionID: 1)
        let answer = try SIPAnswerer.answer(to: SessionDescription(parsing: offer), bridge: bridge,
                                            policy: SIPMediaPolicy())
        #expect(answer.negotiation.audio.media.remote.address == "2001:db8::21")
        #expect(Array(SIPBridge.lines(answer.text).prefix(4)) == [
            "v=0", "o=vcbridge 1 1 IN IP6 2001:db8::7", "s=vcbridge", "c=IN IP6 2001:db8::7"])
        // An IPv4 literal under IP6 is not taken.
        let mismatched = offer.replacingLines("c=IN IP6 2001:db8::21", with: "c=IN IP6 192.0.2.1")
        #expect(throws: SIPSDPError.self) { try SIPAnswerer.answer(to: SessionDescription(parsing: mismatched),
                                                                   bridge: bridge, policy: SIPMediaPolicy()) }
    }

    @Test("bridge parameters that cannot go into SDP are refused")
    func badParameters() throws {
        let audio = try SDESKey(keySalt: SIPBridge.audioKeyBytes)
        let video = try SDESKey(keySalt: SIPBridge.videoKeyBytes)
        #expect(throws: SIPParameterError.self) {
            try SIPBridgeParameters(address: "bridge.example.org", audioPort: 30_000, audioKey: audio, videoKey: video,
                                    sessionID: 1)
        }
        #expect(throws: SIPParameterError.self) {
            try SIPBridgeParameters(address: "192.0.2.1", audioPort: 30_001, audioKey: audio, videoKey: video,
                                    sessionID: 1)
        }
        // One media socket: audio and video may share its port (told apart by SSRC and payload type).
        #expect(try SIPBridgeParameters(address: "192.0.2.1", audioPort: 30_000, videoPort: 30_000, audioKey: audio,
                                        videoKey: video, sessionID: 1).videoPort == 30_000)
        #expect(throws: SIPParameterError.self) {
            try SIPBridgeParameters(address: "192.0.2.1", audioPort: 30_000, audioKey: audio, videoKey: audio,
                                    sessionID: 1)
        }
    }
}
