/// CSeq (RFC 3261 §20.16): a sequence number below 2^31 and the request's method.
public struct SIPCSeq: Sendable, Hashable, CustomStringConvertible {
    public static let maxNumber: UInt32 = 0x7FFF_FFFF
    public var number: UInt32
    public var method: String

    public init(number: UInt32, method: String) {
        self.number = number
        self.method = method
    }

    public init(parsing text: some StringProtocol) throws(SIPParseError) {
        let string = String(text)
        let parts = string.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard parts.count == 2, let value = parseDecimal(parts[0], max: Int(Self.maxNumber)),
              parts[1].utf8.allSatisfy(isTokenByte)
        else { throw SIPParseError(.badHeaderValue, header: "CSeq", value: string) }
        number = UInt32(value)
        method = String(parts[1])
    }

    public var description: String { "\(number) \(method)" }
}

/// Session-Expires (RFC 4028 §4): the session interval in seconds and who refreshes.
public struct SIPSessionExpires: Sendable, Hashable, CustomStringConvertible {
    public enum Refresher: String, Sendable, Hashable { case uac, uas }
    public var seconds: UInt32
    public var refresher: Refresher?

    public init(seconds: UInt32, refresher: Refresher? = nil) {
        self.seconds = seconds
        self.refresher = refresher
    }

    public init(parsing text: some StringProtocol) throws(SIPParseError) {
        let string = String(text)
        func bad() -> SIPParseError { SIPParseError(.badHeaderValue, header: "Session-Expires", value: string) }
        let parts = string.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
        guard let value = parseDecimal(parts[0].trimmingSpaces, max: Int(UInt32.max)), value > 0 else { throw bad() }
        seconds = UInt32(value)
        let parameters = try [SIPParameter].parse(parts.count == 2 ? parts[1] : "", header: "Session-Expires")
        switch parameters.parameter("refresher") {
        case .none: refresher = nil
        case .some(let value):
            guard let value, let parsed = Refresher(rawValue: value.lowercased()) else { throw bad() }
            refresher = parsed
        }
    }

    public var description: String { "\(seconds)" + (refresher.map { ";refresher=\($0.rawValue)" } ?? "") }
}

extension SIPMessage {
    /// The typed CSeq.
    public func cseq() throws(SIPParseError) -> SIPCSeq {
        guard let text = value("CSeq") else { throw SIPParseError(.badHeaderValue, header: "CSeq", value: "") }
        return try SIPCSeq(parsing: text)
    }

    public var callID: String? { value("Call-ID") }

    /// The Via values top first.
    public func vias() throws(SIPParseError) -> [SIPVia] {
        var out: [SIPVia] = []
        for text in values("Via") { out.append(try SIPVia(parsing: text)) }
        return out
    }

    public func topVia() throws(SIPParseError) -> SIPVia? {
        guard let text = value("Via") else { return nil }
        return try SIPVia(parsing: text)
    }

    public func from() throws(SIPParseError) -> SIPAddress {
        try address("From")
    }

    public func to() throws(SIPParseError) -> SIPAddress {
        try address("To")
    }

    /// Contact values (`*` is refused here: only REGISTER uses it).
    public func contacts() throws(SIPParseError) -> [SIPAddress] {
        var out: [SIPAddress] = []
        for text in values("Contact") { out.append(try SIPAddress(parsing: text, header: "Contact")) }
        return out
    }

    func address(_ name: String) throws(SIPParseError) -> SIPAddress {
        guard let text = value(name) else { throw SIPParseError(.badHeaderValue, header: name, value: "") }
        return try SIPAddress(parsing: text, header: name)
    }

    /// Max-Forwards (0...255 per RFC 3261 §20.22), nil if absent.
    public func maxForwards() throws(SIPParseError) -> Int? {
        guard let text = value("Max-Forwards") else { return nil }
        guard let number = parseDecimal(text, max: 255) else {
            throw SIPParseError(.badHeaderValue, header: "Max-Forwards", value: text)
        }
        return number
    }

    /// Expires (delta seconds), nil if absent.
    public func expires() throws(SIPParseError) -> UInt32? {
        try deltaSeconds("Expires")
    }

    /// Min-SE (RFC 4028 §5), nil if absent.
    public func minSE() throws(SIPParseError) -> UInt32? {
        guard let text = value("Min-SE") else { return nil }
        let number = text.split(separator: ";", maxSplits: 1)[...].first ?? ""
        guard let value = parseDecimal(number.trimmingSpaces, max: Int(UInt32.max)) else {
            throw SIPParseError(.badHeaderValue, header: "Min-SE", value: text)
        }
        return UInt32(value)
    }

    public func sessionExpires() throws(SIPParseError) -> SIPSessionExpires? {
        guard let text = value("Session-Expires") else { return nil }
        return try SIPSessionExpires(parsing: text)
    }

    func deltaSeconds(_ name: String) throws(SIPParseError) -> UInt32? {
        guard let text = value(name) else { return nil }
        guard let value = parseDecimal(text, max: Int(UInt32.max)) else {
            throw SIPParseError(.badHeaderValue, header: name, value: text)
        }
        return UInt32(value)
    }

    /// Content-Type's media type in lower case without parameters.
    public var contentType: String? {
        value("Content-Type").map { String($0.split(separator: ";", maxSplits: 1).first?.trimmingSpaces ?? "").lowercased() }
    }

    /// Option tags or methods of every line of a header (Supported, Require, Allow, Unsupported), as written.
    public func tokens(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",").map { String($0.trimmingSpaces) }.filter { !$0.isEmpty } }
    }
}
