/// A `sip:` or `sips:` URI (RFC 3261 §19.1): user, host (name, IPv4, or IPv6 in brackets), port, parameters, headers.
/// A password in the userinfo is refused (§19.1.1 says it SHOULD NOT be used; we never accept one).
public struct SIPURI: Sendable, Hashable, CustomStringConvertible {
    public var secure: Bool
    public var user: String?
    /// The host; an IPv6 address without its brackets.
    public var host: String
    public var port: UInt16?
    public var parameters: [SIPParameter]
    /// The `?a=b&c=d` part, without the `?`.
    public var headers: String?

    public init(secure: Bool = false, user: String? = nil, host: String, port: UInt16? = nil,
                parameters: [SIPParameter] = [], headers: String? = nil) {
        self.secure = secure
        self.user = user
        self.host = host
        self.port = port
        self.parameters = parameters
        self.headers = headers
    }

    /// `transport=` in lower case, if given.
    public var transport: String? { parameters.parameter("transport").flatMap { $0?.lowercased() } }

    /// The host as written in a URI or Via (IPv6 in brackets).
    public var hostText: String { host.contains(":") ? "[\(host)]" : host }

    /// - Throws: ``SIPParseError`` (`badURI`, `passwordInURI`).
    public init(parsing text: some StringProtocol) throws(SIPParseError) {
        let string = String(text)
        func bad() -> SIPParseError { SIPParseError(.badURI, excerpt: Array(string.utf8)) }
        guard string.utf8.count <= 2048 else { throw bad() }
        var rest: Substring
        let lower = string.lowercased()
        if lower.hasPrefix("sips:") {
            secure = true
            rest = string.dropFirst(5)
        } else if lower.hasPrefix("sip:") {
            secure = false
            rest = string.dropFirst(4)
        } else {
            throw bad()
        }
        if let question = rest.firstIndex(of: "?") {
            headers = String(rest[rest.index(after: question)...])
            rest = rest[..<question]
        } else {
            headers = nil
        }
        var parameterText: Substring = ""
        // The user part may hold ';' (RFC 3261 §25.1 user-unreserved), so look for parameters after the '@'.
        let at = rest.lastIndex(of: "@")
        let hostStart = at.map { rest.index(after: $0) } ?? rest.startIndex
        if let semicolon = rest[hostStart...].firstIndex(of: ";") {
            parameterText = rest[rest.index(after: semicolon)...]
            rest = rest[..<semicolon]
        }
        if let at {
            let userinfo = rest[..<at]
            guard !userinfo.isEmpty else { throw bad() }
            guard !userinfo.contains(":") else { throw SIPParseError(.passwordInURI, excerpt: Array(string.utf8)) }
            guard userinfo.utf8.allSatisfy(Self.isUserByte) else { throw bad() }
            user = String(userinfo)
            rest = rest[rest.index(after: at)...]
        } else {
            user = nil
        }
        let (parsedHost, parsedPort) = try Self.parseHostPort(rest, excerpt: string)
        host = parsedHost
        port = parsedPort
        do {
            parameters = try [SIPParameter].parse(parameterText, header: "URI")
        } catch {
            throw bad()
        }
    }

    /// `host[:port]` with the host a name, an IPv4 address or `[IPv6]`.
    static func parseHostPort(_ text: Substring, excerpt: String) throws(SIPParseError) -> (String, UInt16?) {
        func bad() -> SIPParseError { SIPParseError(.badURI, excerpt: Array(excerpt.utf8)) }
        var host: Substring
        var portText: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw bad() }
            host = text[text.index(after: text.startIndex)..<close]
            guard !host.isEmpty, host.contains(":"),
                  host.utf8.allSatisfy({ isHexDigit($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { throw bad() }
            let after = text[text.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw bad() }
                portText = after.dropFirst()
            }
        } else {
            let parts = text.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 2 else { throw bad() }
            host = parts[0]
            portText = parts.count == 2 ? parts[1] : nil
            guard !host.isEmpty, host.utf8.count <= 255, host.utf8.allSatisfy({
                isAlphanumeric($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: ".")
            }) else { throw bad() }
        }
        var port: UInt16?
        if let portText {
            guard let value = parseDecimal(portText, max: 65535), value > 0 else { throw bad() }
            port = UInt16(value)
        }
        return (String(host), port)
    }

    static func isUserByte(_ byte: UInt8) -> Bool {
        if isAlphanumeric(byte) { return true }
        return "-_.!~*'()%&=+$,;?/".utf8.contains(byte)
    }

    public var description: String {
        var text = secure ? "sips:" : "sip:"
        if let user { text += user + "@" }
        text += hostText
        if let port { text += ":\(port)" }
        text += parameters.serialized
        if let headers { text += "?" + headers }
        return text
    }

    /// Host and port as in a Via's sent-by.
    var hostPort: String { hostText + (port.map { ":\($0)" } ?? "") }
}

func isAlphanumeric(_ byte: UInt8) -> Bool {
    (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
}

func isHexDigit(_ byte: UInt8) -> Bool {
    (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
}
