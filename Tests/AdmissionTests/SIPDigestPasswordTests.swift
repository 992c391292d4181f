import Testing
import KeyDerivation
@testable import Admission

@Suite("SIP digest credentials derived from a site's secret")
struct SIPDigestPasswordTests {
    @Test("stable for a site, 22 printable characters, different per site and per secret")
    func derivation() throws {
        let secret = [UInt8](repeating: 0x42, count: SiteKey.secretLength)
        let key = SiteKey(site: "hn-ba-dinh", secret: secret, generation: 1)
        let (username, password) = try SIPDigestPassword.credentials(for: key)
        #expect(username == "hn-ba-dinh")
        #expect(password.count == 22)
        #expect(password.utf8.allSatisfy { $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || ($0 >= 0x30 && $0 <= 0x39)
            || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) })
        #expect(try SIPDigestPassword.password(site: "hn-ba-dinh", secret: secret) == password)
        // Pinned: changing the label or the encoding would lock every hall out until re-typed.
        let expected = try HKDF.deriveKey(inputKeyMaterial: secret, salt: [], info: Array("vcbridge sip digest v1 hn-ba-dinh".utf8), length: 16)
        #expect(Self.base64url(expected) == password)
        #expect(try SIPDigestPassword.password(site: "hn-hoan-kiem", secret: secret) != password)
        var other = secret
        other[0] ^= 1
        #expect(try SIPDigestPassword.password(site: "hn-ba-dinh", secret: other) != password)
    }

    /// An independent base64url (bit string, 6 bits at a time).
    static func base64url(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
        let bits = bytes.flatMap { byte in (0..<8).map { (byte >> (7 - $0)) & 1 } }
        var out = ""
        var index = 0
        while index < bits.count {
            var value = 0
            for offset in 0..<6 { value = value << 1 | Int(index + offset < bits.count ? bits[index + offset] : 0) }
            out.append(alphabet[value])
            index += 6
        }
        return out
    }
}
