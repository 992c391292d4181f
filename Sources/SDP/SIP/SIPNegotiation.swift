/// What a SIP offer/answer agreed with a room system, a far bridge or a softphone: everything the media thread needs.
public struct SIPNegotiation: Hashable, Sendable {
    public var audio: SIPNegotiatedAudio
    /// The camera video, nil when refused or not offered.
    public var video: SIPNegotiatedVideo?
    /// The offer's media sections answered with port 0.
    public var rejected: [SIPRejectedSection]

    /// What differs in `self` from `previous` (an earlier offer/answer of the same dialog: re-INVITE or UPDATE).
    public func changes(from previous: SIPNegotiation) -> SIPNegotiationChanges {
        var changes: SIPNegotiationChanges = []
        if audio.media.remote != previous.audio.media.remote || video?.media.remote != previous.video?.media.remote {
            changes.insert(.remoteAddress)
        }
        if audio.codec != previous.audio.codec || audio.payloadType != previous.audio.payloadType
            || audio.receivePayloadType != previous.audio.receivePayloadType {
            changes.insert(.audioCodec)
        }
        if video?.codec != previous.video?.codec || video?.receivePayloadType != previous.video?.receivePayloadType {
            changes.insert(.videoCodec)
        }
        let streams: [(SIPMediaStream?, SIPMediaStream?)] = [(audio.media, previous.audio.media),
                                                             (video?.media, previous.video?.media)]
        for (now, before) in streams {
            if now?.srtp?.remoteKey != before?.srtp?.remoteKey || now?.srtp?.suite != before?.srtp?.suite {
                changes.insert(.remoteKey)
            }
            if now?.srtp?.localKey != before?.srtp?.localKey { changes.insert(.localKey) }
            if now?.direction != before?.direction { changes.insert(.direction) }
        }
        return changes
    }
}

/// What changed between two negotiations of one dialog.
public struct SIPNegotiationChanges: OptionSet, Hashable, Sendable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// Where the far end receives RTP or RTCP (address, ports, rtcp-mux), on either stream.
    public static let remoteAddress = SIPNegotiationChanges(rawValue: 1)
    /// The audio codec or its payload type.
    public static let audioCodec = SIPNegotiationChanges(rawValue: 2)
    /// The video codec, its payload type or profile-level, or video added or removed.
    public static let videoCodec = SIPNegotiationChanges(rawValue: 4)
    /// The far end's SRTP key or suite (or SRTP on or off).
    public static let remoteKey = SIPNegotiationChanges(rawValue: 8)
    /// The bridge's SRTP key.
    public static let localKey = SIPNegotiationChanges(rawValue: 16)
    /// The direction of a stream (hold: sendonly or inactive; resume: sendrecv).
    public static let direction = SIPNegotiationChanges(rawValue: 32)
}

/// One RTP stream as agreed: where the far end takes it, keys, direction.
public struct SIPMediaStream: Hashable, Sendable {
    /// Index in the offer's (and answer's) media sections.
    public var index: Int
    /// `RTP/SAVP`, `RTP/SAVPF`, `RTP/AVP` or `RTP/AVPF` as offered.
    public var proto: String
    /// Where the far end receives RTP and RTCP.
    public var remote: SIPMediaTransport
    /// SRTP keys, nil for plain RTP (only when the site's policy allows it).
    public var srtp: SIPSRTPKeys?
    /// The bridge's direction (`sendrecv` sends to and receives from the far end; `recvonly` when it holds).
    public var direction: MediaDirection
    /// Whether the profile is AVPF (RFC 4585 timing rules).
    public var avpf: Bool
}

/// The far end's RTP and RTCP addresses (`c=`, `m=` port, `a=rtcp` (RFC 3605) or rtcp-mux (RFC 5761)).
public struct SIPMediaTransport: Hashable, Sendable {
    /// An IPv4 or IPv6 literal; `0.0.0.0` or `::` for an RFC 2543 hold.
    public var address: String
    public var rtpPort: UInt16
    public var rtcpAddress: String
    /// Equal to ``rtpPort`` when ``rtcpMux``.
    public var rtcpPort: UInt16
    /// RTP and RTCP share the port.
    public var rtcpMux: Bool
}

/// SDES-SRTP keys of one stream (RFC 4568).
public struct SIPSRTPKeys: Hashable, Sendable {
    public var suite: SRTPCryptoSuite
    /// The tag of the offer's line that was chosen.
    public var tag: UInt32
    /// What the far end encrypts with (the bridge's inbound key).
    public var remoteKey: SDESKey
    /// What the bridge encrypts with.
    public var localKey: SDESKey
}

/// The audio codecs a SIP site can use, in the bridge's order of preference.
public enum SIPAudioCodec: String, Hashable, Sendable, CaseIterable {
    case opus, g722, pcma, pcmu

    /// The payload format (name, RTP clock, channels, static payload type).
    var format: RTPFormat {
        switch self {
        case .opus: .opus
        case .g722: .g722
        case .pcma: .pcma
        case .pcmu: .pcmu
        }
    }

    /// The RTP timestamp clock (8000 for G.722, RFC 3551 §4.5.2).
    public var rtpClockRate: UInt32 { format.clockRate }
    /// The audio sample rate the codec runs at.
    public var sampleRate: Int {
        switch self {
        case .opus: 48_000
        case .g722: 16_000
        case .pcma, .pcmu: 8_000
        }
    }
}

/// The audio stream as agreed.
public struct SIPNegotiatedAudio: Hashable, Sendable {
    public var media: SIPMediaStream
    public var codec: SIPAudioCodec
    /// The payload type the bridge sends with: the one the far end listed (RFC 3264 §5.1, §6.1).
    public var payloadType: UInt8
    /// The payload type the far end sends with: the one the bridge listed. Equal to ``payloadType`` when the bridge
    /// answers; may differ for a dynamic type when the far end answers the bridge's offer with its own number.
    public var receivePayloadType: UInt8
    /// The RTP clock rate of ``payloadType``.
    public var clockRate: UInt32
    /// The far end's `telephone-event` payload type if it offered one: not answered, so packets with it are dropped.
    public var telephoneEventPayloadType: UInt8?
    /// Milliseconds of audio per packet the bridge sends (`a=ptime:20`).
    public var packetTime: Int
}

/// The camera video stream as agreed.
public struct SIPNegotiatedVideo: Hashable, Sendable {
    public var media: SIPMediaStream
    /// VP8 or H.264 (packetization mode 1, ``NegotiatedVideoCodec/profileLevelID`` both can do), with the RTCP
    /// feedback both use (nack, nack pli, ccm fir, as offered).
    public var codec: NegotiatedVideoCodec
    /// The payload type the far end sends with (see ``SIPNegotiatedAudio/receivePayloadType``); the bridge sends
    /// with ``NegotiatedVideoCodec/payloadType``.
    public var receivePayloadType: UInt8
}

/// A media section answered with port 0, and why.
public struct SIPRejectedSection: Hashable, Sendable {
    public var index: Int
    /// `video`, `application`, ... as written.
    public var kind: String
    public var why: String
}
