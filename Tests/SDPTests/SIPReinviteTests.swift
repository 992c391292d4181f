import Testing
@testable import SDP

@Suite("SIP re-INVITE and UPDATE: answers within a dialog, and what changed")
struct SIPReinviteTests {
    static let poly = SIPFixture.poly.text

    static func first() throws -> SIPNegotiation { try SIPBridge.answer(poly).negotiation }

    @Test("the same offer again: the same answer and nothing changed")
    func sameOffer() throws {
        let first = try Self.first()
        let again = try SIPBridge.answer(Self.poly, current: first)
        #expect(again.negotiation == first)
        #expect(again.negotiation.changes(from: first).isEmpty)
    }

    @Test("hold with sendonly, then inactive, then resume: only the direction changes")
    func hold() throws {
        let first = try Self.first()
        let held = try SIPBridge.answer(Self.poly.replacingLines("a=sendrecv", with: "a=sendonly"), current: first)
        #expect(held.negotiation.audio.media.direction == .recvonly)
        #expect(held.negotiation.video?.media.direction == .recvonly)
        #expect(held.negotiation.changes(from: first) == [.direction])
        #expect(SIPBridge.lines(held.text).filter { $0 == "a=recvonly" }.count == 2)
        let inactive = try SIPBridge.answer(Self.poly.replacingLines("a=sendrecv", with: "a=inactive"),
                                            current: held.negotiation)
        #expect(inactive.negotiation.audio.media.direction == .inactive)
        #expect(inactive.negotiation.changes(from: held.negotiation) == [.direction])
        let resumed = try SIPBridge.answer(Self.poly, current: inactive.negotiation)
        #expect(resumed.negotiation == first)
    }

    static let line80 = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:308gCqBgaHi/TNJKVGBil31kV8QbH80EO74oUeqN|2^48"
    static let line32 = "a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:Glx+duHJ5e81ak4sLX5PUjCONyfDFtmnt92VvWSA|2^48"

    @Test("the current codec and crypto tag are kept while still offered, even when others come first")
    func keepsCodecAndTag() throws {
        // The first offer had only the _32 line on audio, so the dialog keys with tag 2.
        let first = try SIPBridge.answer(Self.poly.droppingLines { $0 == Self.line80 }).negotiation
        #expect(first.audio.media.srtp?.tag == 2)
        // Now Opus comes first and the _80 line is back.
        let reoffer = Self.poly
            .replacingLines("m=audio 49172 RTP/SAVP 115 102 9 0 8 101",
                            with: "m=audio 49172 RTP/SAVP 111 115 102 9 0 8 101\r\na=rtpmap:111 opus/48000/2")
        let kept = try SIPBridge.answer(reoffer, current: first)
        #expect(kept.negotiation.audio.codec == .g722)
        #expect(kept.negotiation.audio.media.srtp?.tag == 2)
        #expect(kept.negotiation.audio.media.srtp?.suite == .aesCM128HMACSHA1_32)
        #expect(kept.negotiation.changes(from: first).isEmpty)
        // A new dialog with the same offer picks Opus and the _80 line.
        let fresh = try SIPBridge.answer(reoffer).negotiation
        #expect(fresh.audio.codec == .opus)
        #expect(fresh.audio.media.srtp?.tag == 1)
        #expect(fresh.changes(from: first) == [.audioCodec, .remoteKey])
    }

    @Test("a codec dropped, a new key, a new address: each reported")
    func changes() throws {
        let first = try Self.first()
        let noG722 = Self.poly.replacingLines("m=audio 49172 RTP/SAVP 115 102 9 0 8 101",
                                              with: "m=audio 49172 RTP/SAVP 115 102 0 8 101")
        let pcma = try SIPBridge.answer(noG722, current: first)
        #expect(pcma.negotiation.audio.codec == .pcma)
        #expect(pcma.negotiation.changes(from: first) == [.audioCodec])

        let rekeyed = Self.poly.replacingLines(
            "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:308gCqBgaHi/TNJKVGBil31kV8QbH80EO74oUeqN|2^48",
            with: "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:QMKdK3fNO6lWEGaraW2w+CmDtjQmxttqDLXUzgeD")
        #expect(try SIPBridge.answer(rekeyed, current: first).negotiation.changes(from: first) == [.remoteKey])

        let moved = Self.poly.replacingLines("c=IN IP4 192.0.2.21", with: "c=IN IP4 192.0.2.99")
        #expect(try SIPBridge.answer(moved, current: first).negotiation.changes(from: first) == [.remoteAddress])

        let noVideo = try SIPBridge.answer(Self.poly, videoPort: nil, current: first)
        #expect(noVideo.negotiation.changes(from: first) == [.videoCodec, .remoteAddress, .remoteKey, .localKey,
                                                             .direction])

        var ourNewKey = first
        ourNewKey.audio.media.srtp?.localKey = try SDESKey(keySalt: Array(repeating: 1, count: 30))
        #expect(first.changes(from: ourNewKey) == [.localKey])
    }
}
