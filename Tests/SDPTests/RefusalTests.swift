import Testing
@testable import SDP

@Suite("WebRTC offers the bridge refuses")
struct RefusalTests {
    struct Case: Sendable, CustomStringConvertible {
        let name: String
        let offer: String
        let reason: WebRTCOfferError.Reason
        let mid: String?
        var description: String { name }
    }

    static let chromium = Fixture.chromium120.text
    static let sha1 = "a=fingerprint:sha-1 " + (0..<20).map { _ in "AB" }.joined(separator: ":")

    static let cases: [Case] = [
        Case(name: "no BUNDLE group", offer: chromium.droppingLines { $0.hasPrefix("a=group:BUNDLE") },
             reason: .notBundled, mid: nil),
        Case(name: "no rtcp-mux", offer: chromium.droppingLines { $0 == "a=rtcp-mux" }, reason: .noRTCPMux, mid: "0"),
        Case(name: "no rtcp-mux on the video sections",
             offer: chromium.replacingLines("a=rtcp-rsize", with: "a=x-no-mux").droppingLines { $0 == "a=rtcp-mux" }
                .replacingLines("a=rtpmap:111 opus/48000/2", with: "a=rtcp-mux\r\na=rtpmap:111 opus/48000/2"),
             reason: .noRTCPMux, mid: "1"),
        Case(name: "no fingerprint", offer: chromium.droppingLines { $0.hasPrefix("a=fingerprint:") },
             reason: .noFingerprint, mid: "0"),
        Case(name: "only a sha-1 fingerprint",
             offer: chromium.mappingLines(withPrefix: "a=fingerprint:") { _ in sha1 },
             reason: .unsupportedFingerprintHash, mid: "0"),
        Case(name: "no ice-ufrag", offer: chromium.droppingLines { $0.hasPrefix("a=ice-ufrag:") },
             reason: .noICECredentials, mid: "0"),
        Case(name: "no ice-pwd", offer: chromium.droppingLines { $0.hasPrefix("a=ice-pwd:") },
             reason: .noICECredentials, mid: "0"),
        Case(name: "setup passive", offer: chromium.replacingLines("a=setup:actpass", with: "a=setup:passive"),
             reason: .unsupportedSetupRole, mid: "0"),
        Case(name: "setup holdconn", offer: chromium.replacingLines("a=setup:actpass", with: "a=setup:holdconn"),
             reason: .unsupportedSetupRole, mid: "0"),
        Case(name: "an ICE-lite peer",
             offer: chromium.replacingLines("a=extmap-allow-mixed", with: "a=extmap-allow-mixed\r\na=ice-lite"),
             reason: .peerIsICELite, mid: nil),
        Case(name: "no Opus", offer: chromium.droppingLines { $0 == "a=rtpmap:111 opus/48000/2" },
             reason: .noOpus, mid: "0"),
        Case(name: "Opus mono only", offer: chromium.replacingLines("a=rtpmap:111 opus/48000/2", with: "a=rtpmap:111 opus/48000/1"),
             reason: .noOpus, mid: "0"),
        Case(name: "no VP8 and no usable H.264",
             offer: chromium.droppingLines { $0 == "a=rtpmap:96 VP8/90000" }
                .mappingLines(withPrefix: "a=fmtp:106 ") { _ in "a=fmtp:106 packetization-mode=0;profile-level-id=42e01f" },
             reason: .noVideoCodec, mid: "1"),
        Case(name: "no audio section", offer: Self.withoutAudio, reason: .noAudio, mid: nil),
        Case(name: "audio disabled (port 0)",
             offer: chromium.replacingLines("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
                                            with: "m=audio 0 UDP/TLS/RTP/SAVPF 111"),
             reason: .noAudio, mid: nil),
        Case(name: "audio outside the BUNDLE group",
             offer: chromium.replacingLines("a=group:BUNDLE 0 1 2", with: "a=group:BUNDLE 1 2"),
             reason: .noAudio, mid: nil),
        Case(name: "audio over plain RTP",
             offer: chromium.replacingLines("m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
                                            with: "m=audio 9 RTP/AVP 111 63 9 0 8 13 110 126"),
             reason: .noAudio, mid: nil),
        Case(name: "bundled sections with different ICE credentials",
             offer: Self.differentCredentials, reason: .inconsistentTransport, mid: "1"),
    ]

