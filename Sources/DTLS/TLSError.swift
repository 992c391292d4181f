internal import CVCBShims

/// Why a TLS connection of the web listener failed.
///
/// Negative raw values are the NSS/NSPR error codes exactly as `PR_GetError()` reports them, named by ``name``
/// (`SSL_ERROR_RX_RECORD_TOO_LONG` for a plain-HTTP request, `SSL_ERROR_BAD_CERT_ALERT` when the client refused the
/// certificate); positive raw values are vcbridge's own conditions.
public struct TLSError: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// NSS reported a failure without an error code.
    public static let unknown = TLSError(rawValue: 1)
    /// The handshake did not complete before the connection's deadline.
    public static let handshakeTimedOut = TLSError(rawValue: 100)
    /// Bytes did not arrive before the connection's deadline.
    public static let readTimedOut = TLSError(rawValue: 101)
    /// Waiting for the socket failed (poll).
    public static let socketWaitFailed = TLSError(rawValue: 102)

    /// `SSL_ERROR_RX_RECORD_TOO_LONG`: bytes that are not TLS records (a plain-HTTP request on the TLS port).
    public static let recordTooLong = TLSError(rawValue: -12263)
    /// `PR_IO_TIMEOUT_ERROR`: a write waited longer than its timeout (the client does not read).
    public static let writeTimedOut = TLSError(rawValue: -5990)

    init(code: Int32) { rawValue = code }

    public var name: String {
        switch self {
        case .unknown: "unknown NSS failure"
        case .handshakeTimedOut: "handshakeTimedOut"
        case .readTimedOut: "readTimedOut"
        case .socketWaitFailed: "socketWaitFailed"
        default:
            if rawValue < 0, let name = vcb_dtls_error_name(rawValue) { String(cString: name) } else { "error \(rawValue)" }
        }
    }

    public var description: String {
        let explanation: String? =
            switch self {
            case .unknown: "NSS failed without an error code"
            case .handshakeTimedOut: "the TLS handshake did not complete in time"
            case .readTimedOut: "the request did not arrive in time"
            case .socketWaitFailed: "waiting for the socket failed"
            default: rawValue < 0 ? vcb_dtls_error_text(rawValue).map { String(cString: $0) } : nil
            }
        return explanation.map { "\(name): \($0)" } ?? name
    }
}
