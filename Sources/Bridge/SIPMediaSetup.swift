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
    /// The room system's `a=crypto` key (what it encrypts with) and the bridge's (from `SecureRandom`); nil for a
    /// plain-RTP call (a site whose `sip.sites` entry says `media: "rtp"` and whose offer had no keys): its packets
    /// are taken only from the address its SDP named, and sent there unprotected.
    let keys: (inbound: [UInt8], outbound: [UInt8])?
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
    /// The SIP transport of the call's signalling (`udp`, `tcp`, `tls`), as `status` shows it.
    var signalling = "udp"

    /// Plain RTP (no SRTP keys).
    var isPlain: Bool { keys == nil }
    /// The camera video, with its own SDES keys and addresses (RFC 4568 keys each m-line); nil when none was agreed.
    var video: SIPVideoSetup? = nil
}

/// A SIP call's camera video on the media thread: its m-line's SDES keys, where the far end takes it, and how it
/// takes keyframe requests.
///
/// The bridge's SDP names its one media port for video too: the streams are told apart by SSRC and payload type.
/// The site's video address latches on its first authentic video packet, as its audio address does.
struct SIPVideoSetup: Sendable {
    let inboundKey: [UInt8]
    let outboundKey: [UInt8]
    /// The RTP address of the offer's (or answer's) video section; nil for a hold address.
    let remoteRTP: SocketAddress?
    /// Its RTCP address by the SDP (`a=rtcp` or RTP port + 1; the RTP address with rtcp-mux).
    let remoteRTCP: SocketAddress?
    let rtcpMux: Bool
    let keyframeRequest: SIPKeyframeRequest
}

/// How a SIP camera is asked for a keyframe: RTCP feedback when its SDP agreed `a=rtcp-fb` (PLI, or FIR when only
/// `ccm fir` was agreed, RFC 5104), else SIP INFO picture_fast_update (RFC 5168), as many room systems expect.
enum SIPKeyframeRequest: Sendable, Equatable {
    case pli, fir, info
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

    /// A SIP site's media (`srtp` or `rtp`) and signalling transport, as `status` and `quality` show them.
    var sipMedia: (media: String, signalling: String)? {
        guard case .sip(let sip) = self else { return nil }
        return (sip.isPlain ? "rtp" : "srtp", sip.signalling)
    }

    /// The audio codec the site sends and hears.
    var audioCodec: String {
        if case .sip(let sip) = self { return sip.codec.rawValue }
        return "opus"
    }
}
