/// An RTP payload format as offers name it (`a=rtpmap` name, clock rate, channels; RFC 8866 §6.6), with its static
/// payload type from RFC 3551 when it has one. Codec matching for the WebRTC and SIP answers and the SIP offer.
struct RTPFormat: Hashable, Sendable {
    /// The encoding name (compared ignoring case).
    var name: String
    /// The RTP clock rate (8000 for G.722, RFC 3551 §4.5.2).
    var clockRate: UInt32
    /// Audio channels; 1 for video.
    var channels: Int
    /// RFC 3551's static payload type, recognised without an rtpmap.
    var staticPayloadType: UInt8?

    static let opus = RTPFormat(name: "opus", clockRate: 48_000, channels: 2)
    static let g722 = RTPFormat(name: "G722", clockRate: 8_000, channels: 1, staticPayloadType: 9)
    static let pcma = RTPFormat(name: "PCMA", clockRate: 8_000, channels: 1, staticPayloadType: 8)
    static let pcmu = RTPFormat(name: "PCMU", clockRate: 8_000, channels: 1, staticPayloadType: 0)
    static let vp8 = RTPFormat(name: "VP8", clockRate: 90_000, channels: 1)
    static let h264 = RTPFormat(name: "H264", clockRate: 90_000, channels: 1)

    /// The rtpmap that announces this format with `payloadType` (channels written only when not 1).
    func rtpMap(payloadType: UInt8) -> RTPMap {
        RTPMap(payloadType: payloadType, encodingName: name, clockRate: clockRate,
               encodingParameters: channels == 1 ? nil : String(channels))
    }
}

extension Codec {
    /// Whether this payload type carries `format`: its rtpmap's name (ignoring case), clock rate and channels, or,
    /// without an rtpmap, the format's static payload type.
    func matches(_ format: RTPFormat) -> Bool {
        guard let map = rtpMap else { return format.staticPayloadType == payloadType }
        return map.isEncoding(format.name) && map.clockRate == format.clockRate && map.channels == format.channels
    }

    /// Whether this is `telephone-event` (RFC 4733) at any clock rate.
    var isTelephoneEvent: Bool { rtpMap?.isEncoding("telephone-event") ?? false }
}
