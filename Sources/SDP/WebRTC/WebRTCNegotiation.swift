/// What an answer agreed with a browser: everything the media thread needs to talk to it.
public struct WebRTCNegotiation: Hashable, Sendable {
    /// The browser's ICE credentials (its STUN checks carry `<bridge ufrag>:<its ufrag>`).
    public var remoteICE: ICECredentials
    /// The browser's sha-256 certificate fingerprint; its DTLS certificate must match it.
    public var remoteFingerprint: Fingerprint
    /// `actpass` or `active`: the browser is the DTLS client, the bridge the server.
    public var remoteSetup: SetupRole
    /// The browser's ICE options (`trickle` is fine: the bridge is ICE-lite with its one candidate in the answer).
    public var remoteICEOptions: [String]
    /// The mids of the accepted sections, in the answer's BUNDLE group order.
    public var bundleMids: [String]
    /// The audio section.
    public var audio: NegotiatedAudio
    /// The first video section: the site's camera up, the presenter stream down.
    public var camera: NegotiatedVideo?
    /// The second video section: the speaker stream down.
    public var speaker: NegotiatedVideo?
    /// Indexes of the offer's media sections answered with port 0 (rejected), with their mids when they had one.
    public var rejected: [RejectedSection]

    /// The mid of the section that carries `stream`, nil when no accepted section does (or its direction
    /// leaves that stream out).
    public func mid(carrying stream: WebRTCStream) -> String? {
        switch stream {
        case .siteAudio: audio.direction.receives ? audio.mid : nil
        case .mixAudio: audio.direction.sends ? audio.mid : nil
        case .siteCamera: camera.flatMap { $0.direction.receives ? $0.mid : nil }
        case .presenter: camera.flatMap { $0.direction.sends ? $0.mid : nil }
        case .speaker: speaker.flatMap { $0.direction.sends ? $0.mid : nil }
        }
    }
}

/// The streams between a browser site and the bridge.
public enum WebRTCStream: Hashable, Sendable, CaseIterable {
    /// The site's microphone, to the bridge.
    case siteAudio
    /// The mix, to the site.
    case mixAudio
    /// The site's camera, to the bridge.
    case siteCamera
    /// The presenter stream, to the site.
    case presenter
    /// The speaker stream, to the site.
    case speaker
}

/// A media section of the offer the answer rejected (port 0, RFC 3264 §6, RFC 8843 §7.3.3).
public struct RejectedSection: Hashable, Sendable {
    /// Index in the offer's media sections.
    public var index: Int
    public var mid: String?
    /// Why, in words.
    public var why: String
}

/// The audio section as answered.
public struct NegotiatedAudio: Hashable, Sendable {
    public var mid: String
    /// Index in the offer's (and answer's) media sections.
    public var index: Int
    /// The answer's direction (the bridge's view: `sendrecv` sends the mix and receives the site).
    public var direction: MediaDirection
    /// The offer's Opus payload type (48000/2), used both ways.
    public var payloadType: UInt8
    /// The offer's `minptime`, repeated in the answer when given.
    public var minPTime: Int?
    /// The RFC 6464 audio level extension's id (one-byte form), when offered.
    public var audioLevelExtensionID: UInt8?
    /// `a=rtcp-rsize` offered and answered.
    public var reducedSizeRTCP: Bool
    /// The site's SSRCs signalled in the offer (repair streams left out).
    public var remoteSSRCs: [UInt32]
    /// The site's CNAME from `a=ssrc:<ssrc> cname:`, when signalled.
    public var remoteCNAME: String?
}

/// A video section as answered.
public struct NegotiatedVideo: Hashable, Sendable {
    public var mid: String
    public var index: Int
    /// The answer's direction (the bridge's view).
    public var direction: MediaDirection
    /// The codecs answered, preferred first (VP8, then H.264 when offered).
    public var codecs: [NegotiatedVideoCodec]
    public var reducedSizeRTCP: Bool
    /// The site's SSRCs signalled in the offer (repair streams left out).
    public var remoteSSRCs: [UInt32]
    public var remoteCNAME: String?

    /// The VP8 codec, when answered.
    public var vp8: NegotiatedVideoCodec? { codecs.first { $0.name == .vp8 } }
    /// The H.264 codec, when answered.
    public var h264: NegotiatedVideoCodec? { codecs.first { $0.name == .h264 } }
}
