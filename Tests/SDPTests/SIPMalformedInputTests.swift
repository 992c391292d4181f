import Testing
@testable import SDP

/// xorshift64*: a seeded generator so a failing round reproduces.
private struct XorShiftGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }
}

@Suite("SIP offers and a=crypto lines from a hostile or broken peer")
struct SIPMalformedInputTests {
    /// The base64 keys in the SIP fixtures: no error may show one.
    static let fixtureKeys = ["4Xh5BJn2S6619VGggFbHs0vYY3GdIHOxXrdK3QYZ", "308gCqBgaHi/TNJKVGBil31kV8QbH80EO74oUeqN",
                              "Glx+duHJ5e81ak4sLX5PUjCONyfDFtmnt92VvWSA", "/G7HQKuRMY+QHmE0ARuUkRAoqDEgBTZTte1rQ0Iq",
                              "kBH8EzATSgb6gNbJbBK69BaV1yuEb7I2aiM34fQ5", "u4fIvL/Ne11zIhbV0VbLMJpGWCq09ZZk+OIEiNNT"]

    @Test("seeded mutations of the SIP fixtures: answered or refused by name, never a trap, no key in any error")
    func mutatedOffers() throws {
        var random = XorShiftGenerator(state: 0x5EED_0015)
        let fixtures = [SIPFixture.baresipSRTPMandatory, .poly, .cisco].map { Array($0.text.utf8) }
        let policies = [SIPMediaPolicy(), SIPMediaPolicy(allowsPlainRTP: true)]
        let bridge = try SIPBridge.parameters()
        let alphabet = Array("0123456789 :|^;=/+AaZz_\r\n\u{0}".utf8) + [0xFF]
        var answered = 0
        var refused = 0
        for round in 0..<1_500 {
            var bytes = fixtures[round % fixtures.count]
            if round % 2 == 0 {
                for _ in 0..<Int.random(in: 1...6, using: &random) {
                    bytes[Int.random(in: 0..<bytes.count, using: &random)] = alphabet.randomElement(using: &random)!
                }
            } else {
                var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let index = Int.random(in: 0..<lines.count, using: &random)
                    switch Int.random(in: 0..<3, using: &random) {
                    case 0: lines.remove(at: index)
                    case 1: lines.insert(lines[index], at: index)
                    default: lines[index] = Array(lines[index].prefix(Int.random(in: 0...lines[index].count, using: &random)))
                    }
                }
                bytes = Array(lines.joined(separator: [0x0A]))
            }
            guard let offer = try? SessionDescription(parsing: bytes) else { continue }
            do {
                let answer = try SIPAnswerer.answer(to: offer, bridge: bridge, policy: policies[round % 2 == 0 ? 0 : 1])
                // What the bridge writes always parses back, one section per offered one.
                #expect(try SessionDescription(parsing: answer.text).media.count == offer.media.count)
                answered += 1
            } catch {
                refused += 1
                for key in Self.fixtureKeys { #expect(!"\(error)".contains(key.prefix(12))) }
            }
        }
        #expect(answered > 300, "\(answered) answered")
        #expect(refused > 20, "\(refused) refused")
    }

    @Test("seeded junk a=crypto values: each parsed or refused by name, no trap")
    func junkCrypto() {
        var random = XorShiftGenerator(state: 0xC0FFEE)
        let pieces = ["1", "0", "999999999", "1234567890", " ", "  ", "AES_CM_128_HMAC_SHA1_80", "AES_CM_128_HMAC_SHA1_32",
                      "inline:", "4Xh5BJn2S6619VGggFbHs0vYY3GdIHOxXrdK3QYZ", "=", "==", "|", "2^", "31", "64", "99",
                      "1:4", ";", "WSH=64", "KDR=1", "\u{0}", "é", "//", "++"]
        var parsed = 0
        for _ in 0..<3_000 {
            // A valid line with some of its fields replaced, or only junk.
            var fields = ["1", " ", "AES_CM_128_HMAC_SHA1_80", " ", "inline:", "4Xh5BJn2S6619VGggFbHs0vYY3GdIHOxXrdK3QYZ",
                          "|", "2^31"]
            if Bool.random(using: &random) {
                for _ in 0..<Int.random(in: 0...2, using: &random) {
                    fields[Int.random(in: 0..<fields.count, using: &random)] = pieces.randomElement(using: &random)!
                }
            } else {
                fields = (0..<Int.random(in: 0...8, using: &random)).map { _ in pieces.randomElement(using: &random)! }
            }
            let value = fields.joined()
            do {
                let crypto = try SDESCrypto.parse(value)
                #expect(crypto.key.keySalt.count == 30)
                parsed += 1
            } catch {
                #expect(!error.description.contains("4Xh5BJn2S66"))
            }
        }
        #expect(parsed > 100, "\(parsed) parsed")
    }
}
