#if canImport(Glibc)
import Glibc
#endif

/// The raw address bytes of a ``SocketAddress``, for protocols that carry addresses in their own
/// encoding (STUN's XOR-MAPPED-ADDRESS). No allocation.
extension SocketAddress {
    /// An IPv4 (4 bytes) or IPv6 (16 bytes) address in network byte order, and a port; nil for any other length.
    public init?(addressBytes bytes: UnsafeRawBufferPointer, port: UInt16) {
        switch bytes.count {
        case 4:
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            withUnsafeMutableBytes(of: &a.sin_addr) { $0.copyMemory(from: bytes) }
            guard let address = withUnsafeBytes(of: a, { SocketAddress($0.baseAddress!) }) else { return nil }
            self = address
        case 16:
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            withUnsafeMutableBytes(of: &a.sin6_addr) { $0.copyMemory(from: bytes) }
            guard let address = withUnsafeBytes(of: a, { SocketAddress($0.baseAddress!) }) else { return nil }
            self = address
        default:
            return nil
        }
    }

    /// Whether this is an IPv6 address.
    public var isIPv6: Bool {
        if case .v6 = family { return true }
        return false
    }

    /// Calls `body` with the address in network byte order: 4 bytes for IPv4, 16 for IPv6.
    public func withAddressBytes<R>(_ body: (UnsafeRawBufferPointer) -> R) -> R {
        switch family {
        case .v4(let address):
            return withUnsafeBytes(of: address) { body($0) }
        case .v6(let hi, let lo, _):
            return withUnsafeBytes(of: (hi, lo)) { body($0) }
        }
    }
}
