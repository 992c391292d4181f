#if canImport(Glibc)
import Glibc
#endif

/// A failed socket call: the errno as a named Swift error.
public struct SocketError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The C `errno` value.
    public let code: Int32
    /// The call that failed (`bind`, `recvmmsg`, ...).
    public let operation: StaticString

    init(_ operation: StaticString, code: Int32 = errno) {
        self.operation = operation
        self.code = code
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// `EADDRINUSE`: the address and port are already bound.
    public static let addressInUse = SocketError("", code: EADDRINUSE)
    /// `EADDRNOTAVAIL`: the address is not one of this host's.
    public static let addressNotAvailable = SocketError("", code: EADDRNOTAVAIL)
    /// `ECONNREFUSED`: an ICMP port-unreachable came back for an earlier datagram.
    public static let connectionRefused = SocketError("", code: ECONNREFUSED)
    /// `EMSGSIZE`: the datagram is larger than the socket allows.
    public static let messageTooLarge = SocketError("", code: EMSGSIZE)
    /// `EAFNOSUPPORT`: the address family is not supported on this host.
    public static let addressFamilyNotSupported = SocketError("", code: EAFNOSUPPORT)
    /// `EINVAL`: an invalid argument (an unparsable address, for example).
    public static let invalidArgument = SocketError("", code: EINVAL)

    public var description: String {
        let text = String(cString: strerror(code))
        return "\(operation): \(text) (errno \(code))"
    }
}
