/// An SRTP crypto suite SDES can name (RFC 4568 §6.2); both are libsrtp2's.
///
/// The bridge offers only ``aesCM128HMACSHA1_80`` (the requirement). In an offer it prefers that suite and
/// takes ``aesCM128HMACSHA1_32`` only when no usable `_80` line is there: the 32-bit tag is weaker but still
/// authenticated, and some older room systems offer it alone.
public enum SRTPCryptoSuite: String, Hashable, Sendable, CaseIterable {
    /// AES-128 counter mode, HMAC-SHA1 with an 80-bit tag.
    case aesCM128HMACSHA1_80 = "AES_CM_128_HMAC_SHA1_80"
    /// AES-128 counter mode, HMAC-SHA1 with a 32-bit tag on SRTP (80 on SRTCP).
    case aesCM128HMACSHA1_32 = "AES_CM_128_HMAC_SHA1_32"

    /// Both suites take a 16-byte master key and a 14-byte salt.
    public static let keySaltLength = 30
}

/// An SRTP master key and salt (30 bytes) from or for an `a=crypto` line. Its text forms never show the bytes.
public struct SDESKey: Hashable, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The 16-byte master key followed by the 14-byte master salt.
    public let keySalt: [UInt8]

    /// - Throws: ``SDESCryptoError/Reason/wrongKeyLength`` unless `keySalt` is exactly 30 bytes.
    public init(keySalt: [UInt8]) throws(SDESCryptoError) {
        guard keySalt.count == SRTPCryptoSuite.keySaltLength else {
            throw SDESCryptoError(.wrongKeyLength, detail: "\(keySalt.count) bytes, not 30")
        }
        self.keySalt = keySalt
    }

    public var description: String { "SDESKey(30 bytes, not shown)" }
    public var debugDescription: String { description }
}

/// One `a=crypto` line (RFC 4568 §9.1): `<tag> <suite> inline:<base64 key||salt>[|lifetime][|MKI:len] [params]`.
///
/// Parsing takes what libsrtp2 can key as the bridge runs it: one inline key of exactly 30 bytes, a lifetime of at
/// least 2^31 packets or none, no MKI, and no session parameter but `WSH` (a replay window hint, ignored).
/// Everything else is refused with a named ``SDESCryptoError``; the key is never echoed in an error.
public struct SDESCrypto: Hashable, Sendable {
    /// 1 to 9 decimal digits; the answer repeats the offer's tag.
    public var tag: UInt32
    public var suite: SRTPCryptoSuite
    public var key: SDESKey
    /// The key's lifetime in packets when the line gives one (`2^n` saturates at `UInt64.max`).
    public var lifetime: UInt64?

    public init(tag: UInt32, suite: SRTPCryptoSuite, key: SDESKey, lifetime: UInt64? = nil) {
        self.tag = tag
        self.suite = suite
        self.key = key
        self.lifetime = lifetime
    }

    /// The smallest lifetime accepted: the bridge never rekeys within a call.
    public static let minimumLifetime: UInt64 = 1 << 31

    /// The line's value after `a=crypto:`, as written for an offer or answer (no lifetime: the default maximum).
    public var attributeValue: String { "\(tag) \(suite.rawValue) inline:\(Base64.encode(key.keySalt))" }

    /// The `a=crypto` attribute.
    public var attribute: SDPAttribute { .other(name: "crypto", value: attributeValue) }

