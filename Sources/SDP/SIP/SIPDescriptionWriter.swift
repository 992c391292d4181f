/// Writes the bridge's SIP descriptions (offers and answers): one `c=` at session level, plain m-lines in the shape
/// room systems and baresip expect, the shared video codec lines.
enum SIPDescriptionWriter {
    /// The description around `media`: `o=vcbridge`, `s=vcbridge`, the bridge's address in `c=`.
    static func session(bridge: SIPBridgeParameters, media: [MediaDescription]) -> SessionDescription {
        SessionDescription(
            origin: Origin(username: "vcbridge", sessionID: String(bridge.sessionID),
                           sessionVersion: String(bridge.sessionVersion), addressType: bridge.addressType,
                           address: bridge.address),
            sessionName: "vcbridge",
            connection: ConnectionData(addressType: bridge.addressType, address: bridge.address),
            media: media)
    }

    /// The rtpmap (and Opus's fmtp) of an audio codec with `payloadType`.
    static func audioCodecAttributes(_ codec: SIPAudioCodec, payloadType: UInt8) -> [SDPAttribute] {
        var out: [SDPAttribute] = [.rtpmap(codec.format.rtpMap(payloadType: payloadType))]
        if codec == .opus {
            out.append(.fmtp(FormatParameters(format: String(payloadType), parameters: "useinbandfec=1")))
        }
        return out
    }

    /// The lines after the codecs: ptime (audio), rtcp-mux, the bridge's key, the direction. `rtcpPort` (the
    /// m-line's own port) is named in `a=rtcp` (RFC 3605), so the far end sends its RTCP where the bridge receives
    /// everything (it tells RTP from RTCP by the packet type): in an answer without rtcp-mux, and in the bridge's
    /// offer beside rtcp-mux (RFC 5761 §5.1.3), for a far end that does not take it.
    static func streamAttributes(packetTime: Int?, rtcpMux: Bool, rtcpPort: UInt16? = nil, crypto: SDESCrypto?,
                                 direction: MediaDirection, offering: Bool = false) -> [SDPAttribute] {
        var out: [SDPAttribute] = []
        if let packetTime { out.append(.other(name: "ptime", value: String(packetTime))) }
        if let rtcpPort, !rtcpMux || offering { out.append(.other(name: "rtcp", value: String(rtcpPort))) }
        if rtcpMux { out.append(.rtcpMux) }
        if let crypto { out.append(crypto.attribute) }
        out.append(.direction(direction))
        return out
    }
}
