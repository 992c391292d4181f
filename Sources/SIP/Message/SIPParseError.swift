/// Why outside bytes are not a SIP message, or a header value is not what its grammar says; names the line and
/// shows an excerpt of it.
public struct SIPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Kind: String, Sendable, Hashable {
        case empty = "empty message"
        case messageTooLarge = "message too large"
        case notText = "header section is not text"
        case noHeaderEnd = "no empty line after the headers"
        case badStartLine = "malformed request or status line"
        case badVersion = "unsupported SIP version"
        case badHeaderLine = "malformed header line"
        case headerLineTooLong = "header line too long"
        case tooManyHeaders = "too many headers"
        case missingContentLength = "Content-Length required on a stream"
        case badContentLength = "malformed Content-Length"
        case bodyTooShort = "body shorter than Content-Length"
        case bodyTooLarge = "body larger than the limit"
        case badURI = "malformed SIP URI"
        case passwordInURI = "password in a SIP URI"
        case badHeaderValue = "malformed header value"
        case bufferFull = "stream buffer full without a whole message"
    }

    public let kind: Kind
    /// 1-based line of the message, or 0 when not about one line.
    public let line: Int
    /// Up to 60 characters of what was read there, control characters shown as `?`.
    public let excerpt: String
    /// The header the problem is in, when one is.
    public let header: String?
    /// The message's headers when only its body was wrong, so a stream server can still answer 400.
    public let headersOnly: SIPMessage?

    init(_ kind: Kind, line: Int = 0, excerpt: some Sequence<UInt8> = [UInt8](), header: String? = nil,
         headersOnly: SIPMessage? = nil) {
        self.kind = kind
        self.line = line
        self.excerpt = Self.printable(excerpt)
        self.header = header
        self.headersOnly = headersOnly
    }

    init(_ kind: Kind, header: String, value: String) {
        self.init(kind, excerpt: Array(value.utf8), header: header)
    }

    static func printable(_ bytes: some Sequence<UInt8>) -> String {
        var out = ""
        for byte in bytes.prefix(60) { out.unicodeScalars.append(byte >= 0x20 && byte < 0x7F ? Unicode.Scalar(byte) : "?") }
        return out
    }

    public var description: String {
        var text = kind.rawValue
        if let header { text += " (\(header))" }
        if line > 0 { text += " at line \(line)" }
        if !excerpt.isEmpty { text += ": \"\(excerpt)\"" }
        return text
    }

    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.kind == rhs.kind && lhs.line == rhs.line && lhs.excerpt == rhs.excerpt && lhs.header == rhs.header
    }
    public func hash(into hasher: inout Hasher) { hasher.combine(kind); hasher.combine(line) }
}
