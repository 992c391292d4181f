internal import CVCBShims

/// The server side of one TLS connection on an accepted TCP socket, through NSS.
///
/// The socket stays the caller's: NSS works on a duplicate of it, which ``close()`` closes (after a `close_notify`
/// when the handshake completed). The handshake and reads wait against the caller's deadline
/// (`monotonicNanoseconds()`), never longer, however slowly the client sends; writes wait at most their timeout
/// each time the socket is full. Both descriptors become non-blocking.
///
/// Not thread-safe: one connection's calls on one thread.
public final class TLSServerConnection {
    private let stream: TLSStream
    private let context: TLSServerContext

    /// - Parameter descriptor: a connected TCP socket (not taken over).
    /// - Throws: ``TLSError`` naming the NSS failure (out of descriptors: `PR_PROC_DESC_TABLE_FULL_ERROR`).
    public init(context: TLSServerContext, socket descriptor: Int32) throws(TLSError) {
        var handle: OpaquePointer?
        let status = vcb_tls_connection_create(context.handle, descriptor, &handle)
        guard status == 0, let handle else { throw TLSError(code: status == 0 ? 1 : status) }
        stream = TLSStream(handle: handle, descriptor: descriptor)
        self.context = context
    }

    /// Completes the server handshake by `deadline` (monotonic nanoseconds).
    /// - Throws: ``TLSError/handshakeTimedOut``, or the NSS error that ended it (a plain-HTTP request:
    ///   ``TLSError/recordTooLong``; random bytes: another `SSL_ERROR_*`; the client going away: a reset or
    ///   end-of-file error).
    public func handshake(deadline: Int64) throws(TLSError) { try stream.handshake(deadline: deadline) }

    /// At most `limit` decrypted bytes, waiting for them until `deadline`; empty when the client closed.
    /// - Throws: ``TLSError/readTimedOut``, or the NSS error (a fatal alert, a reset).
    public func receive(atMost limit: Int, deadline: Int64) throws(TLSError) -> [UInt8] {
        try stream.receive(atMost: limit, deadline: deadline)
    }

    /// Sends all of `bytes`, waiting at most `timeoutMilliseconds` whenever the socket is full.
    /// - Throws: ``TLSError/writeTimedOut``, or the NSS error.
    public func send(_ bytes: [UInt8], timeoutMilliseconds: Int) throws(TLSError) {
        try stream.send(bytes, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// The negotiated version after the handshake: 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3); 0 before.
    public var protocolVersion: UInt16 { stream.handle.map { vcb_tls_connection_version($0) } ?? 0 }

    /// Sends `close_notify` (if the handshake completed) and closes NSS's duplicate of the socket. Idempotent.
    public func close() { stream.close() }
}
