import Testing
@testable import SDP

@Suite("SDP parsing of real offers")
struct ParserTests {
    @Test("every fixture parses and writes back byte for byte", arguments: Fixture.allCases)
    func roundTrip(fixture: Fixture) throws {
        let offer = try fixture.offer
        #expect(offer.text == fixture.text)
        #expect(try SessionDescription(parsing: offer.text) == offer)
    }

    @Test("LF line ends, and a last line without its end, parse the same as CRLF", arguments: Fixture.allCases)
    func lineEnds(fixture: Fixture) throws {
        let crlf = try fixture.offer
        let lf = fixture.text.split(separator: "\r\n").joined(separator: "\n")
        #expect(try SessionDescription(parsing: lf) == crlf)
        #expect(try SessionDescription(parsing: lf + "\n") == crlf)
        #expect(try SessionDescription(parsing: fixture.text + "\r\n\r\n") == crlf)
        #expect(try SessionDescription(parsing: Array(fixture.text.utf8)) == crlf)
    }

    @Test("Chromium 120: session and media model")
    func chromiumModel() throws {
        let offer = try Fixture.chromium120.offer
        #expect(offer.origin.sessionID == "4611731400430051336")
        #expect(offer.origin.sessionVersion == "2")
        #expect(offer.sessionName == "-")
        #expect(offer.timings == [Timing(start: 0, stop: 0)])
        #expect(offer.bundleGroup == MediaGroup(semantics: "BUNDLE", mids: ["0", "1", "2"]))
        #expect(offer.attributes.contains(.other(name: "extmap-allow-mixed", value: nil)))
        #expect(offer.attributes.contains(.other(name: "msid-semantic",
                                                 value: " WMS 5c8d1a9e-7f3b-4c21-9d55-1e2f3a4b5c6d")))
        #expect(!offer.isICELite)
        #expect(offer.media.map(\.kind) == ["audio", "video", "video"])
        #expect(offer.media.map(\.mid) == ["0", "1", "2"])

        let audio = offer.media[0]
        #expect(audio.port == 9)
        #expect(audio.proto == "UDP/TLS/RTP/SAVPF")
        #expect(audio.payloadTypes == [111, 63, 9, 0, 8, 13, 110, 126])
        #expect(audio.connection == ConnectionData(addressType: "IP4", address: "0.0.0.0"))
        #expect(offer.iceCredentials(for: audio) == ICECredentials(ufrag: "Hx3v", pwd: "k9Tq2Lr7Wm4Zp8Yd1Nc6Vb0F"))
        #expect(offer.iceOptions(for: audio) == ["trickle"])
        #expect(offer.fingerprints(for: audio).map(\.hashFunction) == ["sha-256"])
        #expect(offer.fingerprints(for: audio)[0].bytes.count == 32)
        #expect(offer.fingerprints(for: audio)[0].hexadecimal.hasPrefix("84:94:5F:76"))
        #expect(offer.setupRole(for: audio) == .actpass)
        #expect(offer.direction(for: audio) == .sendrecv)
        #expect(audio.hasRTCPMux)
        #expect(!audio.hasReducedSizeRTCP)
        #expect(audio.extensionID(for: ExtensionMap.audioLevelURI) == 1)
        #expect(audio.extensionMaps.count == 4)
        let opus = try #require(audio.codec(payloadType: 111))
        #expect(opus.rtpMap == RTPMap(payloadType: 111, encodingName: "opus", clockRate: 48_000, encodingParameters: "2"))
        #expect(opus.rtpMap?.channels == 2)
        #expect(opus.parameters?.parameter("useinbandfec") == "1")
        #expect(opus.parameters?.parameter("MINPTIME") == "10")
        #expect(opus.feedback == [RTCPFeedback(payloadType: 111, type: "transport-cc")])
        #expect(audio.codec(payloadType: 0)?.encodingName == "PCMU")
        #expect(audio.codec(payloadType: 63)?.parameters?.parameterList.map(\.name) == ["111/111"])
        #expect(audio.primarySSRCs == [3_418_236_077])
        #expect(audio.sourceAttribute("cname", of: 3_418_236_077) == "Qm7vLx2RkT9pWc4s")
        #expect(audio.msid == MediaStreamID(streamID: "5c8d1a9e-7f3b-4c21-9d55-1e2f3a4b5c6d",
                                            appData: "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"))
        #expect(audio.attributes.contains(.other(name: "rtcp", value: "9 IN IP4 0.0.0.0")))

        let camera = offer.media[1]
        #expect(camera.hasReducedSizeRTCP)
        #expect(camera.payloadTypes.count == 25)
        #expect(camera.ssrcGroups == [SSRCGroup(semantics: "FID", ssrcs: [2_779_351_442, 1_830_421_765])])
        #expect(camera.ssrcs == [2_779_351_442, 1_830_421_765])
        #expect(camera.primarySSRCs == [2_779_351_442])
        let vp8 = try #require(camera.codec(payloadType: 96))
        #expect(vp8.acceptsFeedback("nack"))
        #expect(vp8.acceptsFeedback("nack", "pli"))
        #expect(vp8.acceptsFeedback("ccm", "fir"))
        #expect(vp8.acceptsFeedback("goog-remb"))
        #expect(camera.codec(payloadType: 97)?.parameters?.parameter("apt") == "96")
        #expect(camera.codec(payloadType: 106)?.parameters?.parameter("profile-level-id") == "42e01f")
        #expect(camera.extensionMaps.first { $0.id == 14 }?.uri == "urn:ietf:params:rtp-hdrext:toffset")

        let speaker = offer.media[2]
        #expect(offer.direction(for: speaker) == .recvonly)
        #expect(speaker.ssrcs.isEmpty)
        #expect(speaker.msid == nil)
    }

    @Test("Chromium 156: gathered candidates kept as written, msid '-'")
    func chromium156Candidates() throws {
        let offer = try Fixture.chromium156.offer
        let audio = offer.media[0]
        #expect(audio.port == 50_334)
        #expect(audio.candidates.count == 4)
        #expect(audio.candidates[0].hasSuffix(".local 50334 typ host generation 0 network-cost 999"))
        #expect(audio.candidates[3].contains(" tcp ") && audio.candidates[3].hasSuffix("tcptype active generation 0 network-cost 999"))
        #expect(audio.attributes.contains(.other(name: "rtcp-xr", value: "rcvr-rtt=all")))
        #expect(audio.hasReducedSizeRTCP)
        #expect(audio.msid?.streamID == "-")
        #expect(offer.media[1].codec(payloadType: 49) == nil)
        #expect(offer.media[2].codec(payloadType: 49)?.encodingName == "H265")
        #expect(offer.media[2].payloadTypes.count == 35)
    }

    @Test("aiortc: three fingerprints, credentials per media section, IPv6 candidate, Opus without fmtp")
    func aiortcModel() throws {
        let offer = try Fixture.aiortc.offer
        let audio = offer.media[0]
        #expect(offer.fingerprints(for: audio).map(\.hashFunction) == ["sha-256", "sha-384", "sha-512"])
        #expect(offer.fingerprints(for: audio).map(\.bytes.count) == [32, 48, 64])
        #expect(offer.iceCredentials(for: audio) == ICECredentials(ufrag: "W8zQ", pwd: "e1R6tY3uI9oP2aS5dF8gH0"))
        #expect(audio.codec(payloadType: 96)?.parameters == nil)
        #expect(audio.extensionID(for: ExtensionMap.audioLevelURI) == 2)
        #expect(audio.candidates.count == 2)
        #expect(audio.attributes.contains(.endOfCandidates))
        #expect(offer.media[2].primarySSRCs == [1_554_760_123])
        #expect(offer.media[1].sourceAttribute("cname", of: 811_922_433) == "{c41f06b2-91a7-4d2e-b8f3-5e6a7d8c9b0a}")
    }

    @Test("Firefox: fingerprint and ice-options at session level, extmap directions")
    func firefoxSessionLevel() throws {
        let offer = try Fixture.firefox.offer
        #expect(offer.media[0].attributes.fingerprints.isEmpty)
        #expect(offer.fingerprints(for: offer.media[1]).count == 1)
        #expect(offer.iceOptions(for: offer.media[2]) == ["trickle"])
        #expect(offer.media[0].extensionMaps[1] == ExtensionMap(
            id: 2, direction: .recvonly, uri: "urn:ietf:params:rtp-hdrext:csrc-audio-level"))
        #expect(offer.media[0].codec(payloadType: 9)?.rtpMap?.channels == 1)
        #expect(offer.media[0].codec(payloadType: 101)?.parameters?.parameters == "0-15")
    }

    @Test("a session-level direction applies where a section has none")
    func sessionDirection() throws {
        let text = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=recvonly\r\nm=audio 9 RTP/AVP 0\r\n"
            + "m=audio 9 RTP/AVP 0\r\na=inactive\r\n"
        let description = try SessionDescription(parsing: text)
        #expect(description.direction(for: description.media[0]) == .recvonly)
        #expect(description.direction(for: description.media[1]) == .inactive)
    }

    @Test("general SDP: SIP-style offer with c= at session level, b=, i=, k=, r=, ports with counts")
    func sipStyle() throws {
        let text = """
        v=0
        o=alice 2890844526 2890844527 IN IP4 198.51.100.1
        s=Hội nghị
        i=Tỉnh Vĩnh Phúc
        u=http://example.com/m.pdf
        e=ops@example.com
        c=IN IP4 198.51.100.1
        b=AS:512
        t=3034423619 3042462419
        r=7d 1h 0 25h
        z=2882844526 -1h
        m=audio 49170/2 RTP/AVP 0 8 9
        i=voice
        b=TIAS:64000
        k=prompt
        a=ptime:20
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32
        m=video 51372 RTP/AVP 97
        c=IN IP6 2001:db8::1
        a=rtpmap:97 H264/90000
        a=fmtp:97 packetization-mode=1;profile-level-id=42e01f
        """
        let description = try SessionDescription(parsing: text)
        #expect(description.sessionName == "Hội nghị")
        #expect(description.information == "Tỉnh Vĩnh Phúc")
        #expect(description.bandwidths == [Bandwidth(type: "AS", value: 512)])
        #expect(description.timings == [Timing(start: 3_034_423_619, stop: 3_042_462_419, repeats: ["7d 1h 0 25h"])])
        #expect(description.otherFields.map(\.type) == ["u", "e", "z"])
        #expect(description.media[0].portCount == 2)
        #expect(description.media[0].information == "voice")
        #expect(description.media[0].otherFields == [SDPField(type: "k", value: "prompt")])
        #expect(description.media[0].codecs.map(\.encodingName) == ["PCMU", "PCMA", "G722"])
        #expect(description.media[0].attributes[1].name == "crypto")
        #expect(description.connection(for: description.media[0])?.address == "198.51.100.1")
        #expect(description.connection(for: description.media[1])?.addressType == "IP6")
        #expect(try SessionDescription(parsing: description.text) == description)
    }

    @Test("trailing spaces and tabs after a value are ignored (as some SIP room systems send them)")
    func trailingWhitespace() throws {
        let text = "v=0 \r\no=- 1 1 IN IP4 192.0.2.1\t\r\ns=-\r\nt=0 0  \r\nm=audio 5004 RTP/AVP 9 \r\na=sendrecv \r\n"
            + "a=rtpmap:9 G722/8000 \r\n"
        let description = try SessionDescription(parsing: text)
        #expect(description.origin.address == "192.0.2.1")
        #expect(description.media[0].formats == ["9"])
        #expect(description.media[0].direction == .sendrecv)
        #expect(description.media[0].rtpMaps == [RTPMap(payloadType: 9, encodingName: "G722", clockRate: 8_000)])
    }
}
