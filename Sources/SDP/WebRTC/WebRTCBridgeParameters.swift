/// What the bridge puts into every WebRTC answer: its ICE credentials, DTLS fingerprint, media address and the
/// streams it sends.
public struct WebRTCBridgeParameters: Hashable, Sendable {
    /// The bridge's ICE credentials for this session (it checks the browser's STUN requests with `pwd`).
    public var ice: ICECredentials
    /// SHA-256 of the bridge's DTLS certificate.
    public var fingerprint: Fingerprint
    /// The media address (IPv4 or IPv6 literal) and UDP port: the one host candidate.
    public var address: String
    public var port: UInt16
    /// The mix the site hears, on the audio section.
    public var audio: OutgoingStream
    /// The presenter stream, on the first video section.
    public var presenter: OutgoingStream
    /// The speaker stream, on the second video section.
    public var speaker: OutgoingStream
    /// `o=` session id and version.
    public var sessionID: UInt64
    public var sessionVersion: UInt64

    /// - Throws: ``WebRTCParameterError`` when a value could not be written into SDP or would be refused by a
    ///   browser (ICE credential lengths and characters, a fingerprint that is not 32 bytes of sha-256, an address
    ///   that is not an IP literal, port 0, identifiers with spaces, SSRCs repeated).
    public init(ice: ICECredentials, fingerprint: Fingerprint, address: String, port: UInt16,
                audio: OutgoingStream, presenter: OutgoingStream, speaker: OutgoingStream,
                sessionID: UInt64, sessionVersion: UInt64 = 1) throws(WebRTCParameterError) {
        guard (4...256).contains(ice.ufrag.utf8.count), ice.ufrag.utf8.allSatisfy(SDPSyntax.isICEByte) else {
            throw WebRTCParameterError("ice ufrag must be 4-256 letters, digits, '+' or '/'")
        }
        guard (22...256).contains(ice.pwd.utf8.count), ice.pwd.utf8.allSatisfy(SDPSyntax.isICEByte) else {
            throw WebRTCParameterError("ice pwd must be 22-256 letters, digits, '+' or '/'")
        }
        guard fingerprint.hashFunction == "sha-256", fingerprint.bytes.count == 32 else {
            throw WebRTCParameterError("the fingerprint must be 32 bytes of sha-256")
        }
        guard IPAddressText.family(of: address) != nil else {
            throw WebRTCParameterError("'\(address)' is not an IPv4 or IPv6 address")
        }
        guard port != 0 else { throw WebRTCParameterError("the media port is 0") }
        for stream in [audio, presenter, speaker] {
            for (what, value) in [("cname", stream.cname), ("stream id", stream.streamID), ("track id", stream.trackID)]
            where value.isEmpty || !value.utf8.allSatisfy(SDPSyntax.isTokenByte) {
                throw WebRTCParameterError("\(what) '\(value)' must be a non-empty token without spaces")
            }
        }
        guard Set([audio.ssrc, presenter.ssrc, speaker.ssrc]).count == 3 else {
            throw WebRTCParameterError("the audio, presenter and speaker SSRCs must differ")
        }
        self.ice = ice
        self.fingerprint = fingerprint
        self.address = address
        self.port = port
        self.audio = audio
        self.presenter = presenter
        self.speaker = speaker
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
    }
}

/// One RTP stream the bridge sends, as the answer announces it (`a=ssrc` cname and msid, `a=msid`).
public struct OutgoingStream: Hashable, Sendable {
    public var ssrc: UInt32
    public var cname: String
    public var streamID: String
    public var trackID: String

    public init(ssrc: UInt32, cname: String, streamID: String, trackID: String) {
        self.ssrc = ssrc
        self.cname = cname
        self.streamID = streamID
        self.trackID = trackID
    }
}

/// A bridge-side value that cannot go into an answer (a configuration or programming error, not the browser's).
public struct WebRTCParameterError: Error, Hashable, Sendable, CustomStringConvertible {
    public let detail: String
    init(_ detail: String) { self.detail = detail }
    public var description: String { "WebRTC answer parameters: \(detail)" }
}
