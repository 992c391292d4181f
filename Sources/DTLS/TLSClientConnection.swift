internal import CVCBShims

/// The client side of one TLS connection on a connected TCP socket, through NSS: how the bridge calls a hall or an
/// upstream MCU by SIP over TLS (`sips:`, `;transport=tls`).
///
/// The server's certificate must match a pinned SHA-256 fingerprint, or else be signed by the configured CA, be
/// valid now and name the host dialled; otherwise the handshake fails and ``refusal`` says which check refused it.
/// The socket stays the caller's (NSS works on a duplicate); handshake and reads wait against the caller's deadline,
/// writes at most their timeout each time the socket is full, as ``TLSServerConnection``'s do.
///
/// Not thread-safe: one connection's calls on one thread at a time (it may be handed to another thread between
/// calls, as the SIP dial-out hands a connection from its resolver to the SIP thread).
public final class TLSClientConnection: @unchecked Sendable {
    /// Why the server's certificate was refused.
    public enum Refusal: Sendable, Hashable, CustomStringConvertible {
        case noCertificate
        /// No pinned fingerprint matched, and no CA is configured.
        case fingerprint(sha256: [UInt8])
        case notSignedByCA(sha256: [UInt8])
        case expired(sha256: [UInt8])
        /// Signed by the CA and valid, but for another name than the host dialled.
        case name(host: String, sha256: [UInt8])

        public var description: String {
            switch self {
            case .noCertificate: "the server sent no certificate"
            case .fingerprint(let digest): "its certificate (SHA-256 \(Self.hex(digest))) matches no pinned fingerprint"
            case .notSignedByCA(let digest): "its certificate (SHA-256 \(Self.hex(digest))) is not signed by the configured CA"
            case .expired(let digest): "its certificate (SHA-256 \(Self.hex(digest))) is expired or not yet valid"
            case .name(let host, let digest): "its certificate (SHA-256 \(Self.hex(digest))) does not name \(host)"
            }
        }

        static func hex(_ bytes: [UInt8]) -> String {
            bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16, uppercase: true) }.joined(separator: ":")
        }
    }

    private let stream: TLSStream
    private let host: String

    /// - Parameters:
    ///   - descriptor: a connected TCP socket (not taken over).
    ///   - host: the host dialled (SNI, and the name a CA-signed certificate must carry).
    ///   - pinnedSHA256: accepted certificates by their SHA-256 (32 bytes each, at most 16).
    ///   - caCertificate: a CA certificate (DER) that may sign the server's; nil for none.
    /// - Throws: ``TLSError`` naming the NSS failure (a CA that does not parse, too many pins).
    public init(socket descriptor: Int32, host: String, pinnedSHA256: [[UInt8]], caCertificate: [UInt8]?) throws(TLSError) {
        guard pinnedSHA256.count <= 16, pinnedSHA256.allSatisfy({ $0.count == 32 }) else { throw TLSError(code: -8187) }  // SEC_ERROR_INVALID_ARGS
        let pins = pinnedSHA256.flatMap { $0 }
        var handle: OpaquePointer?
        let status = pins.withUnsafeBufferPointer { pinBytes in
            (caCertificate ?? []).withUnsafeBufferPointer { ca in
                vcb_tls_client_create(descriptor, host, pinBytes.baseAddress, pinnedSHA256.count,
                                      ca.count > 0 ? ca.baseAddress : nil, ca.count, &handle)
            }
        }
        guard status == 0, let handle else { throw TLSError(code: status == 0 ? 1 : status) }
        stream = TLSStream(handle: handle, descriptor: descriptor)
        self.host = host
    }

    /// Completes the client handshake by `deadline` (monotonic nanoseconds).
    /// - Throws: ``TLSError/handshakeTimedOut``, or the NSS error that ended it (a refused certificate:
    ///   `SSL_ERROR_BAD_CERTIFICATE`, with ``refusal`` naming why).
    public func handshake(deadline: Int64) throws(TLSError) { try stream.handshake(deadline: deadline) }

    /// Why the server's certificate was refused, after a failed handshake; nil if it was not.
    public var refusal: Refusal? {
        guard let handle = stream.handle else { return nil }
        var digest = [UInt8](repeating: 0, count: 32)
        let code = digest.withUnsafeMutableBufferPointer { vcb_tls_client_refusal(handle, $0.baseAddress) }
        switch code {
        case VCB_TLS_REFUSED_NO_CERTIFICATE: return .noCertificate
        case VCB_TLS_REFUSED_FINGERPRINT: return .fingerprint(sha256: digest)
        case VCB_TLS_REFUSED_NOT_SIGNED: return .notSignedByCA(sha256: digest)
        case VCB_TLS_REFUSED_EXPIRED: return .expired(sha256: digest)
        case VCB_TLS_REFUSED_NAME: return .name(host: host, sha256: digest)
        default: return nil
        }
    }

    /// At most `limit` decrypted bytes, waiting for them until `deadline`; empty when the server closed.
    public func receive(atMost limit: Int, deadline: Int64) throws(TLSError) -> [UInt8] {
        try stream.receive(atMost: limit, deadline: deadline)
    }

    /// Sends all of `bytes`, waiting at most `timeoutMilliseconds` whenever the socket is full.
    public func send(_ bytes: [UInt8], timeoutMilliseconds: Int) throws(TLSError) {
        try stream.send(bytes, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Sends `close_notify` (if the handshake completed) and closes NSS's duplicate of the socket. Idempotent.
    public func close() { stream.close() }
}
