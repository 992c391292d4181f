import Testing
@testable import SDP

@Suite("The bridge's own SIP offers and the answers to them")
struct SIPOfferTests {
    static let audioCrypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(SIPBridge.audioKeyText)"
    static let videoCrypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(SIPBridge.videoKeyText)"

    static func offer(policy: SIPMediaPolicy = SIPMediaPolicy(), videoPort: UInt16? = 30_002,
                      video: [NegotiatedVideoCodec.Name] = [.h264, .vp8]) throws -> SIPOffer {
        SIPOfferer.offer(bridge: try SIPBridge.parameters(videoPort: videoPort), policy: policy, video: video)
    }

    @Test("the offer line by line: four audio codecs in order, H.264 and VP8 with feedback, SRTP keys, RTCP on the media port with or without rtcp-mux")
    func offerText() throws {
        #expect(SIPBridge.lines(try Self.offer().text) == [
            "v=0", "o=vcbridge 9000000001 1 IN IP4 203.0.113.7", "s=vcbridge", "c=IN IP4 203.0.113.7", "t=0 0",
            "m=audio 30000 RTP/SAVP 96 9 8 0", "a=rtpmap:96 opus/48000/2", "a=fmtp:96 useinbandfec=1",
            "a=rtpmap:9 G722/8000", "a=rtpmap:8 PCMA/8000", "a=rtpmap:0 PCMU/8000", "a=ptime:20", "a=rtcp:30000", "a=rtcp-mux",
            Self.audioCrypto, "a=sendrecv",
            "m=video 30002 RTP/SAVP 97 98", "a=rtpmap:97 H264/90000", "a=rtcp-fb:97 ccm fir", "a=rtcp-fb:97 nack",
            "a=rtcp-fb:97 nack pli", "a=fmtp:97 packetization-mode=1;profile-level-id=42e01f",
            "a=rtpmap:98 VP8/90000", "a=rtcp-fb:98 ccm fir", "a=rtcp-fb:98 nack", "a=rtcp-fb:98 nack pli",
            "a=rtcp:30002", "a=rtcp-mux", Self.videoCrypto, "a=sendrecv"])
    }

    @Test("policy: plain allowed offers RTP/AVP with the same crypto; AVPF when asked; audio only without a video port")
    func offerVariants() throws {
        let plain = SIPBridge.lines(try Self.offer(policy: SIPMediaPolicy(allowsPlainRTP: true)).text)
        #expect(plain.contains("m=audio 30000 RTP/AVP 96 9 8 0"))
        #expect(plain.contains(Self.audioCrypto))
        let avpf = SIPBridge.lines(try Self.offer(policy: SIPMediaPolicy(offersAVPF: true)).text)
        #expect(avpf.contains("m=video 30002 RTP/SAVPF 97 98"))
        let audioOnly = try Self.offer(videoPort: nil)
        #expect(audioOnly.sessionDescription.media.map(\.kind) == ["audio"])
        #expect(try Self.offer(video: []).sessionDescription.media.count == 1)
        #expect(try Self.offer(video: [.vp8]).sessionDescription.media[1].formats == ["98"])
    }

    @Test("a room system's answer made by our own answerer reads back as the same agreement, keys swapped")
    func roundTrip() throws {
        let offer = try Self.offer()
        // The far end: another bridge with its own keys and ports.
        let far = try SIPBridgeParameters(address: "198.51.100.40", audioPort: 40_000, videoPort: 40_002,
                                          audioKey: SDESKey(keySalt: Array(repeating: 7, count: 30)),
                                          videoKey: SDESKey(keySalt: Array(repeating: 9, count: 30)),
                                          sessionID: 5, sessionVersion: 1)
        let answer = try SIPAnswerer.answer(to: SessionDescription(parsing: offer.text), bridge: far,
                                            policy: SIPMediaPolicy())
        let negotiation = try SIPOfferer.parseAnswer(SessionDescription(parsing: answer.text), to: offer)
        #expect(negotiation.audio.codec == .opus)
        #expect(negotiation.audio.payloadType == 96)
        #expect(negotiation.audio.media.remote == SIPMediaTransport(address: "198.51.100.40", rtpPort: 40_000,
                                                                    rtcpAddress: "198.51.100.40", rtcpPort: 40_000,
                                                                    rtcpMux: true))
        #expect(negotiation.audio.media.srtp?.remoteKey.keySalt == Array(repeating: 7, count: 30))
        #expect(negotiation.audio.media.srtp?.localKey.keySalt == SIPBridge.audioKeyBytes)
        #expect(negotiation.audio.media.direction == .sendrecv)
        let video = try #require(negotiation.video)
        #expect(video.codec.name == .h264)
        #expect(video.codec.profileLevelID == "42e01f")
        #expect(video.codec.feedback == [.nack, .pli, .fir])
        #expect(video.media.srtp?.remoteKey.keySalt == Array(repeating: 9, count: 30))
        // The far side's view mirrors ours.
        #expect(answer.negotiation.audio.media.srtp?.remoteKey.keySalt == SIPBridge.audioKeyBytes)
    }

    /// An answer to `offer()` in the shape room systems write, with `audio` and `video` lines.
    static func answer(audio: [String], video: [String]? = nil) -> String {
        (["v=0", "o=- 7 7 IN IP4 192.0.2.30", "s=-", "c=IN IP4 192.0.2.30", "t=0 0"] + audio
            + (video ?? ["m=video 0 RTP/SAVP 97 98"]) + [""]).joined(separator: "\r\n")
    }

    static let theirCrypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(SDESCryptoTests.key)"

    @Test("a G.722 answer with rejected video")
    func g722Answer() throws {
        let text = Self.answer(audio: ["m=audio 5004 RTP/SAVP 9", "a=rtpmap:9 G722/8000", Self.theirCrypto,
                                       "a=sendrecv"])
        let negotiation = try SIPOfferer.parseAnswer(SessionDescription(parsing: text), to: try Self.offer())
        #expect(negotiation.audio.codec == .g722)
        #expect(negotiation.audio.clockRate == 8_000)
        #expect(negotiation.audio.media.remote.rtcpPort == 5005)
        #expect(negotiation.audio.media.srtp?.remoteKey.keySalt == SDESCryptoTests.baresipKey)
        #expect(negotiation.video == nil)
        #expect(negotiation.rejected.map(\.index) == [1])
    }

    @Test("an answer with its own dynamic payload types: we send with theirs and receive ours (RFC 3264 §6.1)")
    func answerPayloadTypes() throws {
        let text = Self.answer(audio: ["m=audio 5004 RTP/SAVP 111", "a=rtpmap:111 opus/48000/2", Self.theirCrypto],
                               video: ["m=video 5006 RTP/SAVP 120", "a=rtpmap:120 VP8/90000", "a=rtcp-fb:120 nack pli",
                                       "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:\(SIPBridge.audioKeyText)"])
        let negotiation = try SIPOfferer.parseAnswer(SessionDescription(parsing: text), to: try Self.offer())
        #expect(negotiation.audio.payloadType == 111)
        #expect(negotiation.audio.receivePayloadType == 96)
        #expect(negotiation.video?.codec.payloadType == 120)
        #expect(negotiation.video?.codec.feedback == [.pli])
        #expect(negotiation.video?.receivePayloadType == 98)
    }

    @Test("answers that do not fit the offer are refused by name")
    func badAnswers() throws {
        let offer = try Self.offer()
        let plainOffer = try Self.offer(policy: SIPMediaPolicy(allowsPlainRTP: true))
        let g722 = ["m=audio 5004 RTP/SAVP 9", "a=rtpmap:9 G722/8000"]
        let cases: [(String, SIPOffer, SIPSDPError.Reason)] = [
            (Self.answer(audio: g722 + ["a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:\(SDESCryptoTests.key)"]),
             offer, .unknownCryptoTag),
            (Self.answer(audio: g722 + ["a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:\(SDESCryptoTests.key)"]),
             offer, .cryptoSuiteMismatch),
            (Self.answer(audio: ["m=audio 5004 RTP/SAVP 18", "a=rtpmap:18 G729/8000", Self.theirCrypto]),
             offer, .notOffered),
            (Self.answer(audio: ["m=audio 0 RTP/SAVP 9"]), offer, .audioRejected),
            (Self.answer(audio: g722 + [Self.theirCrypto], video: []), offer, .mediaCountMismatch),
            (Self.answer(audio: g722), offer, .noCrypto),
            (Self.answer(audio: ["m=audio 5004 RTP/AVP 9", Self.theirCrypto]), offer, .notOffered),
            (Self.answer(audio: g722 + [Self.theirCrypto],
                         video: ["m=video 5006 RTP/SAVP 99", "a=rtpmap:99 H263-1998/90000", Self.theirCrypto]),
             offer, .notOffered),
            (Self.answer(audio: g722 + [Self.theirCrypto],
                         video: ["m=video 5006 RTP/SAVP 97", "a=rtpmap:97 H264/90000",
                                 "a=fmtp:97 profile-level-id=42e01f", Self.theirCrypto]),
             offer, .notOffered),
        ]
        for (text, offer, reason) in cases {
            do {
                _ = try SIPOfferer.parseAnswer(SessionDescription(parsing: text), to: offer)
                Issue.record("accepted, wanted \(reason): \(text)")
            } catch let error as SIPSDPError {
                #expect(error.reason == reason, "\(error)")
            }
        }
        // Plain RTP answered to the plain-policy offer is taken, unencrypted.
        let plain = try SIPOfferer.parseAnswer(SessionDescription(parsing: Self.answer(
            audio: ["m=audio 5004 RTP/AVP 0"], video: ["m=video 0 RTP/AVP 97 98"])), to: plainOffer)
        #expect(plain.audio.media.srtp == nil)
        #expect(plain.audio.codec == .pcmu)
    }

    @Test("a real baresip's answer to our offer (captured): Opus, SRTP tag 1, RTCP on port + 1, video rejected")
    func baresipAnswer() throws {
        let offer = SIPOfferer.offer(bridge: try SIPBridge.parameters(address: "127.0.0.1"), policy: SIPMediaPolicy())
        #expect(offer.text == SIPFixture.offerSentToBaresip.text)
        let negotiation = try SIPOfferer.parseAnswer(SessionDescription(parsing: SIPFixture.baresipAnswer.text),
                                                     to: offer)
        #expect(negotiation.audio.codec == .opus)
        #expect(negotiation.audio.payloadType == 96)
        #expect(negotiation.audio.media.remote == SIPMediaTransport(address: "127.0.0.1", rtpPort: 11_584,
                                                                    rtcpAddress: "127.0.0.1", rtcpPort: 11_585,
                                                                    rtcpMux: false))
        #expect(negotiation.audio.media.srtp?.tag == 1)
        #expect(negotiation.audio.media.srtp?.suite == .aesCM128HMACSHA1_80)
        #expect(negotiation.audio.media.srtp?.localKey.keySalt == SIPBridge.audioKeyBytes)
        // baresip's key, decoded by Python's base64 module.
        let baresipKey: [UInt8] = [90, 199, 181, 93, 182, 240, 24, 11, 129, 230, 34, 27, 255, 210, 200,
                                   35, 151, 122, 175, 17, 7, 223, 113, 92, 25, 67, 94, 178, 231, 63]
        #expect(negotiation.audio.media.srtp?.remoteKey.keySalt == baresipKey)
        #expect(negotiation.audio.media.direction == .sendrecv)
        #expect(negotiation.video == nil)
        #expect(negotiation.rejected.map(\.index) == [1])
    }
}
