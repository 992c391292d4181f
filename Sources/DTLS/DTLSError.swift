internal import CVCBShims

/// Why a DTLS certificate, fingerprint or session failed.
///
/// Negative raw values are the NSS/NSPR error codes (`prerr.h`, `secerr.h`, `sslerr.h`) exactly as `PR_GetError()`
/// reports them, named by ``name`` (`PR_ErrorToName`); positive raw values are vcbridge's own conditions.
public struct DTLSError: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    // vcbridge's own conditions (1-4 are shared with the C layer's `VCB_DTLS_ERR_*`).

    /// NSS reported a failure without an error code.
    public static let unknown = DTLSError(rawValue: 1)
    /// The private key does not belong to the certificate.
    public static let keyDoesNotMatchCertificate = DTLSError(rawValue: 2)
    /// The peer's certificate does not hash to the fingerprint of its offer: the handshake was refused
    /// (NSS sent a `bad_certificate` alert).
    public static let fingerprintMismatch = DTLSError(rawValue: 3)
    /// The handshake completed without an SRTP protection profile (the peer offered none we support).
    public static let srtpNotNegotiated = DTLSError(rawValue: 4)
    /// The handshake did not complete before the session's deadline.
    public static let handshakeTimedOut = DTLSError(rawValue: 100)
    /// An SDP fingerprint that is not `<hash> XX:XX:...` with the hash's number of bytes.
    public static let malformedFingerprint = DTLSError(rawValue: 101)
    /// An SDP fingerprint with a hash function other than sha-256.
    public static let unsupportedFingerprintAlgorithm = DTLSError(rawValue: 102)
    /// PEM text without the expected `-----BEGIN ...-----` block, or with bad base64 in it.
    public static let malformedPEM = DTLSError(rawValue: 103)
    /// A private key that is not an unencrypted PKCS#8 `PRIVATE KEY` (convert with
    /// `openssl pkcs8 -topk8 -nocrypt`).
    public static let unsupportedPrivateKeyFormat = DTLSError(rawValue: 104)
    /// A certificate or key file that could not be read.
    public static let unreadableFile = DTLSError(rawValue: 105)
    /// A certificate's common name longer than 64 bytes, or validity outside 1...3650 days.
    public static let invalidCertificateParameters = DTLSError(rawValue: 106)

    // NSS/NSPR codes a caller may want to match.

    /// `SSL_ERROR_NO_CERTIFICATE`: the client sent no certificate.
    public static let noCertificate = DTLSError(rawValue: -12285)
    /// `SSL_ERROR_BAD_CERT_ALERT`: the peer refused our certificate.
    public static let badCertificateAlert = DTLSError(rawValue: -12271)
    /// `SSL_ERROR_HANDSHAKE_FAILURE_ALERT`: the peer aborted the handshake.
    public static let handshakeFailureAlert = DTLSError(rawValue: -12227)
    /// `SEC_ERROR_BAD_DER`: bytes that are not the DER they should be (a certificate or key).
    public static let badDER = DTLSError(rawValue: -8183)

    init(code: Int32) { rawValue = code }

    /// The NSS/NSPR symbolic name (`SSL_ERROR_BAD_CERT_ALERT`) or vcbridge's name for its own conditions.
    public var name: String {
        switch self {
        case .unknown: "unknown NSS failure"
        case .keyDoesNotMatchCertificate: "keyDoesNotMatchCertificate"
        case .fingerprintMismatch: "fingerprintMismatch"
        case .srtpNotNegotiated: "srtpNotNegotiated"
        case .handshakeTimedOut: "handshakeTimedOut"
        case .malformedFingerprint: "malformedFingerprint"
        case .unsupportedFingerprintAlgorithm: "unsupportedFingerprintAlgorithm"
        case .malformedPEM: "malformedPEM"
        case .unsupportedPrivateKeyFormat: "unsupportedPrivateKeyFormat"
        case .unreadableFile: "unreadableFile"
        case .invalidCertificateParameters: "invalidCertificateParameters"
        default:
            if rawValue < 0, let name = vcb_dtls_error_name(rawValue) { String(cString: name) } else { "error \(rawValue)" }
        }
    }

    public var description: String {
        let explanation: String? =
            switch self {
            case .unknown: "NSS failed without an error code"
            case .keyDoesNotMatchCertificate: "the private key does not belong to the certificate"
            case .fingerprintMismatch: "the peer's DTLS certificate does not match the fingerprint in its offer"
            case .srtpNotNegotiated: "the peer negotiated no SRTP profile we support (use_srtp)"
            case .handshakeTimedOut: "the DTLS handshake did not complete in time"
            case .malformedFingerprint: "the fingerprint is not '<hash> XX:XX:...' with a whole digest"
            case .unsupportedFingerprintAlgorithm: "only sha-256 fingerprints are supported"
            case .malformedPEM: "no valid PEM block of the expected kind"
            case .unsupportedPrivateKeyFormat:
                "the key is not an unencrypted PKCS#8 PRIVATE KEY (convert it with openssl pkcs8 -topk8 -nocrypt)"
            case .unreadableFile: "the file could not be read"
            case .invalidCertificateParameters: "common name over 64 bytes or validity outside 1...3650 days"
            default: rawValue < 0 ? vcb_dtls_error_text(rawValue).map { String(cString: $0) } : nil
            }
        return explanation.map { "\(name): \($0)" } ?? name
    }
}
