/// Why bytes are not an acceptable STUN message, or why one could not be written.
/// Two errors are equal when they are the same kind; ``attribute`` and ``offset`` add detail.
public struct STUNError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case truncatedHeader, notSTUN, badMagicCookie, lengthNotMultipleOfFour, lengthMismatch
        case truncatedAttribute, malformedAttribute, attributeAfterFingerprint
        case bufferTooSmall, valueTooLong, integrityUnavailable
    }
    private let kind: Kind
    /// The attribute type involved (0 when none).
    public let attribute: UInt16
    /// The byte offset in the message where the problem was found (0 when none).
    public let offset: Int

    private init(_ kind: Kind, attribute: UInt16 = 0, offset: Int = 0) {
        self.kind = kind
        self.attribute = attribute
        self.offset = offset
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.kind == rhs.kind }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind) }

    /// Fewer than the 20 bytes of a STUN header.
    public static var truncatedHeader: Self { .init(.truncatedHeader) }
    /// The two most significant bits of the message are not zero (RFC 5389 §6): not STUN.
    public static var notSTUN: Self { .init(.notSTUN) }
    /// The magic cookie is not 0x2112A442 (RFC 5389 §6).
    public static var badMagicCookie: Self { .init(.badMagicCookie) }
    /// The header's message length is not a multiple of 4.
    public static var lengthNotMultipleOfFour: Self { .init(.lengthNotMultipleOfFour) }
    /// The header's message length does not match the datagram's size.
    public static var lengthMismatch: Self { .init(.lengthMismatch) }
    /// An attribute's header or value runs past the end of the message.
    public static var truncatedAttribute: Self { .init(.truncatedAttribute) }
    /// An attribute has a value of the wrong length or an impossible content (address family, error class).
    public static var malformedAttribute: Self { .init(.malformedAttribute) }
    /// An attribute follows FINGERPRINT, which must be last (RFC 5389 §15.5).
    public static var attributeAfterFingerprint: Self { .init(.attributeAfterFingerprint) }
    /// The caller's buffer has no room for what is being written.
    public static var bufferTooSmall: Self { .init(.bufferTooSmall) }
    /// A value is longer than its attribute allows (USERNAME 513 bytes, ERROR-CODE reason 763 bytes).
    public static var valueTooLong: Self { .init(.valueTooLong) }
    /// HMAC-SHA-1 could not be computed (NSS failed).
    public static var integrityUnavailable: Self { .init(.integrityUnavailable) }

    static func truncatedAttribute(_ type: UInt16, at offset: Int) -> Self { .init(.truncatedAttribute, attribute: type, offset: offset) }
    static func malformedAttribute(_ type: UInt16, at offset: Int) -> Self { .init(.malformedAttribute, attribute: type, offset: offset) }
    static func attributeAfterFingerprint(_ type: UInt16, at offset: Int) -> Self {
        .init(.attributeAfterFingerprint, attribute: type, offset: offset)
    }
    static func valueTooLong(_ type: UInt16) -> Self { .init(.valueTooLong, attribute: type) }

    public var description: String {
        let attributeName = STUNAttribute.name(of: attribute)
        return switch kind {
        case .truncatedHeader: "STUN message shorter than its 20-byte header"
        case .notSTUN: "not a STUN message (first two bits not zero)"
        case .badMagicCookie: "STUN magic cookie is not 0x2112A442"
        case .lengthNotMultipleOfFour: "STUN message length is not a multiple of 4"
        case .lengthMismatch: "STUN message length does not match the datagram size"
        case .truncatedAttribute: "STUN attribute \(attributeName) at byte \(offset) runs past the end of the message"
        case .malformedAttribute: "STUN attribute \(attributeName) at byte \(offset) is malformed"
        case .attributeAfterFingerprint: "STUN attribute \(attributeName) at byte \(offset) follows FINGERPRINT"
        case .bufferTooSmall: "buffer too small for the STUN message"
        case .valueTooLong: "value too long for STUN attribute \(attributeName)"
        case .integrityUnavailable: "HMAC-SHA-1 for STUN MESSAGE-INTEGRITY failed (NSS)"
        }
    }
}
