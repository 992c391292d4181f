/// Why an `a=crypto` line (RFC 4568) cannot key the bridge's SRTP. Never carries key material.
public struct SDESCryptoError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Hashable, Sendable {
            case malformed = "not '<tag> <suite> inline:<key>[|lifetime]' (RFC 4568 §9.1)"
            case unknownSuite = "a crypto suite other than AES_CM_128_HMAC_SHA1_80 or _32"
            case notInline = "a key method other than inline"
            case badBase64 = "the key is not base64"
            case wrongKeyLength = "the key and salt are not 30 bytes"
            case shortLifetime = "a key lifetime under 2^31 packets (the bridge does not rekey)"
            case mkiNotSupported = "an MKI (the bridge keys one master key per stream)"
            case multipleKeys = "more than one key"
            case unsupportedSessionParameter = "a session parameter other than WSH"
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// Not the line's grammar (fields missing, a tag that is not 1-9 digits, a stray key field).
        public static var malformed: Reason { .init(.malformed) }
        /// A suite the bridge does not take (AES_192/256, F8, NULL, GCM...).
        public static var unknownSuite: Reason { .init(.unknownSuite) }
        /// The key parameter is not `inline:`.
        public static var notInline: Reason { .init(.notInline) }
        /// The key is not strict base64.
        public static var badBase64: Reason { .init(.badBase64) }
        /// The decoded key and salt are not exactly 30 bytes.
        public static var wrongKeyLength: Reason { .init(.wrongKeyLength) }
        /// A lifetime below 2^31.
        public static var shortLifetime: Reason { .init(.shortLifetime) }
        /// An `|MKI:length` field.
        public static var mkiNotSupported: Reason { .init(.mkiNotSupported) }
        /// Several `inline:` keys separated by `;`.
        public static var multipleKeys: Reason { .init(.multipleKeys) }
        /// KDR, UNENCRYPTED_SRTP/SRTCP, UNAUTHENTICATED_SRTP, FEC_ORDER, FEC_KEY or an unknown parameter.
        public static var unsupportedSessionParameter: Reason { .init(.unsupportedSessionParameter) }

        public var description: String { code.rawValue }
    }

    public let reason: Reason
    /// The line's tag when it was read.
    public let tag: UInt32?
    /// More about what the line said (counts and names, never key bytes).
    public let detail: String

    init(_ reason: Reason, tag: UInt32? = nil, detail: String = "") {
        self.reason = reason
        self.tag = tag
        self.detail = detail
    }

    public var description: String {
        var text = "a=crypto refused: \(reason)"
        if let tag { text += " (tag \(tag))" }
        if !detail.isEmpty { text += ": \(detail)" }
        return text
    }
}
