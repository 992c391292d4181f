import SDP
import SRTP
import Transport
import VoiceCodecs

/// What the media thread needs of a SIP room system's call: the SDES-SRTP keys both ways, the RTP address its SDP
/// named and the audio codec agreed.
///
/// The SDP address only finds the site's first packets (a room system picks its own SSRCs): nothing is sent to it
/// until a packet from it has passed SRTP authentication, which latches the address as a native site's first
/// packet does, and its SSRCs are learned from its authentic packets as a WebRTC peer's are.
struct SIPMediaSetup: Sendable {
    let profile: SRTPProfile
    /// The room system's `a=crypto` key (what it encrypts with) and the bridge's (from `SecureRandom`).
    let inboundKey: [UInt8]
    let outboundKey: [UInt8]
    /// The RTP address of the offer's audio section (`c=` and `m=` port); nil for a hold address (0.0.0.0).
    let remoteRTP: SocketAddress?
    /// The audio codec agreed: Opus, G.722, PCMA or PCMU (decoded and encoded on the media thread).
    let codec: SIPAudioCodec
    /// A call the bridge placed (dial-out, cascade up): it sends to ``remoteRTP`` from the start, as the far end
    /// may wait for the first packet too (another bridge does), instead of waiting to latch its first packet.
    var sendsFirst = false
    /// Whether RTCP shares the RTP port both ways (rtcp-mux agreed). Without it the bridge's answer names its media
    /// port in `a=rtcp`, and sends the site's RTCP to wherever its authentic RTCP comes from (its RTCP port), once it has.
    var rtcpMux = true
    /// Without rtcp-mux: the RTCP address the SDP named (`a=rtcp`, else the RTP port + 1). A call the bridge placed
    /// sends its RTCP there from the start; for the others it is only a hint until authentic RTCP arrives.
    var remoteRTCP: SocketAddress? = nil
}

extension SIPFrontEnd {
    /// The media socket. With SIP on it must be an even port (SDP's RTCP is the next one, RFC 3550 §11): a
    /// kernel-chosen port is drawn again until it is even.
    static func bindMediaSocket(_ address: SocketAddress, evenPort: Bool) throws -> UDPSocket {
        var odd: [UDPSocket] = []
        defer { for socket in odd { socket.close() } }
        for _ in 0..<32 {
            let socket = try UDPSocket(bindTo: address, receiveBufferBytes: 4 << 20)
            if !evenPort || socket.localAddress.port % 2 == 0 { return socket }
            guard address.port == 0 else {
                socket.close()
                throw BridgeError("the media port \(address.port) is odd: SIP needs an even RTP port (RTCP is the next one)")
            }
            odd.append(socket)
        }
        throw BridgeError("no even media port found for SIP after 32 tries")
    }
}

extension MediaTransport {
    /// How the site joined, as `status` shows it.
    var kind: String {
        switch self {
        case .native: "native"
        case .webRTC: "webrtc"
        case .sip: "sip"
        }
    }

    /// The room system codec the site sends and hears (G.722, PCMU, PCMA); nil for Opus.
    var voiceFormat: VoicePayloadFormat? {
        guard case .sip(let sip) = self else { return nil }
        return switch sip.codec {
        case .opus: nil
        case .g722: .g722
        case .pcma: .pcma
        case .pcmu: .pcmu
        }
    }

    /// The audio codec the site sends and hears.
    var audioCodec: String {
        if case .sip(let sip) = self { return sip.codec.rawValue }
        return "opus"
    }
}
