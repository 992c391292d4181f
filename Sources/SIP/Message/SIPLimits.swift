/// How SIP messages reach us: UDP datagrams or a TCP/TLS byte stream (RFC 3261 §18).
public enum SIPTransportKind: String, Sendable, Hashable {
    case udp = "UDP", tcp = "TCP", tls = "TLS"

    /// TCP and TLS deliver reliably: the transactions skip their retransmissions (RFC 3261 §17).
    public var isReliable: Bool { self != .udp }

    /// What a datagram or a stream may hold.
    public var limits: SIPLimits { self == .udp ? .datagram : .stream }
}

/// Bounds on one SIP message: everything from outside is measured against these before it is kept.
public struct SIPLimits: Sendable, Hashable {
    /// The whole message (start line, headers, body).
    public var maxMessageBytes: Int
    /// Header fields, counting each value of a comma-separated line (Via, Contact, Route, Record-Route).
    public var maxHeaders: Int
    /// One physical header line, or a folded header after unfolding.
    public var maxHeaderLineBytes: Int

    public init(maxMessageBytes: Int, maxHeaders: Int = 100, maxHeaderLineBytes: Int = 4096) {
        self.maxMessageBytes = maxMessageBytes
        self.maxHeaders = maxHeaders
        self.maxHeaderLineBytes = maxHeaderLineBytes
    }

    /// UDP: 16 KiB.
    public static let datagram = SIPLimits(maxMessageBytes: 16 * 1024)
    /// TCP/TLS: 64 KiB a message.
    public static let stream = SIPLimits(maxMessageBytes: 64 * 1024)
}

/// Where a message came from or goes to; what `received`/`rport` (RFC 3581) and the per-peer caps use.
public struct SIPPeer: Sendable, Hashable, CustomStringConvertible {
    /// A numeric IPv4 or IPv6 address (IPv6 without brackets).
    public var host: String
    public var port: UInt16
    public var transport: SIPTransportKind

    public init(host: String, port: UInt16, transport: SIPTransportKind) {
        self.host = host
        self.port = port
        self.transport = transport
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)/\(transport.rawValue)" : "\(host):\(port)/\(transport.rawValue)"
    }
}