    /// Parses the value of an `a=crypto` line.
    /// - Throws: ``SDESCryptoError`` naming the first thing the bridge cannot take.
    public static func parse(_ value: String) throws(SDESCryptoError) -> SDESCrypto {
        let fields = value.split(separator: " ", omittingEmptySubsequences: true)
        guard fields.count >= 3 else {
            throw SDESCryptoError(.malformed, detail: "want '<tag> <suite> inline:<key>', got \(fields.count) fields")
        }
        guard (1...9).contains(fields[0].utf8.count), SDPSyntax.isDigits(fields[0]),
              let tag = UInt32(fields[0]) else {
            throw SDESCryptoError(.malformed, detail: "the tag is not 1-9 digits")
        }
        guard let suite = SRTPCryptoSuite(rawValue: String(fields[1])) else {
            throw SDESCryptoError(.unknownSuite, tag: tag, detail: "'\(nameForMessage(fields[1]))'")
        }
        let keyParams = fields[2].split(separator: ";", omittingEmptySubsequences: false)
        guard keyParams.count == 1 else {
            throw SDESCryptoError(.multipleKeys, tag: tag, detail: "\(keyParams.count) key parameters")
        }
        let (key, lifetime) = try parseKeyParameter(fields[2], tag: tag)
        for parameter in fields.dropFirst(3) {
            let name = parameter.split(separator: "=", maxSplits: 1).first ?? parameter
            guard name == "WSH" else {
                throw SDESCryptoError(.unsupportedSessionParameter, tag: tag, detail: "'\(nameForMessage(name))'")
            }
        }
        return SDESCrypto(tag: tag, suite: suite, key: key, lifetime: lifetime)
    }

    /// `inline:<key||salt>[|lifetime][|MKI:length]`.
    private static func parseKeyParameter(_ text: Substring,
                                          tag: UInt32) throws(SDESCryptoError) -> (SDESKey, UInt64?) {
        guard text.hasPrefix("inline:") else {
            let method = text.split(separator: ":", maxSplits: 1).first ?? text
            throw SDESCryptoError(.notInline, tag: tag, detail: "key method '\(nameForMessage(method))'")
        }
        let parts = text.dropFirst("inline:".count).split(separator: "|", omittingEmptySubsequences: false)
        guard let keyBytes = Base64.decode(parts[0]) else {
            throw SDESCryptoError(.badBase64, tag: tag, detail: "\(parts[0].utf8.count) characters")
        }
        let key: SDESKey
        do { key = try SDESKey(keySalt: keyBytes) } catch { throw SDESCryptoError(error.reason, tag: tag, detail: error.detail) }
        var lifetime: UInt64?
        for (index, part) in parts.dropFirst().enumerated() {
            if part.contains(":") {
                throw SDESCryptoError(.mkiNotSupported, tag: tag)
            }
            guard index == 0, lifetime == nil, let value = parseLifetime(part) else {
                throw SDESCryptoError(.malformed, tag: tag, detail: "a key field after the key is neither a lifetime nor an MKI")
            }
            guard value >= minimumLifetime else {
                throw SDESCryptoError(.shortLifetime, tag: tag, detail: "\(value) packets, the least taken is 2^31")
            }
            lifetime = value
        }
        return (key, lifetime)
    }

    /// `2^<1-2 digits>` or decimal digits (RFC 4568 §9.1); saturates at `UInt64.max`.
    private static func parseLifetime(_ text: Substring) -> UInt64? {
        if text.hasPrefix("2^") {
            let exponent = text.dropFirst(2)
            guard (1...2).contains(exponent.utf8.count), let power = UInt64(exponent) else { return nil }
            return power >= 64 ? UInt64.max : 1 << power
        }
        guard text.utf8.count <= 20, SDPSyntax.isDigits(text) else { return nil }
        return UInt64(text) ?? UInt64.max
    }
}

/// A name from the line for an error message: letters, digits, `_`, `-` up to 32 of them (a 30-byte key is 40), else a placeholder, so a
/// key written in the wrong place is never echoed.
private func nameForMessage(_ text: Substring) -> String {
    let isName = text.utf8.count <= 32 && text.utf8.allSatisfy { byte in
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }
    return isName ? String(text) : "(\(text.utf8.count) characters, not shown)"
}

extension [SDPAttribute] {
    /// The values of the `a=crypto` lines, in order.
    var cryptoValues: [String] {
        compactMap { if case .other(name: "crypto", value: let value?) = $0 { value } else { nil } }
    }
}
