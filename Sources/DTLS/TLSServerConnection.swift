#if canImport(Glibc)
import Glibc
#endif
internal import CVCBShims
import Transport

/// The server side of one TLS connection on an accepted TCP socket, through NSS.
///
/// The socket stays the caller's: NSS works on a duplicate of it, which ``close()`` closes (after a `close_notify`
/// when the handshake completed). The handshake and reads wait against the caller's deadline
/// (`monotonicNanoseconds()`), never longer, however slowly the client sends; writes wait at most their timeout
/// each time the socket is full. Both descriptors become non-blocking.
///
/// Not thread-safe: one connection's calls on one thread.
public final class TLSServerConnection {
    private var handle: OpaquePointer?
    private let descriptor: Int32
    private let context: TLSServerContext

    /// - Parameter descriptor: a connected TCP socket (not taken over).
    /// - Throws: ``TLSError`` naming the NSS failure (out of descriptors: `PR_PROC_DESC_TABLE_FULL_ERROR`).
    public init(context: TLSServerContext, socket descriptor: Int32) throws(TLSError) {
        var handle: OpaquePointer?
        let status = vcb_tls_connection_create(context.handle, descriptor, &handle)
        guard status == 0, let handle else { throw TLSError(code: status == 0 ? 1 : status) }
        self.handle = handle
        self.descriptor = descriptor
        self.context = context
    }

    deinit { close() }

    /// Completes the server handshake by `deadline` (monotonic nanoseconds).
    /// - Throws: ``TLSError/handshakeTimedOut``, or the NSS error that ended it (a plain-HTTP request:
    ///   ``TLSError/recordTooLong``; random bytes: another `SSL_ERROR_*`; the client going away: a reset or
    ///   end-of-file error).
    public func handshake(deadline: Int64) throws(TLSError) {
        guard let handle else { throw TLSError(code: Int32(-5999)) }  // PR_BAD_DESCRIPTOR_ERROR
        while true {
            let status = vcb_tls_connection_handshake(handle)
            if status == 0 { return }
            guard status == VCB_TLS_WOULD_BLOCK else { throw TLSError(code: status) }
            try waitReadable(deadline: deadline, timedOut: .handshakeTimedOut)
        }
    }

    /// At most `limit` decrypted bytes, waiting for them until `deadline`; empty when the client closed.
    /// - Throws: ``TLSError/readTimedOut``, or the NSS error (a fatal alert, a reset).
    public func receive(atMost limit: Int, deadline: Int64) throws(TLSError) -> [UInt8] {
        guard let handle else { return [] }
        var buffer = [UInt8](repeating: 0, count: max(1, min(limit, 16 * 1024)))
        while true {
            var received = 0
            let status = buffer.withUnsafeMutableBufferPointer {
                vcb_tls_connection_read(handle, $0.baseAddress, $0.count, &received)
            }
            if status == 0 { return Array(buffer[0..<received]) }
            guard status == VCB_TLS_WOULD_BLOCK else { throw TLSError(code: status) }
            try waitReadable(deadline: deadline, timedOut: .readTimedOut)
        }
    }

    /// Sends all of `bytes`, waiting at most `timeoutMilliseconds` whenever the socket is full.
    /// - Throws: ``TLSError/writeTimedOut``, or the NSS error.
    public func send(_ bytes: [UInt8], timeoutMilliseconds: Int) throws(TLSError) {
        guard let handle else { throw TLSError(code: Int32(-5999)) }
        let status = bytes.withUnsafeBufferPointer {
            vcb_tls_connection_write(handle, $0.baseAddress, $0.count, UInt32(clamping: max(1, timeoutMilliseconds)))
        }
        guard status == 0 else { throw TLSError(code: status) }
    }

    /// The negotiated version after the handshake: 0x0303 (TLS 1.2) or 0x0304 (TLS 1.3); 0 before.
    public var protocolVersion: UInt16 { handle.map { vcb_tls_connection_version($0) } ?? 0 }

    /// Sends `close_notify` (if the handshake completed) and closes NSS's duplicate of the socket. Idempotent.
    public func close() {
        guard let handle else { return }
        vcb_tls_connection_free(handle)
        self.handle = nil
    }

    private func waitReadable(deadline: Int64, timedOut: TLSError) throws(TLSError) {
        while true {
            let left = deadline - monotonicNanoseconds()
            guard left > 0 else { throw timedOut }
            var fds = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, Int32(min(left / 1_000_000 + 1, 60_000)))
            if ready < 0 {
                if errno == EINTR { continue }
                throw .socketWaitFailed
            }
            if ready > 0 { return }  // readable, hung up or in error: NSS's next call says which
        }
    }
}
