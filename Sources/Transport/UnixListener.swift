#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A listening Unix stream socket at a path, owner-only (mode 0600): the bridge's control socket.
/// Connections are ``TCPConnection``s (line reads and sends work the same) without a peer address.
/// ``close()`` may be called from another thread than the one blocked in ``accept()``.
public final class UnixListener: Sendable {
    public let path: String
    /// The socket; -1 once closed (read atomically, so a close from another thread is seen).
    private let descriptor: Atomic<Int32>

    /// Binds `path` (removing what was there first) and listens.
    /// - Throws: ``SocketError``: `ENAMETOOLONG` for a path too long for a Unix socket address;
    ///   the failed `socket`, `bind` or `listen` otherwise.
    public init(path: String, backlog: Int32 = 16) throws(SocketError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw SocketError("bind", code: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        unlink(path)
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        let previousMask = umask(0o177)  // created owner-only
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        umask(previousMask)
        guard bound == 0, listen(fd, backlog) == 0 else {
            let error = SocketError(bound == 0 ? "listen" : "bind")
            Glibc.close(fd)
            throw error
        }
        chmod(path, 0o600)
        self.path = path
        descriptor = Atomic(fd)
    }

    deinit { close() }

    /// Stops accepting (a blocked ``accept()`` returns with an error) and removes the path.
    public func close() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
        unlink(path)
    }

    /// Set once ``close()`` was called: an accept that fails now means "stop", not "trouble".
    public var isClosed: Bool { descriptor.load(ordering: .acquiring) < 0 }

    /// Waits for the next connection (close-on-exec).
    /// - Throws: ``SocketError`` for anything but an interrupted call or a connection aborted before
    ///   it was accepted (out of descriptors, closed, ...).
    public func accept() throws(SocketError) -> TCPConnection {
        while true {
            let fd = descriptor.load(ordering: .acquiring)
            guard fd >= 0 else { throw SocketError("accept", code: EBADF) }
            if let connection = acceptStream(on: fd, nonBlocking: false) { return connection }
            if errno == EINTR || errno == ECONNABORTED { continue }
            throw SocketError("accept")
        }
    }
}
