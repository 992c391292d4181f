/// Why a received RTP or RTCP packet was rejected.
///
/// Every parser in this module returns one of these instead of trapping or reading past the end
/// of its input. The description names what was wrong, for logs and technicians' counters.
public struct PacketError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case truncatedHeader
        case unsupportedVersion
        case paddingExceedsPacket
        case zeroPaddingLength
        case csrcListPastEnd
        case extensionPastEnd
        case extensionElementPastEnd
        case rtcpTruncated
        case rtcpLengthMismatch
        case rtcpPaddingNotLast
        case rtcpCompoundMustStartWithReport
        case rtcpEmptyCompound
        case rtcpReportCountPastEnd
        case rtcpMalformedItem
        case bufferTooSmall
        case invalidField
    }

    private let code: Code
    /// Detail about the field, offset or value involved.
    public let detail: String

    private init(_ code: Code, _ detail: String = "") {
        self.code = code
        self.detail = detail
    }

    public static func == (lhs: PacketError, rhs: PacketError) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// Fewer bytes than the fixed header needs (12 for RTP, 4 or the packet's minimum for RTCP).
    public static var truncatedHeader: PacketError { .init(.truncatedHeader) }
    /// The version field is not 2.
    public static var unsupportedVersion: PacketError { .init(.unsupportedVersion) }
    /// The padding count in the last byte is larger than what follows the header.
    public static var paddingExceedsPacket: PacketError { .init(.paddingExceedsPacket) }
    /// The padding bit is set but the padding count is zero.
    public static var zeroPaddingLength: PacketError { .init(.zeroPaddingLength) }
    /// The CSRC count claims more identifiers than the packet holds.
    public static var csrcListPastEnd: PacketError { .init(.csrcListPastEnd) }
    /// The header extension length runs past the end of the packet.
    public static var extensionPastEnd: PacketError { .init(.extensionPastEnd) }
    /// An RFC 8285 element's length runs past the end of its extension block.
    public static var extensionElementPastEnd: PacketError { .init(.extensionElementPastEnd) }
    /// An RTCP packet is shorter than its type requires.
    public static var rtcpTruncated: PacketError { .init(.rtcpTruncated) }
    /// An RTCP length field disagrees with the bytes present.
    public static var rtcpLengthMismatch: PacketError { .init(.rtcpLengthMismatch) }
    /// Padding in an RTCP compound packet on a part other than the last.
    public static var rtcpPaddingNotLast: PacketError { .init(.rtcpPaddingNotLast) }
    /// The first packet of a compound is not a sender or receiver report (RFC 3550 §6.1).
    public static var rtcpCompoundMustStartWithReport: PacketError { .init(.rtcpCompoundMustStartWithReport) }
    /// An RTCP datagram with no packet in it.
    public static var rtcpEmptyCompound: PacketError { .init(.rtcpEmptyCompound) }
    /// The report/source count claims more entries than the packet holds.
    public static var rtcpReportCountPastEnd: PacketError { .init(.rtcpReportCountPastEnd) }
    /// An SDES item, BYE reason or feedback entry is malformed.
    public static var rtcpMalformedItem: PacketError { .init(.rtcpMalformedItem) }
    /// The output buffer is too small for what is being written.
    public static var bufferTooSmall: PacketError { .init(.bufferTooSmall) }
    /// A value given to a serializer is out of its field's range.
    public static var invalidField: PacketError { .init(.invalidField) }

    static func truncatedHeader(_ detail: String) -> PacketError { .init(.truncatedHeader, detail) }
    static func unsupportedVersion(_ detail: String) -> PacketError { .init(.unsupportedVersion, detail) }
    static func rtcpTruncated(_ detail: String) -> PacketError { .init(.rtcpTruncated, detail) }
    static func rtcpLengthMismatch(_ detail: String) -> PacketError { .init(.rtcpLengthMismatch, detail) }
    static func rtcpMalformedItem(_ detail: String) -> PacketError { .init(.rtcpMalformedItem, detail) }
    static func invalidField(_ detail: String) -> PacketError { .init(.invalidField, detail) }

    public var description: String {
        let text: String
        switch code {
        case .truncatedHeader: text = "truncated header"
        case .unsupportedVersion: text = "unsupported version (expected 2)"
        case .paddingExceedsPacket: text = "padding longer than the packet"
        case .zeroPaddingLength: text = "padding bit set with a padding count of zero"
        case .csrcListPastEnd: text = "CSRC count runs past the end of the packet"
        case .extensionPastEnd: text = "header extension length runs past the end of the packet"
        case .extensionElementPastEnd: text = "header extension element runs past the end of its block"
        case .rtcpTruncated: text = "RTCP packet shorter than its type requires"
        case .rtcpLengthMismatch: text = "RTCP length field disagrees with the bytes present"
        case .rtcpPaddingNotLast: text = "RTCP padding on a packet that is not the last of the compound"
        case .rtcpCompoundMustStartWithReport: text = "RTCP compound packet does not start with SR or RR"
        case .rtcpEmptyCompound: text = "empty RTCP datagram"
        case .rtcpReportCountPastEnd: text = "RTCP count field runs past the end of the packet"
        case .rtcpMalformedItem: text = "malformed RTCP item"
        case .bufferTooSmall: text = "output buffer too small"
        case .invalidField: text = "field value out of range"
        }
        return detail.isEmpty ? text : "\(text): \(detail)"
    }
}
