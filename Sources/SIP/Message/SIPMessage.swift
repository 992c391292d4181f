/// One header field: its canonical name (long form, usual casing) and its value as written, one value of a
/// comma-separated line each.
public struct SIPHeader: Sendable, Hashable {
    public var name: String
    public var value: String

    public init(_ name: String, _ value: String) {
        self.name = SIPHeaderName.canonical(name)
        self.value = value
    }
}

/// Header names: compact forms (RFC 3261 §7.3.3) and the usual spelling of the ones we know.
enum SIPHeaderName {
    static let compact: [String: String] = [
        "i": "Call-ID", "f": "From", "t": "To", "v": "Via", "m": "Contact", "l": "Content-Length",
        "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding", "x": "Session-Expires",
    ]
    static let known: [String: String] = {
        var map: [String: String] = [:]
        for name in ["Accept", "Allow", "Authorization", "Call-ID", "Contact", "Content-Encoding", "Content-Length",
                     "Content-Type", "CSeq", "Expires", "From", "Max-Forwards", "Min-Expires", "Min-SE",
                     "Proxy-Authenticate", "Proxy-Authorization", "Proxy-Require", "Record-Route", "Require",
                     "Retry-After", "Route", "Server", "Session-Expires", "Subject", "Supported", "To", "Unsupported",
                     "User-Agent", "Via", "Warning", "WWW-Authenticate", "Reason"] {
            map[name.lowercased()] = name
        }
        return map
    }()
    /// Headers whose grammar allows several values on one line, separated by commas (the ones we split).
    static let commaSeparated: Set<String> = ["Via", "Contact", "Route", "Record-Route"]

    static func canonical(_ name: String) -> String {
        let lower = name.lowercased()
        return compact[lower] ?? known[lower] ?? name
    }
}

/// A SIP request or response (RFC 3261 §7): start line, header fields in order, body.
public struct SIPMessage: Sendable, Hashable {
    public enum StartLine: Sendable, Hashable {
        case request(method: String, uri: String)
        case response(status: Int, reason: String)
    }

    public var startLine: StartLine
    public var headers: [SIPHeader]
    public var body: [UInt8]

    public init(startLine: StartLine, headers: [SIPHeader] = [], body: [UInt8] = []) {
        self.startLine = startLine
        self.headers = headers
        self.body = body
    }

    public var isRequest: Bool { if case .request = startLine { true } else { false } }
    /// The request's method, or nil for a response.
    public var method: String? { if case .request(let method, _) = startLine { method } else { nil } }
    /// The Request-URI as written.
    public var requestURI: String? { if case .request(_, let uri) = startLine { uri } else { nil } }
    public var statusCode: Int? { if case .response(let status, _) = startLine { status } else { nil } }
    public var reasonPhrase: String? { if case .response(_, let reason) = startLine { reason } else { nil } }

    /// Every value of a header, in order (case-insensitive name, compact forms accepted).
    public func values(_ name: String) -> [String] {
        let canonical = SIPHeaderName.canonical(name)
        return headers.compactMap { $0.name.caseInsensitiveEquals(canonical) ? $0.value : nil }
    }

    /// The first value of a header.
    public func value(_ name: String) -> String? {
        let canonical = SIPHeaderName.canonical(name)
        return headers.first { $0.name.caseInsensitiveEquals(canonical) }?.value
    }

    public mutating func add(_ name: String, _ value: String) { headers.append(SIPHeader(name, value)) }

    public mutating func remove(_ name: String) {
        let canonical = SIPHeaderName.canonical(name)
        headers.removeAll { $0.name.caseInsensitiveEquals(canonical) }
    }

    /// Replaces every value of a header by one (added at the end if it was absent).
    public mutating func set(_ name: String, _ value: String) {
        let canonical = SIPHeaderName.canonical(name)
        if let index = headers.firstIndex(where: { $0.name.caseInsensitiveEquals(canonical) }) {
            headers[index].value = value
            var seen = false
            headers.removeAll { header in
                guard header.name.caseInsensitiveEquals(canonical) else { return false }
                defer { seen = true }
                return seen
            }
        } else {
            add(canonical, value)
        }
    }
}

extension String {
    func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && zip(utf8, other.utf8).allSatisfy { asciiLower($0) == asciiLower($1) }
    }
}

@inline(__always) func asciiLower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }
