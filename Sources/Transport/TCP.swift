#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A listening TCP socket (the bridge's signalling port). ``close()`` may be called from another
/// thread than the one blocked in ``accept()``.
public final class TCPListener: Sendable {
    public let localAddress: SocketAddress
    /// The socket; -1 once closed (read atomically, so a close from another thread is seen).
    private let descriptor: Atomic<Int32>

    /// - Parameter backlog: connections the kernel may hold before they are accepted (capped by `net.core.somaxconn`).
    public init(bindTo address: SocketAddress, backlog: Int32 = 64) throws(SocketError) {
        let fd = socket(address.addressFamily, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { address.write(to: $0.baseAddress!) }
        let bound = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, backlog) == 0 else {
            let error = SocketError("bind/listen")
            Glibc.close(fd)
            throw error
        }
        var local = sockaddr_storage()
        var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &localLength) } }
        guard let resolved = withUnsafeBytes(of: &local, { SocketAddress($0.baseAddress!) }) else {
            Glibc.close(fd)
            throw SocketError("getsockname", code: EINVAL)
        }
        localAddress = resolved
        descriptor = Atomic(fd)
    }

    deinit { close() }

    /// Stops accepting (a blocked `accept` returns with an error).
    public func close() {
        let fd = descriptor.exchange(-1, ordering: .acquiringAndReleasing)
        guard fd >= 0 else { return }
        shutdown(fd, Int32(SHUT_RDWR))
        Glibc.close(fd)
    }

    /// Set once ``close()`` was called: an accept that fails now means "stop", not "trouble".
    public var isClosed: Bool { descriptor.load(ordering: .acquiring) < 0 }

    /// The socket, for `poll` (readable: a connection is waiting).
    public var pollDescriptor: Int32 { descriptor.load(ordering: .acquiring) }

    /// Makes ``acceptIfReady()`` return at once when no connection waits.
    public func setNonBlocking() {
        let fd = descriptor.load(ordering: .acquiring)
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    /// The next waiting connection (non-blocking and close-on-exec), or nil when none waits
    /// (the listener must be non-blocking: ``setNonBlocking()``).
    /// - Throws: ``SocketError`` for anything but "nothing waiting", an interrupted call or a
    ///   connection aborted before it was accepted: `EMFILE`/`ENFILE` (out of descriptors),
    ///   `ENOBUFS`/`ENOMEM`, ... The caller backs off and tries again.
    public func acceptIfReady() throws(SocketError) -> TCPConnection? {
        while true {
            if let connection = acceptOne(nonBlocking: true) { return connection }
            if errno == EAGAIN || errno == EWOULDBLOCK { return nil }
            if errno == EINTR || errno == ECONNABORTED || errno == EPROTO { continue }
            throw SocketError("accept")
        }
    }

    /// Waits for the next connection.
    public func accept() throws(SocketError) -> TCPConnection {
        while true {
            if let connection = acceptOne(nonBlocking: false) { return connection }
            if errno == EINTR || errno == ECONNABORTED { continue }
            throw SocketError("accept")
        }
    }

    private func acceptOne(nonBlocking: Bool) -> TCPConnection? {
        let fd = descriptor.load(ordering: .acquiring)
        guard fd >= 0 else {
            errno = EBADF
            return nil
        }
        return acceptStream(on: fd, nonBlocking: nonBlocking)
    }
}

/// One accept(2) on the listening socket `listener` (TCP or Unix): the connection (close-on-exec,
/// and non-blocking if asked; no peer address for a Unix socket), or nil with errno set.
func acceptStream(on listener: Int32, nonBlocking: Bool) -> TCPConnection? {
    var peer = sockaddr_storage()
    var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let fd = withUnsafeMutablePointer(to: &peer) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.accept(listener, $0, &length) }
    }
    guard fd >= 0 else { return nil }
    _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    if nonBlocking { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
    let address = withUnsafeBytes(of: &peer) { SocketAddress($0.baseAddress!) }
    return TCPConnection(descriptor: fd, peer: address)
}

