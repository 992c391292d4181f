/// One Via value (RFC 3261 §20.42, RFC 3581): `SIP/2.0/UDP host:port;branch=z9hG4bK...;received=..;rport[=n]`.
public struct SIPVia: Sendable, Hashable, CustomStringConvertible {
    /// The RFC 3261 branch prefix: a branch that starts with it is unique per transaction.
    public static let magicCookie = "z9hG4bK"

    /// Transport in upper case (UDP, TCP, TLS, SCTP, WS, ...).
    public var transport: String
    /// sent-by host (IPv6 without brackets).
    public var host: String
    public var port: UInt16?
    public var parameters: [SIPParameter]

    public init(transport: String, host: String, port: UInt16?, branch: String, rport: Bool = false) {
        self.transport = transport.uppercased()
        self.host = host
        self.port = port
        self.parameters = [SIPParameter("branch", branch)]
        if rport { parameters.append(SIPParameter("rport")) }
    }

    public var branch: String? { parameters.parameter("branch") ?? nil }
    public var received: String? { parameters.parameter("received") ?? nil }

    /// RFC 3581: absent, asked for (`;rport`), or filled in (`;rport=5060`).
    public enum RPort: Sendable, Hashable { case absent, requested, value(UInt16) }

    public var rport: RPort {
        switch parameters.parameter("rport") {
        case .none: .absent
        case .some(.none): .requested
        case .some(.some(let text)): parseDecimal(text, max: 65535).map { .value(UInt16($0)) } ?? .requested
        }
    }

    /// sent-by as written: `host[:port]`, IPv6 in brackets.
    public var sentBy: String {
        (host.contains(":") ? "[\(host)]" : host) + (port.map { ":\($0)" } ?? "")
    }

    /// - Throws: ``SIPParseError`` `badHeaderValue` (Via).
    public init(parsing text: some StringProtocol) throws(SIPParseError) {
        let string = String(text)
        func bad() -> SIPParseError { SIPParseError(.badHeaderValue, header: "Via", value: string) }
        let trimmed = string.trimmingSpaces
        guard let space = trimmed.firstIndex(where: { $0 == " " || $0 == "\t" }) else { throw bad() }
        let protocolParts = trimmed[..<space].split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.trimmingSpaces }
        guard protocolParts.count == 3, protocolParts[0].uppercased() == "SIP", protocolParts[1] == "2.0",
              !protocolParts[2].isEmpty, protocolParts[2].utf8.allSatisfy(isTokenByte)
        else { throw bad() }
        transport = protocolParts[2].uppercased()
        let rest = trimmed[space...].trimmingSpaces
        let parts = rest.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        let hostPort = parts[0].trimmingSpaces
        do {
            (host, port) = try SIPURI.parseHostPort(hostPort, excerpt: string)
        } catch {
            throw bad()
        }
        parameters = try [SIPParameter].parse(parts.count == 2 ? parts[1] : "", header: "Via")
        if case .some(.some(let value)) = parameters.parameter("rport"), parseDecimal(value, max: 65535) == nil {
            throw bad()
        }
        if case .some(let branch) = parameters.parameter("branch"), branch?.isEmpty ?? true { throw bad() }
    }

    public var description: String { "SIP/2.0/\(transport) \(sentBy)" + parameters.serialized }
}