    /// The Chromium offer without its audio section (BUNDLE names only the video).
    static var withoutAudio: String {
        let lines = chromium.split(separator: "\r\n", omittingEmptySubsequences: false)
        let audioStart = lines.firstIndex { $0.hasPrefix("m=audio") }!
        let videoStart = lines.firstIndex { $0.hasPrefix("m=video") }!
        return (lines[..<audioStart] + lines[videoStart...]).joined(separator: "\r\n")
            .replacingLines("a=group:BUNDLE 0 1 2", with: "a=group:BUNDLE 1 2")
    }

    /// The camera section with its own ICE credentials.
    static var differentCredentials: String {
        var seen = 0
        return chromium.mappingLines(withPrefix: "a=ice-ufrag:") { line in
            seen += 1
            return seen == 2 ? "a=ice-ufrag:Zz9y" : String(line)
        }
    }

    @Test("each refusal names its reason and section", arguments: cases)
    func refusal(_ testCase: Case) throws {
        let offer = try SessionDescription(parsing: testCase.offer)
        let bridge = try Bridge.parameters()
        do throws(WebRTCOfferError) {
            let answer = try WebRTCAnswerer.answer(to: offer, bridge: bridge)
            Issue.record("answered: \(answer.text)")
        } catch {
            #expect(error.reason == testCase.reason, "\(error)")
            #expect(error.mid == testCase.mid, "\(error)")
            #expect(error.httpStatus == 400)
            #expect(error.description.hasPrefix("offer refused: \(testCase.reason)"))
        }
    }

    @Test("refusals say what the offer had")
    func details() throws {
        func refusal(_ text: String) throws -> WebRTCOfferError? {
            let offer = try SessionDescription(parsing: text)
            let bridge = try Bridge.parameters()
            do throws(WebRTCOfferError) {
                _ = try WebRTCAnswerer.answer(to: offer, bridge: bridge)
                return nil
            } catch {
                return error
            }
        }
        let sha1 = try refusal(Self.chromium.mappingLines(withPrefix: "a=fingerprint:") { _ in Self.sha1 })
        #expect(sha1?.description == "offer refused: no sha-256 DTLS fingerprint (mid 0): offered sha-1")
        let unbundled = try refusal(Self.chromium.replacingLines("a=group:BUNDLE 0 1 2", with: "a=group:BUNDLE 1 2"))
        #expect(unbundled?.detail == "mid 0 is not in the BUNDLE group")
        let noOpus = try refusal(Self.chromium.droppingLines { $0 == "a=rtpmap:111 opus/48000/2" })
        #expect(noOpus?.detail == "offered red, G722, PCMU, PCMA, CN, telephone-event, telephone-event")
    }

    @Test("the bridge's own parameters are checked before any answer")
    func bridgeParameters() {
        func error(ice: ICECredentials = Bridge.ice, fingerprint: Fingerprint = Bridge.fingerprint,
                   address: String = "203.0.113.7", port: UInt16 = 40_000,
                   audio: OutgoingStream = Bridge.audio) -> WebRTCParameterError? {
            do throws(WebRTCParameterError) {
                _ = try WebRTCBridgeParameters(ice: ice, fingerprint: fingerprint, address: address, port: port,
                                               audio: audio, presenter: Bridge.presenter, speaker: Bridge.speaker,
                                               sessionID: 1)
                return nil
            } catch {
                return error
            }
        }
        #expect(error() == nil)
        #expect(error(address: "::1") == nil)
        #expect(error(address: "fe80::1:2:3:4") == nil)
        #expect(error(address: "::ffff:192.0.2.1") == nil)
        #expect(error(address: "2001:db8:0:0:0:0:0:1") == nil)
        #expect(error(ice: ICECredentials(ufrag: "ab", pwd: Bridge.ice.pwd)) != nil)
        #expect(error(ice: ICECredentials(ufrag: "ab cd", pwd: Bridge.ice.pwd)) != nil)
        #expect(error(ice: ICECredentials(ufrag: "abcd", pwd: "short")) != nil)
        #expect(error(fingerprint: Fingerprint(hashFunction: "sha-1", bytes: Array(repeating: 1, count: 20))) != nil)
        #expect(error(fingerprint: .sha256([1, 2, 3])) != nil)
        for address in ["", "bridge.example", "1.2.3", "256.1.1.1", "1.2.3.4.5", "2001:db8::1::2", "12345::1",
                        "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::g"] {
            #expect(error(address: address) != nil, "\(address)")
        }
        #expect(error(port: 0) != nil)
        #expect(error(audio: OutgoingStream(ssrc: 9, cname: "has space", streamID: "s", trackID: "t")) != nil)
        #expect(error(audio: OutgoingStream(ssrc: Bridge.presenter.ssrc, cname: "c", streamID: "s", trackID: "t")) != nil)
    }
}
