#if canImport(Glibc)
import Glibc
#endif

/// An IPv4 or IPv6 address and UDP port. A value type without allocation, so it can be
/// produced for every received datagram.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible {
    enum Family: Hashable, Sendable {
        /// Address in network byte order.
        case v4(UInt32)
        /// Address bytes as two big-endian halves, and the scope id.
        case v6(UInt64, UInt64, scope: UInt32)
    }

    let family: Family
    public let port: UInt16

    /// Parses a numeric address ("127.0.0.1", "::1") and a port.
    /// - Throws: ``SocketError/invalidArgument`` for anything that is not a numeric IP address.
    public init(ip: String, port: UInt16) throws(SocketError) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            family = .v4(v4.s_addr)
        } else if inet_pton(AF_INET6, ip, &v6) == 1 {
            let (hi, lo) = withUnsafeBytes(of: v6) { ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
            family = .v6(hi, lo, scope: 0)
        } else {
            throw SocketError("inet_pton", code: EINVAL)
        }
        self.port = port
    }

    /// Parses "HOST:PORT" or "[V6HOST]:PORT" with a numeric host.
    public init(parsing text: String) throws(SocketError) {
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw SocketError("parse address", code: EINVAL) }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            throw SocketError("parse address", code: EINVAL)
        }
        guard let port = UInt16(portText) else { throw SocketError("parse address", code: EINVAL) }
        try self.init(ip: String(host), port: port)
    }

    /// Reads a kernel socket address; nil for families other than IPv4/IPv6.
    init?(_ storage: UnsafeRawPointer) {
        let family = storage.load(as: sockaddr.self).sa_family
        switch Int32(family) {
        case AF_INET:
            let a = storage.loadUnaligned(as: sockaddr_in.self)
            self.family = .v4(a.sin_addr.s_addr)
            port = UInt16(bigEndian: a.sin_port)
        case AF_INET6:
            let a = storage.loadUnaligned(as: sockaddr_in6.self)
            let (hi, lo) = withUnsafeBytes(of: a.sin6_addr) {
                ($0.loadUnaligned(as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            self.family = .v6(hi, lo, scope: a.sin6_scope_id)
            port = UInt16(bigEndian: a.sin6_port)
        default:
            return nil
        }
    }

    var addressFamily: Int32 {
        switch family {
        case .v4: AF_INET
        case .v6: AF_INET6
        }
    }

    /// The same host with another port.
    public func with(port: UInt16) -> SocketAddress {
        SocketAddress(family: family, port: port)
    }

    private init(family: Family, port: UInt16) {
        self.family = family
        self.port = port
    }

    /// Writes the kernel form into `storage`; returns its length.
    @discardableResult
    func write(to storage: UnsafeMutableRawPointer) -> socklen_t {
        switch family {
        case .v4(let address):
            var a = sockaddr_in()
            a.sin_family = sa_family_t(AF_INET)
            a.sin_port = port.bigEndian
            a.sin_addr.s_addr = address
            storage.storeBytes(of: a, as: sockaddr_in.self)
            return socklen_t(MemoryLayout<sockaddr_in>.size)
        case .v6(let hi, let lo, let scope):
            var a = sockaddr_in6()
            a.sin6_family = sa_family_t(AF_INET6)
            a.sin6_port = port.bigEndian
            a.sin6_scope_id = scope
            withUnsafeMutableBytes(of: &a.sin6_addr) {
                $0.storeBytes(of: hi, as: UInt64.self)
                $0.storeBytes(of: lo, toByteOffset: 8, as: UInt64.self)
            }
            storage.storeBytes(of: a, as: sockaddr_in6.self)
            return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
    }

    public var description: String {
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        switch family {
        case .v4(let address):
            var a = in_addr(s_addr: address)
            inet_ntop(AF_INET, &a, &text, socklen_t(text.count))
            return String(cString: text) + ":\(port)"
        case .v6(let hi, let lo, _):
            var a = in6_addr()
            withUnsafeMutableBytes(of: &a) {
                $0.storeBytes(of: hi, as: UInt64.self)
                $0.storeBytes(of: lo, toByteOffset: 8, as: UInt64.self)
            }
            inet_ntop(AF_INET6, &a, &text, socklen_t(text.count))
            return "[" + String(cString: text) + "]:\(port)"
        }
    }
}
