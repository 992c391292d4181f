// Video codecs and RTCP feedback as agreed, shared by the WebRTC and SIP negotiations.

/// One video codec as answered.
public struct NegotiatedVideoCodec: Hashable, Sendable {
    public enum Name: String, Hashable, Sendable {
        case vp8 = "VP8"
        case h264 = "H264"
    }

    public var name: Name
    /// The offer's payload type.
    public var payloadType: UInt8
    /// The RTCP feedback both sides use for it.
    public var feedback: VideoFeedback
    /// For H.264 the answered `profile-level-id` (constrained baseline), e.g. `42e01f`.
    public var profileLevelID: String?
    /// For H.264, whether the offer allowed level asymmetry (`level-asymmetry-allowed=1`, RFC 6184 §8.1).
    public var levelAsymmetryAllowed: Bool = false
}

/// RTCP feedback for a video codec (RFC 4585, RFC 5104, draft-alvestrand-rmcat-remb).
public struct VideoFeedback: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// `nack`: generic NACK.
    public static let nack = VideoFeedback(rawValue: 1)
    /// `nack pli`: picture loss indication.
    public static let pli = VideoFeedback(rawValue: 2)
    /// `ccm fir`: full intra request.
    public static let fir = VideoFeedback(rawValue: 4)
    /// `goog-remb`: receiver estimated maximum bitrate.
    public static let remb = VideoFeedback(rawValue: 8)
}

extension VideoFeedback {
    /// The feedback `codec` accepts among nack, nack pli, ccm fir and goog-remb (its own lines and `*` ones).
    init(offeredBy codec: Codec) {
        self = []
        if codec.acceptsFeedback("nack") { insert(.nack) }
        if codec.acceptsFeedback("nack", "pli") { insert(.pli) }
        if codec.acceptsFeedback("ccm", "fir") { insert(.fir) }
        if codec.acceptsFeedback("goog-remb") { insert(.remb) }
    }

    /// The `a=rtcp-fb` lines for `payloadType`, in the order browsers write them: goog-remb, ccm fir, nack, nack pli.
    func attributes(payloadType pt: UInt8) -> [SDPAttribute] {
        var out: [SDPAttribute] = []
        if contains(.remb) { out.append(.rtcpFeedback(RTCPFeedback(payloadType: pt, type: "goog-remb"))) }
        if contains(.fir) { out.append(.rtcpFeedback(RTCPFeedback(payloadType: pt, type: "ccm", parameter: "fir"))) }
        if contains(.nack) { out.append(.rtcpFeedback(RTCPFeedback(payloadType: pt, type: "nack"))) }
        if contains(.pli) { out.append(.rtcpFeedback(RTCPFeedback(payloadType: pt, type: "nack", parameter: "pli"))) }
        return out
    }
}
