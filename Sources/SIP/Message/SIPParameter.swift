/// A `;name=value` or `;name` parameter (URI, Via, name-addr, Session-Expires, ...).
public struct SIPParameter: Sendable, Hashable {
    public var name: String
    public var value: String?
    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }
}

extension [SIPParameter] {
    /// The parameter's value: nil if absent, `.some(nil)` if present without a value (case-insensitive name).
    public func parameter(_ name: String) -> String?? {
        guard let found = first(where: { $0.name.caseInsensitiveEquals(name) }) else { return nil }
        return .some(found.value)
    }

    /// Sets (or adds) a parameter.
    public mutating func set(_ name: String, _ value: String?) {
        if let index = firstIndex(where: { $0.name.caseInsensitiveEquals(name) }) {
            self[index].value = value
        } else {
            append(SIPParameter(name, value))
        }
    }

    var serialized: String { map { ";" + $0.name + ($0.value.map { "=" + $0 } ?? "") }.joined() }

    /// Parses `;a=b;c` (the text after the first `;`, split already); quoted values kept with their quotes.
    static func parse(_ text: Substring, header: String) throws(SIPParseError) -> [SIPParameter] {
        var out: [SIPParameter] = []
        for item in splitOutsideQuotes(text, separator: ";") {
            let trimmed = item.trimmingSpaces
            guard !trimmed.isEmpty else { continue }
            let parts = trimmed.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = parts[0].trimmingSpaces
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
                throw SIPParseError(.badHeaderValue, header: header, value: String(text))
            }
            var value: String?
            if parts.count == 2 {
                let raw = parts[1].trimmingSpaces
                guard !raw.isEmpty else { throw SIPParseError(.badHeaderValue, header: header, value: String(text)) }
                value = String(raw)
            }
            out.append(SIPParameter(String(name), value))
            guard out.count <= 64 else { throw SIPParseError(.badHeaderValue, header: header, value: String(text)) }
        }
        return out
    }
}

/// Splits at a separator outside double quotes.
func splitOutsideQuotes(_ text: Substring, separator: Character) -> [Substring] {
    var parts: [Substring] = []
    var start = text.startIndex
    var inQuotes = false, escaped = false
    var index = text.startIndex
    while index < text.endIndex {
        let character = text[index]
        if escaped { escaped = false } else if character == "\\" && inQuotes { escaped = true } else if character == "\"" {
            inQuotes.toggle()
        } else if character == separator && !inQuotes {
            parts.append(text[start..<index])
            start = text.index(after: index)
        }
        index = text.index(after: index)
    }
    parts.append(text[start..<text.endIndex])
    return parts
}

/// The text of a quoted string without its quotes and escapes, or the text itself.
func unquoted(_ text: some StringProtocol) -> String {
    guard text.count >= 2, text.first == "\"", text.last == "\"" else { return String(text) }
    var out = ""
    var escaped = false
    for character in text.dropFirst().dropLast() {
        if escaped { out.append(character); escaped = false } else if character == "\\" { escaped = true } else {
            out.append(character)
        }
    }
    return out
}

/// A quoted string for a header value.
func quoted(_ text: String) -> String {
    "\"" + text.replacingBackslashQuotes() + "\""
}

extension String {
    func replacingBackslashQuotes() -> String {
        var out = ""
        for character in self {
            if character == "\"" || character == "\\" { out.append("\\") }
            out.append(character)
        }
        return out
    }
}
