#if canImport(Glibc)
import Glibc
#endif
internal import CVCBShims

/// Preallocated storage for sending or receiving many datagrams in one system call
/// (`recvmmsg`/`sendmmsg`): one buffer sliced into fixed-size slots, with an iovec, a socket
/// address and a message header per slot. Nothing is allocated after `init`.
///
/// Not thread-safe: a batch belongs to the thread that uses it.
public final class DatagramBatch {
    public let capacity: Int
    public let slotSize: Int
    private let storage: UnsafeMutableRawBufferPointer
    private let iovecs: UnsafeMutableBufferPointer<iovec>
    private let addresses: UnsafeMutableBufferPointer<sockaddr_storage>
    let headers: UnsafeMutableBufferPointer<vcb_mmsghdr>
    /// Per slot, room for the kernel's arrival timestamp and drop counter (empty unless asked for).
    private let controls: UnsafeMutableRawBufferPointer
    /// Number of slots filled by the last receive, or to send.
    public var count = 0

    /// - Parameters:
    ///   - capacity: datagrams per system call.
    ///   - slotSize: bytes per datagram slot (a received datagram longer than this is truncated
    ///     and reported as such by ``isTruncated(_:)``).
    ///   - arrivalTimes: keep room for each received datagram's arrival time (see ``arrival(_:)``;
    ///     the socket must have ``UDPSocket/enableArrivalTimes()``) and the socket's drop count
    ///     (``droppedBefore(_:)``, with ``UDPSocket/enableDropCounts()``).
    public init(capacity: Int, slotSize: Int, arrivalTimes: Bool = false) {
        precondition(capacity > 0 && slotSize > 0, "a batch needs at least one slot of at least one byte")
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
        iovecs = .allocate(capacity: capacity)
        addresses = .allocate(capacity: capacity)
        addresses.initialize(repeating: sockaddr_storage())
        headers = .allocate(capacity: capacity)
        controls = .allocate(byteCount: arrivalTimes ? capacity * VCB_RECEIVE_CONTROL_BYTES : 0, alignment: 16)
        for i in 0..<capacity {
            iovecs[i] = iovec(iov_base: storage.baseAddress! + i * slotSize, iov_len: slotSize)
            var header = vcb_mmsghdr()
            header.msg_hdr.msg_iov = iovecs.baseAddress! + i
            header.msg_hdr.msg_iovlen = 1
            header.msg_hdr.msg_name = UnsafeMutableRawPointer(addresses.baseAddress! + i)
            header.msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            headers[i] = header
        }
    }

    deinit {
        storage.deallocate()
        iovecs.deallocate()
        addresses.deallocate()
        headers.deallocate()
        controls.deallocate()
    }

    /// The whole slot `index`, to read a received datagram from or to write one to send.
    public func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        precondition(index >= 0 && index < capacity, "slot index out of range")
        return UnsafeMutableRawBufferPointer(rebasing: storage[(index * slotSize)..<((index + 1) * slotSize)])
    }

    /// The received datagram in slot `index`.
    public func datagram(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: slot(index)[0..<length(index)])
    }

    /// Bytes of the datagram in slot `index` (received, or set with ``prepare(_:length:to:)``).
    public func length(_ index: Int) -> Int {
        min(Int(headers[index].msg_len), slotSize)
    }

    /// Whether the datagram received in slot `index` was longer than the slot.
    public func isTruncated(_ index: Int) -> Bool {
        headers[index].msg_hdr.msg_flags & Int32(MSG_TRUNC) != 0
    }

    /// The peer of slot `index`: the sender of a received datagram.
    public func address(_ index: Int) -> SocketAddress? {
        SocketAddress(UnsafeRawPointer(addresses.baseAddress! + index))
    }

    /// When the kernel received the datagram in slot `index`, in nanoseconds on the wall clock
    /// (CLOCK_REALTIME), or nil when the batch or socket does not keep arrival times.
    public func arrival(_ index: Int) -> Int64? {
        let at = withUnsafePointer(to: &headers[index].msg_hdr) { vcb_received_at_ns($0) }
        return at >= 0 ? at : nil
    }

    /// How many datagrams the kernel had dropped on the socket (its receive buffer full) when it queued the
    /// one in slot `index`, counting from the socket's start and wrapping at 2^32; nil before the first drop,
    /// or when the batch keeps no arrival times or the socket no drop count (``UDPSocket/enableDropCounts()``).
    public func droppedBefore(_ index: Int) -> UInt32? {
        let dropped = withUnsafePointer(to: &headers[index].msg_hdr) { vcb_dropped_count($0) }
        return dropped >= 0 ? UInt32(truncatingIfNeeded: dropped) : nil
    }

    /// Sets slot `index` to send `length` bytes (already written into ``slot(_:)``) to `address`.
    public func prepare(_ index: Int, length: Int, to address: SocketAddress) {
        precondition(length >= 0 && length <= slotSize, "datagram longer than its slot")
        iovecs[index].iov_len = length
        headers[index].msg_len = UInt32(length)
        headers[index].msg_hdr.msg_namelen = address.write(to: addresses.baseAddress! + index)
    }

    /// Restores every slot for receiving (full slot length, room for any address).
    func resetForReceive(_ slots: Int) {
        for i in 0..<slots {
            iovecs[i].iov_len = slotSize
            headers[i].msg_len = 0
            headers[i].msg_hdr.msg_flags = 0
            headers[i].msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_storage>.size)
            if controls.count > 0 {
                headers[i].msg_hdr.msg_control = controls.baseAddress! + i * VCB_RECEIVE_CONTROL_BYTES
                headers[i].msg_hdr.msg_controllen = VCB_RECEIVE_CONTROL_BYTES
            }
        }
    }
}
