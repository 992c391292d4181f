#if canImport(Glibc)
import Glibc
#endif
internal import CVCBShims

/// A bound UDP socket with batched receive and send. Owns its file descriptor.
public final class UDPSocket {
    public let localAddress: SocketAddress
    private var descriptor: Int32

    /// Opens a UDP socket bound to `address` (port 0 picks a free port; see ``localAddress``).
    public init(bindTo address: SocketAddress, receiveBufferBytes: Int? = nil) throws(SocketError) {
        let fd = socket(address.addressFamily, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SocketError("socket") }
        do throws(SocketError) {
            if let bytes = receiveBufferBytes {
                var value = Int32(clamping: bytes)
                guard setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &value, socklen_t(MemoryLayout<Int32>.size)) == 0 else {
                    throw SocketError("setsockopt(SO_RCVBUF)")
                }
            }
            var storage = sockaddr_storage()
            let length = withUnsafeMutableBytes(of: &storage) { address.write(to: $0.baseAddress!) }
            let bound = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            guard bound == 0 else { throw SocketError("bind") }
            var local = sockaddr_storage()
            var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let named = withUnsafeMutablePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &localLength) }
            }
            guard named == 0, let resolved = withUnsafeBytes(of: &local, { SocketAddress($0.baseAddress!) }) else {
                throw SocketError("getsockname")
            }
            localAddress = resolved
            descriptor = fd
        } catch {
            Glibc.close(fd)
            throw error
        }
    }

    deinit {
        if descriptor >= 0 { Glibc.close(descriptor) }
    }

    /// The file descriptor, for a caller that polls many sockets at once.
    public var descriptorForPolling: Int32 { descriptor }

    /// Closes the socket now (a blocked receive on another thread returns).
    public func close() {
        if descriptor >= 0 {
            shutdown(descriptor, Int32(SHUT_RDWR))
            Glibc.close(descriptor)
            descriptor = -1
        }
    }

    /// Connects the socket to `address` (again, to change it): the kernel then takes datagrams from that address only,
    /// and an ICMP port-unreachable for one sent there fails the next call on the socket with
    /// ``SocketError/connectionRefused`` (how a peer learns at once that the process behind a port is gone).
    public func connect(to address: SocketAddress) throws(SocketError) {
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { address.write(to: $0.baseAddress!) }
        while true {
            let result = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, length) }
            }
            if result == 0 { return }
            if errno == EINTR { continue }
            throw SocketError("connect")
        }
    }

    /// Waits until a datagram is readable or `timeoutMilliseconds` pass (-1: forever).
    /// - Returns: whether the socket is readable.
    public func waitReadable(timeoutMilliseconds: Int32) throws(SocketError) -> Bool {
        var fds = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
        while true {
            let n = poll(&fds, 1, timeoutMilliseconds)
            if n < 0 {
                if errno == EINTR { continue }
                throw SocketError("poll")
            }
            return n > 0
        }
    }

    /// Has the kernel stamp every datagram with the time it arrived, for ``DatagramBatch/arrival(_:)``.
    /// (Linux may take a moment to start: until then a datagram's stamp is the time it is read.)
    public func enableArrivalTimes() throws(SocketError) {
        guard vcb_enable_receive_timestamps(descriptor) == 0 else { throw SocketError("setsockopt(SO_TIMESTAMPNS)") }
    }

    /// Has the kernel tell, with each datagram, how many it dropped on this socket because its receive buffer
    /// was full (``DatagramBatch/droppedBefore(_:)``, in a batch made with `arrivalTimes`).
    public func enableDropCounts() throws(SocketError) {
        guard vcb_enable_drop_counter(descriptor) == 0 else { throw SocketError("setsockopt(SO_RXQ_OVFL)") }
    }

    /// Waits until a datagram is readable or `nanoseconds` pass (precise: ppoll).
    public func waitReadable(nanoseconds: Int64) throws(SocketError) -> Bool {
        while true {
            let n = vcb_wait_readable(descriptor, nanoseconds)
            if n < 0 {
                if errno == EINTR { return false }
                throw SocketError("ppoll")
            }
            return n > 0
        }
    }

    /// Receives up to `batch.capacity` datagrams (at most `limit`) that are already queued, without blocking.
    /// - Returns: the number received (also in `batch.count`); 0 when none was waiting.
    @discardableResult
    public func receive(into batch: DatagramBatch, atMost limit: Int = .max) throws(SocketError) -> Int {
        let wanted = max(1, min(batch.capacity, limit))
        batch.resetForReceive(wanted)
        while true {
            let n = vcb_recvmmsg(descriptor, batch.headers.baseAddress, UInt32(wanted), Int32(MSG_DONTWAIT), nil)
            if n >= 0 {
                batch.count = Int(n)
                return Int(n)
            }
            switch errno {
            case EINTR: continue
            case EAGAIN, EWOULDBLOCK:
                batch.count = 0
                return 0
            default: throw SocketError("recvmmsg")
            }
        }
    }

    /// Sends the prepared slots `first..<batch.count`. Datagrams the kernel refuses for a reason that
    /// concerns one destination only (an ICMP error reported for an earlier datagram) are skipped.
    /// - Returns: the number sent.
    @discardableResult
    public func send(_ batch: DatagramBatch, from first: Int = 0) throws(SocketError) -> Int {
        precondition(first >= 0 && first <= batch.count, "first slot to send out of range")
        var sent = first
        while sent < batch.count {
            let n = vcb_sendmmsg(descriptor, batch.headers.baseAddress! + sent, UInt32(batch.count - sent), 0)
            if n > 0 {
                sent += Int(n)
                continue
            }
            switch errno {
            case EINTR: continue
            case ECONNREFUSED, EHOSTUNREACH, ENETUNREACH: sent += 1  // that peer is gone; the rest still go
            default: throw SocketError("sendmmsg")
            }
        }
        return sent - first
    }

    /// Sends one datagram.
    public func send(_ bytes: UnsafeRawBufferPointer, to address: SocketAddress) throws(SocketError) {
        var storage = sockaddr_storage()
        let length = withUnsafeMutableBytes(of: &storage) { address.write(to: $0.baseAddress!) }
        while true {
            let n = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(descriptor, bytes.baseAddress, bytes.count, 0, $0, length)
                }
            }
            if n >= 0 { return }
            if errno == EINTR { continue }
            throw SocketError("sendto")
        }
    }

    /// Convenience for tests and tools: sends an array.
    public func send(_ bytes: [UInt8], to address: SocketAddress) throws(SocketError) {
        let result: Result<Void, SocketError> = bytes.withUnsafeBytes { raw in
            do throws(SocketError) { try send(raw, to: address); return .success(()) } catch { return .failure(error) }
        }
        try result.get()
    }
}

/// Waits until one of `sockets` is readable or `nanoseconds` pass; marks the readable ones.
/// - Returns: how many are readable (0 on timeout).
public func pollReadable(_ sockets: inout [pollfd], nanoseconds: Int64) throws(SocketError) -> Int {
    while true {
        let n = sockets.withUnsafeMutableBufferPointer { vcb_poll_ns($0.baseAddress, UInt($0.count), nanoseconds) }
        if n >= 0 { return Int(n) }
        if errno != EINTR { throw SocketError("poll") }
    }
}
