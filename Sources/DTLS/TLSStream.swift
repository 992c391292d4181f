#if canImport(Glibc)
import Glibc
#endif
internal import CVCBShims
import Transport

/// What both ends of a TLS connection on NSS do alike, for ``TLSServerConnection`` and ``TLSClientConnection``: the
/// handshake and reads wait against the caller's deadline (`monotonicNanoseconds()`), never longer; writes wait at
/// most their timeout each time the socket is full; closing sends `close_notify` (after a completed handshake) and
/// closes NSS's duplicate of the socket. Not thread-safe.
final class TLSStream {
    /// The NSS connection (`vcb_tls_connection`), nil once closed.
    private(set) var handle: OpaquePointer?
    private let descriptor: Int32

    init(handle: OpaquePointer, descriptor: Int32) {
        self.handle = handle
        self.descriptor = descriptor
    }

    deinit { close() }

    func handshake(deadline: Int64) throws(TLSError) {
        guard let handle else { throw TLSError(code: Int32(-5999)) }  // PR_BAD_DESCRIPTOR_ERROR
        while true {
            let status = vcb_tls_connection_handshake(handle)
            if status == 0 { return }
            guard status == VCB_TLS_WOULD_BLOCK else { throw TLSError(code: status) }
            try waitReadable(deadline: deadline, timedOut: .handshakeTimedOut)
        }
    }

    func receive(atMost limit: Int, deadline: Int64) throws(TLSError) -> [UInt8] {
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

    func send(_ bytes: [UInt8], timeoutMilliseconds: Int) throws(TLSError) {
        guard let handle else { throw TLSError(code: Int32(-5999)) }
        let status = bytes.withUnsafeBufferPointer {
            vcb_tls_connection_write(handle, $0.baseAddress, $0.count, UInt32(clamping: max(1, timeoutMilliseconds)))
        }
        guard status == 0 else { throw TLSError(code: status) }
    }

    /// Idempotent.
    func close() {
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
