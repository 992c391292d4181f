/// Why the bridge refuses a browser's offer: a 400-class answer for the HTTP front-end.
///
/// Every reason names what the offer lacks; ``mid`` says which media section when one is at fault.
public struct WebRTCOfferError: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Hashable, Sendable {
            case notBundled = "no a=group:BUNDLE (the bridge needs all media on one transport, RFC 8843)"
            case noRTCPMux = "no a=rtcp-mux (RTP and RTCP must share the port, RFC 5761)"
            case noFingerprint = "no DTLS fingerprint (a=fingerprint)"
            case unsupportedFingerprintHash = "no sha-256 DTLS fingerprint"
            case noICECredentials = "no ICE credentials (a=ice-ufrag and a=ice-pwd)"
            case inconsistentTransport = "bundled media sections disagree on ICE credentials or fingerprint"
            case peerIsICELite = "the offer is ICE-lite too (one side must run full ICE)"
            case unsupportedSetupRole = "a=setup must be actpass or active (the bridge is the DTLS server)"
            case noAudio = "no usable audio media section"
            case noOpus = "audio without Opus 48000/2"
            case noVideoCodec = "video without VP8 or H.264 (packetization-mode=1, constrained baseline)"
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// The offer has no BUNDLE group.
        public static var notBundled: Reason { .init(.notBundled) }
        /// An accepted media section lacks `a=rtcp-mux`.
        public static var noRTCPMux: Reason { .init(.noRTCPMux) }
        /// No `a=fingerprint` for an accepted media section (nor at session level).
        public static var noFingerprint: Reason { .init(.noFingerprint) }
        /// Fingerprints, but none with sha-256.
        public static var unsupportedFingerprintHash: Reason { .init(.unsupportedFingerprintHash) }
        /// No `a=ice-ufrag`/`a=ice-pwd` for an accepted media section (nor at session level).
        public static var noICECredentials: Reason { .init(.noICECredentials) }
        /// Bundled sections with different ICE credentials or sha-256 fingerprints.
        public static var inconsistentTransport: Reason { .init(.inconsistentTransport) }
        /// The offer carries `a=ice-lite`; two lite agents never connect.
        public static var peerIsICELite: Reason { .init(.peerIsICELite) }
        /// `a=setup:passive` or `holdconn`.
        public static var unsupportedSetupRole: Reason { .init(.unsupportedSetupRole) }
        /// No audio section the bridge can use (missing, port 0, not in the BUNDLE group, not DTLS-SRTP, no mid).
        public static var noAudio: Reason { .init(.noAudio) }
        /// The audio section offers no `opus/48000/2`.
        public static var noOpus: Reason { .init(.noOpus) }
        /// A video section offers neither VP8 nor H.264 packetization-mode 1 constrained baseline.
        public static var noVideoCodec: Reason { .init(.noVideoCodec) }

        public var description: String { code.rawValue }
    }

    public let reason: Reason
    /// The media section at fault, when one is.
    public let mid: String?
    /// More about what the offer said.
    public let detail: String

    init(_ reason: Reason, mid: String? = nil, detail: String = "") {
        self.reason = reason
        self.mid = mid
        self.detail = detail
    }

    /// The HTTP status for this refusal (400 Bad Request: the offer is well-formed SDP the bridge cannot accept).
    public var httpStatus: Int { 400 }

    public var description: String {
        var text = "offer refused: \(reason)"
        if let mid { text += " (mid \(mid))" }
        if !detail.isEmpty { text += ": \(detail)" }
        return text
    }
}