/// A connected TCP stream carrying newline-terminated messages.
///
/// Lines are read either waiting (``receiveLine(deadline:)``, or with a timeout) or, on a
/// non-blocking socket polled by the caller, with ``readAvailable()`` then ``bufferedLine()``. Every
/// reader treats a line longer than ``maximumLine`` the same way: an error (`EMSGSIZE`), whether
/// its newline has arrived or not.
public final class TCPConnection: @unchecked Sendable {
    public let peer: SocketAddress?
    private var descriptor: Int32
    private var buffer: [UInt8] = []
    /// Set once the peer has closed its side (a read returned end of stream).
    public private(set) var peerClosed = false
    /// Longest line accepted; a longer one is a protocol error.
    public var maximumLine = 16 * 1024

    /// Wraps a connected stream socket (TCP or Unix).
    public init(descriptor: Int32, peer: SocketAddress?) {
        self.descriptor = descriptor
        self.peer = peer
        var one: Int32 = 1
        setsockopt(descriptor, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    /// Connects to `address`.
    public convenience init(connectingTo address: SocketAddress, timeoutMilliseconds: Int32 = 5000) throws(SocketError) {
        let fd = socket(address.addressFamily, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { address.write(to: $0.baseAddress!) }
        // A blocking connect gives up after SO_SNDTIMEO (EINPROGRESS), not the kernel's two minutes of SYN retries.
        var limit = timeval(tv_sec: Int(timeoutMilliseconds / 1000), tv_usec: Int(timeoutMilliseconds % 1000) * 1000)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        let connected = withUnsafePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        guard connected == 0 else {
            let error = SocketError("connect")
            Glibc.close(fd)
            throw error
        }
        var unlimited = timeval(tv_sec: 0, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &unlimited, socklen_t(MemoryLayout<timeval>.size))
        self.init(descriptor: fd, peer: address)
    }

    deinit { close() }

    public func close() {
        if descriptor >= 0 {
            Glibc.close(descriptor)
            descriptor = -1
        }
    }

    /// The socket, for `poll`.
    public var pollDescriptor: Int32 { descriptor }

    /// Switches between blocking calls and calls that return at once (`O_NONBLOCK`).
    public func setBlocking(_ blocking: Bool) {
        let flags = fcntl(descriptor, F_GETFL)
        _ = fcntl(descriptor, F_SETFL, blocking ? flags & ~O_NONBLOCK : flags | O_NONBLOCK)
    }

    /// Reads what has arrived without waiting (the socket must be non-blocking), at most
    /// ``maximumLine`` bytes beyond a complete line.
    /// - Returns: false when the peer has closed its side (``peerClosed``).
    /// - Throws: ``SocketError`` for a failed read.
    public func readAvailable() throws(SocketError) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while buffer.count <= maximumLine {
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return true }
                throw SocketError("recv")
            }
            if n == 0 {
                peerClosed = true
                return false
            }
            buffer += chunk[0..<n]
        }
        return true
    }

    /// A complete line already received (without its newline), or nil if none is complete yet.
    /// - Throws: ``SocketError`` (`EMSGSIZE`) when more than ``maximumLine`` bytes came without a newline.
    public func bufferedLine() throws(SocketError) -> String? {
        if let newline = buffer.firstIndex(of: UInt8(ascii: "\n")) {
            guard newline <= maximumLine else { throw SocketError("receive", code: EMSGSIZE) }
            let line = String(decoding: buffer[..<newline], as: UTF8.self)
            buffer.removeSubrange(...newline)
            return line
        }
        guard buffer.count <= maximumLine else { throw SocketError("receive", code: EMSGSIZE) }
        return nil
    }

    /// Receives one line, waiting until the monotonic clock (``monotonicNanoseconds()``) reaches
    /// `deadline` at the latest, however the bytes trickle in.
    /// - Returns: the line without its newline, or nil when the peer closed the stream (``peerClosed``)
    ///   or the deadline passed.
    /// - Throws: ``SocketError`` for a failed read or a line longer than ``maximumLine``.
    public func receiveLine(deadline: Int64) throws(SocketError) -> String? {
        while true {
            if let line = try bufferedLine() { return line }
            guard try readMore(atMost: 4096, deadline: deadline) else { return nil }
        }
    }

