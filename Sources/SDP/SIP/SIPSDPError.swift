/// Why the bridge refuses a SIP offer (the INVITE or re-INVITE gets ``sipStatus`` 488 Not Acceptable Here with a
/// `Warning` from ``description``), or a far end's answer to its own offer (the call is ended).
public struct SIPSDPError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Hashable, Sendable {
            case noAudio = "no audio media section the bridge can use"
            case unsupportedTransport = "a transport other than RTP/SAVP, RTP/SAVPF, RTP/AVP or RTP/AVPF"
            case noAudioCodec = "audio without Opus 48000/2, G.722, PCMA or PCMU"
            case noCrypto = "RTP/SAVP without a=crypto (SDES, RFC 4568)"
            case noUsableCrypto = "no a=crypto line the bridge can use"
            case plainRTPNotAllowed = "plain RTP, and this site's configuration does not allow it"
            case unsupportedAddress = "no c= with an IPv4 or IPv6 address for the media"
            case badRTCPAttribute = "an a=rtcp line that is not '<port> [IN IP4|IP6 <address>]' (RFC 3605)"
            case mediaCountMismatch = "the answer has not one media section per offered one (RFC 3264 §6)"
            case audioRejected = "the answer rejects the audio (port 0)"
            case notOffered = "the answer chose what the bridge did not offer"
            case unknownCryptoTag = "the answer's a=crypto tag is not in the bridge's offer"
            case cryptoSuiteMismatch = "the answer's a=crypto suite differs from the offered line with its tag"
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// No `m=audio`, or none with a port, a supported transport and usable keys.
        public static var noAudio: Reason { .init(.noAudio) }
        /// `UDP/TLS/RTP/SAVPF`, `TCP/RTP/AVP`, ... on the audio section.
        public static var unsupportedTransport: Reason { .init(.unsupportedTransport) }
        /// The audio section offers none of the four codecs (AAC-LD, G.722.1, G.729 only...).
        public static var noAudioCodec: Reason { .init(.noAudioCodec) }
        /// A secure profile with no `a=crypto` line (DTLS-SRTP or MIKEY are not taken on SIP).
        public static var noCrypto: Reason { .init(.noCrypto) }
        /// Every `a=crypto` line refused: ``SIPSDPError/cryptoErrors`` says why each.
        public static var noUsableCrypto: Reason { .init(.noUsableCrypto) }
        /// `RTP/AVP` without usable keys, and the site's policy requires SRTP.
        public static var plainRTPNotAllowed: Reason { .init(.plainRTPNotAllowed) }
        /// `c=` missing, a host name, or a multicast `/ttl` form.
        public static var unsupportedAddress: Reason { .init(.unsupportedAddress) }
        /// `a=rtcp` with a bad port or address.
        public static var badRTCPAttribute: Reason { .init(.badRTCPAttribute) }
        /// An answer with more or fewer media sections than the offer.
        public static var mediaCountMismatch: Reason { .init(.mediaCountMismatch) }
        /// The answer sets the audio port to 0.
        public static var audioRejected: Reason { .init(.audioRejected) }
        /// An answered codec, payload type, transport or H.264 mode the bridge's offer did not hold.
        public static var notOffered: Reason { .init(.notOffered) }
        /// The answer's `a=crypto` tag names none of the offer's lines.
        public static var unknownCryptoTag: Reason { .init(.unknownCryptoTag) }
        /// Same tag, different suite.
        public static var cryptoSuiteMismatch: Reason { .init(.cryptoSuiteMismatch) }

        public var description: String { code.rawValue }
    }

    public let reason: Reason
    /// The media section at fault (index in the description), when one is.
    public let section: Int?
    /// Why each `a=crypto` line of the section was refused, for ``Reason/noUsableCrypto`` (and others when lines
    /// were refused on the way).
    public let cryptoErrors: [SDESCryptoError]
    /// More about what the description said.
    public let detail: String

    init(_ reason: Reason, section: Int? = nil, cryptoErrors: [SDESCryptoError] = [], detail: String = "") {
        self.reason = reason
        self.section = section
        self.cryptoErrors = cryptoErrors
        self.detail = detail
    }

    /// The SIP status for refusing an offer: 488 Not Acceptable Here (RFC 3261 §21.4.26).
    public var sipStatus: Int { 488 }

    public var description: String {
        var text = "SDP refused: \(reason)"
        if let section { text += " (m-line \(section + 1))" }
        if !detail.isEmpty { text += ": \(detail)" }
        if !cryptoErrors.isEmpty { text += " [" + cryptoErrors.map(\.description).joined(separator: "; ") + "]" }
        return text
    }
}
