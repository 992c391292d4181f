#if canImport(Glibc)
import Glibc
#endif

extension SocketAddress {
    /// The host as one party holds it, for per-peer caps: an IPv4 address as it is, an IPv4-mapped
    /// IPv6 address (`::ffff:a.b.c.d`) as that IPv4 address, any other IPv6 address as its /64
    /// (a single host or home line commonly holds a whole /64, so one address each would be no cap).
    /// The port is left out.
    public var peerGroup: String {
        switch family {
        case .v4(let address):
            return Self.dotted(address)
        case .v6(let hi, let lo, _):
            // `hi` and `lo` hold the address bytes in network order.
            let bytes = withUnsafeBytes(of: (hi, lo)) { Array($0) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }) && bytes[10] == 0xFF && bytes[11] == 0xFF {
                return Self.dotted(bytes[12...].withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) })
            }
            let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            return groups.joined(separator: ":") + "::/64"
        }
    }

    private static func dotted(_ networkOrder: UInt32) -> String {
        withUnsafeBytes(of: networkOrder) { $0.map { String($0) }.joined(separator: ".") }
    }
}
