/// A From, To or Contact value (RFC 3261 §20.10, §25.1): `"Name" <sip:...>;tag=..` (name-addr) or `sip:...;tag=..`
/// (addr-spec, whose `;` parameters belong to the header, not the URI).
public struct SIPAddress: Sendable, Hashable, CustomStringConvertible {
    public var displayName: String?
    public var uri: SIPURI
    public var parameters: [SIPParameter]

    public init(displayName: String? = nil, uri: SIPURI, parameters: [SIPParameter] = []) {
        self.displayName = displayName
        self.uri = uri
        self.parameters = parameters
    }

    /// The `tag` parameter (From and To).
    public var tag: String? {
        get { parameters.parameter("tag") ?? nil }
        set {
            parameters.removeAll { $0.name.caseInsensitiveEquals("tag") }
            if let newValue { parameters.append(SIPParameter("tag", newValue)) }
        }
    }

    /// - Throws: ``SIPParseError`` (`badHeaderValue` naming `header`, or the URI's error).
    public init(parsing text: some StringProtocol, header: String = "address") throws(SIPParseError) {
        let string = String(text)
        func bad() -> SIPParseError { SIPParseError(.badHeaderValue, header: header, value: string) }
        let trimmed = string.trimmingSpaces
        var rest: Substring
        if let open = Self.angleOpen(in: trimmed) {
            let name = trimmed[..<open].trimmingSpaces
            if name.isEmpty {
                displayName = nil
            } else if name.first == "\"" {
                guard name.count >= 2, name.last == "\"" else { throw bad() }
                displayName = unquoted(name)
            } else {
                guard name.allSatisfy({ $0 == " " || $0 == "\t" || ($0.isASCII && isTokenByte($0.asciiValue!)) }) else {
                    throw bad()
                }
                displayName = String(name)
            }
            let afterOpen = trimmed[trimmed.index(after: open)...]
            guard let close = afterOpen.firstIndex(of: ">") else { throw bad() }
            uri = try SIPURI(parsing: afterOpen[..<close])
            rest = afterOpen[afterOpen.index(after: close)...].trimmingSpaces
            if !rest.isEmpty {
                guard rest.first == ";" else { throw bad() }
                rest = rest.dropFirst()
            }
        } else {
            displayName = nil
            let parts = trimmed.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)
            uri = try SIPURI(parsing: parts[0].trimmingSpaces)
            rest = parts.count == 2 ? parts[1] : ""
        }
        parameters = try [SIPParameter].parse(rest, header: header)
    }

    /// The `<` that opens the URI, outside a quoted display name.
    static func angleOpen(in text: Substring) -> Substring.Index? {
        var inQuotes = false, escaped = false
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            if escaped { escaped = false } else if character == "\\" && inQuotes { escaped = true } else if character == "\"" {
                inQuotes.toggle()
            } else if character == "<" && !inQuotes { return index }
            index = text.index(after: index)
        }
        return nil
    }

    public var description: String {
        var text = ""
        if let displayName { text += quoted(displayName) + " " }
        text += "<\(uri)>" + parameters.serialized
        return text
    }
}
