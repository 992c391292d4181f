import Testing
@testable import SDP

@Suite("SDES a=crypto lines (RFC 4568)")
struct SDESCryptoTests {
    /// baresip's line from the captured offer; the key's bytes decoded by Python's base64 module.
    static let baresipLine = "1 AES_CM_128_HMAC_SHA1_80 inline:4Xh5BJn2S6619VGggFbHs0vYY3GdIHOxXrdK3QYZ"
    static let baresipKey: [UInt8] = [225, 120, 121, 4, 153, 246, 75, 174, 181, 245, 81, 160, 128, 86, 199, 179,
                                      75, 216, 99, 113, 157, 32, 115, 177, 94, 183, 74, 221, 6, 25]
    static let key = "4Xh5BJn2S6619VGggFbHs0vYY3GdIHOxXrdK3QYZ"

    @Test("baresip's line parses to its tag, suite and the 30 bytes Python decodes")
    func baresipLineParses() throws {
        let crypto = try SDESCrypto.parse(Self.baresipLine)
        #expect(crypto.tag == 1)
        #expect(crypto.suite == .aesCM128HMACSHA1_80)
        #expect(crypto.key.keySalt == Self.baresipKey)
        #expect(crypto.lifetime == nil)
        #expect(crypto.attributeValue == Self.baresipLine)
    }

    @Test("the 32-bit tag suite, lifetimes of 2^31 and more, and WSH are taken")
    func acceptedForms() throws {
        let short = try SDESCrypto.parse("7 AES_CM_128_HMAC_SHA1_32 inline:\(Self.key)|2^31 WSH=64")
        #expect(short.suite == .aesCM128HMACSHA1_32)
        #expect(short.tag == 7)
        #expect(short.lifetime == 1 << 31)
        #expect(try SDESCrypto.parse("1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)|2^48").lifetime == 1 << 48)
        #expect(try SDESCrypto.parse("1 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)|2147483648").lifetime == 1 << 31)
        #expect(try SDESCrypto.parse("999999999 AES_CM_128_HMAC_SHA1_80 inline:\(Self.key)").tag == 999_999_999)
    }

    @Test("formatting writes the key in base64 as Python does")
    func formatting() throws {
        let crypto = SDESCrypto(tag: 3, suite: .aesCM128HMACSHA1_80, key: try SDESKey(keySalt: SIPBridge.audioKeyBytes))
        #expect(crypto.attribute.text == "crypto:3 AES_CM_128_HMAC_SHA1_80 inline:\(SIPBridge.audioKeyText)")
        #expect(try SDESCrypto.parse(crypto.attributeValue) == crypto)
    }

    @Test("base64 matches RFC 4648's test vectors both ways and refuses non-canonical text")
    func base64Vectors() {
        let vectors = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="),
                       ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy")]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(Array(plain.utf8)) == encoded)
            #expect(Base64.decode(encoded[...]) == Array(plain.utf8))
        }
        for bad in ["Zg=", "Zg", "Z===", "Zh==", "Zm9=v", "Zm 9", "Zm9v!A==", "=Zm9"] {
            #expect(Base64.decode(bad[...]) == nil, "\(bad)")
        }
    }

    struct Refusal: Sendable, CustomStringConvertible {
        let name: String
        let line: String
        let reason: SDESCryptoError.Reason
        var description: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(name: "bad base64", line: "1 AES_CM_128_HMAC_SHA1_80 inline:4Xh5BJn2S6619VGggFbHs0vYY3GdIHOxXrdK3QY!",
                reason: .badBase64),
        Refusal(name: "29 bytes", line: "1 AES_CM_128_HMAC_SHA1_80 inline:lJLVSjSqaZUQbfKYBM+5Jww4/Ys9Rzpj7jv6biM=",
                reason: .wrongKeyLength),
        Refusal(name: "unknown suite", line: "1 AES_256_CM_HMAC_SHA1_80 inline:\(key)", reason: .unknownSuite),
        Refusal(name: "F8 suite", line: "1 F8_128_HMAC_SHA1_80 inline:\(key)", reason: .unknownSuite),
        Refusal(name: "MKI", line: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|2^31|1:4", reason: .mkiNotSupported),
        Refusal(name: "MKI without lifetime", line: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|1:4",
                reason: .mkiNotSupported),
        Refusal(name: "lifetime 2^20", line: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|2^20", reason: .shortLifetime),
        Refusal(name: "lifetime 2^31-1", line: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|2147483647",
                reason: .shortLifetime),
        Refusal(name: "two keys", line: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key);inline:\(key)", reason: .multipleKeys),
        Refusal(name: "unencrypted SRTP", line: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key) UNENCRYPTED_SRTP",
                reason: .unsupportedSessionParameter),
        Refusal(name: "KDR", line: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key) KDR=10",
                reason: .unsupportedSessionParameter),
        Refusal(name: "no key", line: "1 AES_CM_128_HMAC_SHA1_80", reason: .malformed),
        Refusal(name: "tag not digits", line: "x1 AES_CM_128_HMAC_SHA1_80 inline:\(key)", reason: .malformed),
        Refusal(name: "ten-digit tag", line: "1234567890 AES_CM_128_HMAC_SHA1_80 inline:\(key)", reason: .malformed),
        Refusal(name: "garbage after the key", line: "1 AES_CM_128_HMAC_SHA1_80 inline:\(key)|2^48|2^48",
                reason: .malformed),
        Refusal(name: "not inline", line: "1 AES_CM_128_HMAC_SHA1_80 uri:http://example.com/key", reason: .notInline),
        Refusal(name: "key where the suite goes", line: "1 \(key) inline:\(key)", reason: .unknownSuite),
    ]

    @Test("each bad line is refused with its named reason, and no error shows the key", arguments: refusals)
    func refused(_ refusal: Refusal) {
        #expect(throws: SDESCryptoError.self) { try SDESCrypto.parse(refusal.line) }
        do {
            _ = try SDESCrypto.parse(refusal.line)
        } catch {
            #expect(error.reason == refusal.reason, "\(error)")
            #expect(!error.description.contains("4Xh5BJn2S6619"), "\(error)")
            #expect(!error.description.contains("lJLVSjSqaZUQ"), "\(error)")
        }
    }

    @Test("a key's text forms never show its bytes")
    func keyIsNotPrinted() throws {
        let key = try SDESKey(keySalt: Self.baresipKey)
        #expect(!"\(key)".contains("225"))
        #expect(!String(reflecting: key).contains("225"))
        #expect(throws: SDESCryptoError.self) { try SDESKey(keySalt: Array(Self.baresipKey.prefix(29))) }
    }
}
