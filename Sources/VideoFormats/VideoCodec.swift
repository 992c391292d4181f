/// The video payload formats the bridge understands well enough to find frames and keyframes.
/// It never decodes video: it only reads the RTP payload descriptors and NAL unit headers.
public enum VideoCodec: String, Sendable, Hashable, CaseIterable {
    /// VP8 (RFC 7741).
    case vp8 = "VP8"
    /// H.264 (RFC 6184), packetization mode 1 (single NAL unit, STAP-A, FU-A).
    case h264 = "H264"

    /// The RTP clock rate of every video payload: 90 kHz.
    public static let clockRate = 90_000
}

/// Why a video payload was rejected.
public struct VideoFormatError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case emptyPayload, truncatedDescriptor, truncatedAggregate, unsupportedNALType, badFile, frameTooLarge
    }
    private let code: Code
    /// What exactly was wrong (a field, an offset).
    public let detail: String

    private init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// An RTP payload with no bytes.
    public static var emptyPayload: Self { .init(.emptyPayload, "") }
    /// A VP8 payload descriptor runs past the payload.
    public static func truncatedDescriptor(_ detail: String = "") -> Self { .init(.truncatedDescriptor, detail) }
    /// An H.264 STAP-A or FU-A runs past the payload.
    public static func truncatedAggregate(_ detail: String = "") -> Self { .init(.truncatedAggregate, detail) }
    /// An H.264 NAL unit type this packetization mode does not allow (0, 25-27, 29-31).
    public static func unsupportedNALType(_ type: UInt8) -> Self { .init(.unsupportedNALType, "NAL unit type \(type)") }
    /// A file is not a well-formed IVF or Annex B stream.
    public static func badFile(_ detail: String) -> Self { .init(.badFile, detail) }
    /// A frame is larger than the reader allows.
    public static func frameTooLarge(_ detail: String) -> Self { .init(.frameTooLarge, detail) }

    public var description: String {
        let name: String = switch code {
        case .emptyPayload: "empty video payload"
        case .truncatedDescriptor: "truncated VP8 payload descriptor"
        case .truncatedAggregate: "truncated H.264 aggregation or fragmentation unit"
        case .unsupportedNALType: "unsupported H.264 NAL unit type"
        case .badFile: "malformed video file"
        case .frameTooLarge: "video frame too large"
        }
        return detail.isEmpty ? name : "\(name): \(detail)"
    }
}

/// What the bridge needs to know about one video RTP packet.
public struct VideoPacketInfo: Sendable, Hashable {
    /// The packet carries the first bytes of a frame (VP8: S bit with partition 0; H.264: the first
    /// NAL unit of an access unit is not visible in one packet, so a packet that starts a NAL unit).
    public var startsFrame: Bool
    /// The packet belongs to a frame that can be decoded without earlier frames (VP8 key frame;
    /// H.264 IDR slice or sequence parameter set).
    public var isKeyframe: Bool

    public init(startsFrame: Bool, isKeyframe: Bool) {
        self.startsFrame = startsFrame
        self.isKeyframe = isKeyframe
    }

    /// Inspects an RTP payload without copying or allocating.
    /// - Throws: ``VideoFormatError`` for a payload the format does not allow.
    public static func inspect(_ payload: UnsafeRawBufferPointer, codec: VideoCodec) throws(VideoFormatError) -> VideoPacketInfo {
        switch codec {
        case .vp8: try VP8.inspect(payload)
        case .h264: try H264.inspect(payload)
        }
    }
}
