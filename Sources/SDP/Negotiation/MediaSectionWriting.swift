extension MediaDescription {
    /// The answer to `offered` that rejects it (RFC 3264 §6): port 0, the offer's kind, protocol and formats.
    static func rejecting(_ offered: MediaDescription, connection: ConnectionData?) -> MediaDescription {
        MediaDescription(kind: offered.kind, port: 0, proto: offered.proto, formats: offered.formats,
                         connection: connection)
    }
}

extension [SDPAttribute] {
    /// Appends the rtpmap, fmtp and rtcp-fb lines of one video payload type: H.264 gets packetization mode 1 and
    /// `profileLevelID`.
    mutating func appendVideoCodec(_ codec: NegotiatedVideoCodec, rtpMap: RTPMap) {
        append(.rtpmap(rtpMap))
        self += codec.feedback.attributes(payloadType: codec.payloadType)
        if codec.name == .h264, let profile = codec.profileLevelID {
            let parameters = H264ProfileLevel.formatParameters(profileLevelID: profile,
                                                               levelAsymmetryAllowed: codec.levelAsymmetryAllowed)
            append(.fmtp(FormatParameters(format: String(codec.payloadType), parameters: parameters)))
        }
    }
}