    /// Receives exactly `count` bytes (after any line already read), waiting until `deadline` at the latest.
    /// - Returns: the bytes, or nil when the peer closed the stream first or the deadline passed.
    public func receive(count: Int, deadline: Int64) throws(SocketError) -> [UInt8]? {
        while buffer.count < count {
            guard try readMore(atMost: min(65_536, max(4096, count - buffer.count)), deadline: deadline) else { return nil }
        }
        defer { buffer.removeFirst(count) }
        return Array(buffer[0..<count])
    }

    /// Waits for bytes until `deadline` and appends what came (at most `limit`) to the buffer.
    /// - Returns: false when the deadline passed or the peer closed the stream (``peerClosed``).
    private func readMore(atMost limit: Int, deadline: Int64) throws(SocketError) -> Bool {
        while true {
            let left = deadline - monotonicNanoseconds()
            guard left > 0 else { return false }
            var fds = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, Int32(min(left / 1_000_000 + 1, 60_000)))
            if ready < 0 {
                if errno == EINTR { continue }
                throw SocketError("poll")
            }
            if ready == 0 { continue }
            var chunk = [UInt8](repeating: 0, count: limit)
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw SocketError("recv")
            }
            if n == 0 {
                peerClosed = true
                return false
            }
            buffer += chunk[0..<n]
            return true
        }
    }

    /// Ends the stream so that a blocked reader on the other side (or here) wakes up.
    public func shutdownBoth() {
        if descriptor >= 0 { shutdown(descriptor, Int32(SHUT_RDWR)) }
    }

    /// Sends one line (a newline is added).
    public func send(line: String) throws(SocketError) {
        try send(Array((line + "\n").utf8))
    }

    /// Sends bytes as they are.
    public func send(_ bytes: [UInt8]) throws(SocketError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SocketError("send")
            }
            sent += n
        }
    }

    /// Sends bytes as they are, giving up when the monotonic clock (``monotonicNanoseconds()``)
    /// reaches `deadline`, however the peer reads: each send returns at once (`MSG_DONTWAIT`) and
    /// the wait for room is a poll against what is left, so a peer that takes a little at a time
    /// cannot stretch it (a send timeout restarts with every send that makes progress).
    /// - Throws: ``SocketError``: `ETIMEDOUT` when the deadline passed with bytes unsent; a failed send.
    public func send(_ bytes: [UInt8], deadline: Int64) throws(SocketError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes {
                Glibc.send(descriptor, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
            }
            if n >= 0 {
                sent += n
                continue
            }
            if errno == EINTR { continue }
            guard errno == EAGAIN || errno == EWOULDBLOCK else { throw SocketError("send") }
            let left = deadline - monotonicNanoseconds()
            guard left > 0 else { throw SocketError("send", code: ETIMEDOUT) }
            var fds = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
            if poll(&fds, 1, Int32(min(left / 1_000_000 + 1, 60_000))) < 0 && errno != EINTR { throw SocketError("poll") }
        }
    }

    /// Sends one line (a newline is added) by `deadline` (``send(_:deadline:)``).
    public func send(line: String, deadline: Int64) throws(SocketError) {
        try send(Array((line + "\n").utf8), deadline: deadline)
    }

    /// Closes at once, discarding what is still unsent (the peer sees a reset), so a peer that
    /// reads too slowly does not keep the kernel sending after the deadline.
    public func reset() {
        guard descriptor >= 0 else { return }
        var off = linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &off, socklen_t(MemoryLayout<linger>.size))
        close()
    }

    /// Receives one line, waiting at most `timeoutMilliseconds` in all (-1: forever): ``receiveLine(deadline:)``.
    public func receiveLine(timeoutMilliseconds: Int32) throws(SocketError) -> String? {
        try receiveLine(deadline: timeoutMilliseconds < 0 ? .max : monotonicNanoseconds() + Int64(timeoutMilliseconds) * 1_000_000)
    }
}
