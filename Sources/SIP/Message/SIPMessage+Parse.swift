extension SIPMessage {
    /// Parses one UDP datagram (RFC 3261 §18.3): without Content-Length the body is the rest of the datagram;
    /// bytes beyond Content-Length are discarded; a Content-Length beyond the datagram is an error (drop it).
    /// - Throws: ``SIPParseError`` naming the line and what was wrong.
    public static func parse(datagram: [UInt8], limits: SIPLimits = .datagram) throws(SIPParseError) -> SIPMessage {
        try parse(datagram[...], limits: limits, stream: false)
    }

    /// Parses one message framed from a stream (``SIPStreamFramer``): Content-Length is required and must match.
    public static func parse(framed: [UInt8], limits: SIPLimits = .stream) throws(SIPParseError) -> SIPMessage {
        try parse(framed[...], limits: limits, stream: true)
    }

    static func parse(_ bytes: ArraySlice<UInt8>, limits: SIPLimits, stream: Bool) throws(SIPParseError) -> SIPMessage {
        var (message, bodyStart) = try parseHead(bytes, limits: limits)
        let available = bytes.endIndex - bodyStart
        let lengths = message.values("Content-Length")
        guard let lengthText = lengths.first else {
            if stream { throw SIPParseError(.missingContentLength, headersOnly: message) }
            message.body = Array(bytes[bodyStart...])
            return message
        }
        guard lengths.allSatisfy({ $0 == lengthText }), let length = parseDecimal(lengthText, max: Int(UInt32.max)) else {
            throw SIPParseError(.badContentLength, excerpt: Array(lengthText.utf8), header: "Content-Length",
                                headersOnly: message)
        }
        guard length <= limits.maxMessageBytes else {
            throw SIPParseError(.bodyTooLarge, excerpt: Array("Content-Length: \(length)".utf8), header: "Content-Length",
                                headersOnly: message)
        }
        guard length <= available else {
            throw SIPParseError(.bodyTooShort, excerpt: Array("Content-Length: \(length), \(available) bytes".utf8),
                                header: "Content-Length", headersOnly: message)
        }
        if stream, length != available {
            throw SIPParseError(.badContentLength, excerpt: Array("Content-Length: \(length), \(available) bytes".utf8),
                                header: "Content-Length", headersOnly: message)
        }
        message.body = Array(bytes[bodyStart..<(bodyStart + length)])
        return message
    }

    /// The start line and headers, and where the body starts.
    static func parseHead(_ bytes: ArraySlice<UInt8>, limits: SIPLimits) throws(SIPParseError) -> (SIPMessage, Int) {
        guard bytes.count <= limits.maxMessageBytes else {
            throw SIPParseError(.messageTooLarge, excerpt: bytes.prefix(60))
        }
        var start = bytes.startIndex
        // RFC 3261 §7.5: CRLFs before the start line are ignored.
        while start < bytes.endIndex, bytes[start] == 0x0D || bytes[start] == 0x0A { start += 1 }
        guard start < bytes.endIndex else { throw SIPParseError(.empty) }
        guard let (headerEnd, bodyStart) = findHeaderEnd(bytes, from: start) else {
            throw SIPParseError(.noHeaderEnd, excerpt: bytes[start...].prefix(60))
        }
        let lines = try splitLines(bytes[start..<headerEnd], limits: limits)
        guard let first = lines.first else { throw SIPParseError(.empty) }
        let startLine = try parseStartLine(first.text, line: first.number)
        var headers: [SIPHeader] = []
        for line in lines.dropFirst() {
            guard let colon = line.text.firstIndex(of: ":") else {
                throw SIPParseError(.badHeaderLine, line: line.number, excerpt: Array(line.text.utf8))
            }
            let rawName = line.text[..<colon].trimmingSpaces
            guard !rawName.isEmpty, rawName.utf8.allSatisfy(isTokenByte) else {
                throw SIPParseError(.badHeaderLine, line: line.number, excerpt: Array(line.text.utf8))
            }
            let name = SIPHeaderName.canonical(String(rawName))
            let value = String(line.text[line.text.index(after: colon)...].trimmingSpaces)
            let values = SIPHeaderName.commaSeparated.contains(name) ? splitCommas(value) : [value]
            for item in values where !(item.isEmpty && values.count > 1) {
                headers.append(SIPHeader(name, item))
                guard headers.count <= limits.maxHeaders else {
                    throw SIPParseError(.tooManyHeaders, line: line.number, excerpt: Array(line.text.utf8))
                }
            }
        }
        return (SIPMessage(startLine: startLine, headers: headers), bodyStart)
    }

    /// The end of the header section (index of the empty line's start) and where the body starts. CRLF or bare LF.
    static func findHeaderEnd(_ bytes: ArraySlice<UInt8>, from start: Int) -> (Int, Int)? {
        var index = start
        while index < bytes.endIndex {
            if bytes[index] == 0x0A {
                var next = index + 1
                if next < bytes.endIndex, bytes[next] == 0x0D { next += 1 }
                if next < bytes.endIndex, bytes[next] == 0x0A { return (index + 1, next + 1) }
            }
            index += 1
        }
        return nil
    }

    struct Line { var text: String; var number: Int }

    /// Header-section lines with folded continuations joined (RFC 3261 §7.3.1), each checked to be text.
    static func splitLines(_ section: ArraySlice<UInt8>, limits: SIPLimits) throws(SIPParseError) -> [Line] {
        var lines: [Line] = []
        var number = 0
        var index = section.startIndex
        while index < section.endIndex {
            number += 1
            var end = index
            while end < section.endIndex, section[end] != 0x0A { end += 1 }
            var contentEnd = end
            if contentEnd > index, section[contentEnd - 1] == 0x0D { contentEnd -= 1 }
            let raw = section[index..<contentEnd]
            guard raw.count <= limits.maxHeaderLineBytes else {
                throw SIPParseError(.headerLineTooLong, line: number, excerpt: raw.prefix(60))
            }
            guard raw.allSatisfy({ $0 >= 0x20 && $0 != 0x7F || $0 == 0x09 }),
                  let text = String(validating: raw, as: UTF8.self)
            else { throw SIPParseError(.notText, line: number, excerpt: raw.prefix(60)) }
            if let first = raw.first, first == 0x20 || first == 0x09 {
                guard lines.count >= 2 else {
                    throw SIPParseError(.badHeaderLine, line: number, excerpt: raw.prefix(60))
                }
                lines[lines.count - 1].text += " " + text.trimmingSpaces
                guard lines[lines.count - 1].text.utf8.count <= limits.maxHeaderLineBytes else {
                    throw SIPParseError(.headerLineTooLong, line: number, excerpt: raw.prefix(60))
                }
            } else if !raw.isEmpty {
                lines.append(Line(text: text, number: number))
            }
            index = end + 1
        }
        return lines
    }

    static func parseStartLine(_ text: String, line: Int) throws(SIPParseError) -> StartLine {
        let parts = text.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        let excerpt = Array(text.utf8)
        guard parts.count == 3 else { throw SIPParseError(.badStartLine, line: line, excerpt: excerpt) }
        if parts[0].hasPrefix("SIP/") {
            guard parts[0] == "SIP/2.0" else { throw SIPParseError(.badVersion, line: line, excerpt: excerpt) }
            guard parts[1].utf8.count == 3, let status = Int(parts[1]), (100...699).contains(status) else {
                throw SIPParseError(.badStartLine, line: line, excerpt: excerpt)
            }
            return .response(status: status, reason: String(parts[2]))
        }
        guard !parts[0].isEmpty, parts[0].utf8.allSatisfy(isTokenByte), !parts[1].isEmpty,
              !parts[1].contains(where: { $0 == " " || $0 == "\t" })
        else { throw SIPParseError(.badStartLine, line: line, excerpt: excerpt) }
        guard parts[2] == "SIP/2.0" else { throw SIPParseError(.badVersion, line: line, excerpt: excerpt) }
        return .request(method: String(parts[0]), uri: String(parts[1]))
    }
}

/// RFC 3261 §25.1 token characters.
func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "%"), UInt8(ascii: "*"),
         UInt8(ascii: "_"), UInt8(ascii: "+"), UInt8(ascii: "`"), UInt8(ascii: "'"), UInt8(ascii: "~"): true
    default: false
    }
}

/// A non-negative decimal of at most 10 digits not above `max`, or nil.
func parseDecimal(_ text: some StringProtocol, max: Int) -> Int? {
    guard !text.isEmpty, text.utf8.count <= 10, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
          let value = Int(text), value <= max
    else { return nil }
    return value
}

/// Splits at commas outside quoted strings and angle brackets.
func splitCommas(_ value: String) -> [String] {
    var parts: [String] = []
    var current = ""
    var inQuotes = false, inAngle = false, escaped = false
    for character in value {
        if escaped { current.append(character); escaped = false; continue }
        switch character {
        case "\\" where inQuotes: escaped = true
        case "\"": inQuotes.toggle()
        case "<" where !inQuotes: inAngle = true
        case ">" where !inQuotes: inAngle = false
        case "," where !inQuotes && !inAngle:
            parts.append(String(current.trimmingSpaces))
            current = ""
            continue
        default: break
        }
        current.append(character)
    }
    parts.append(String(current.trimmingSpaces))
    return parts
}

extension StringProtocol {
    var trimmingSpaces: SubSequence {
        var start = startIndex, end = endIndex
        while start < end, self[start] == " " || self[start] == "\t" { start = index(after: start) }
        while end > start, self[index(before: end)] == " " || self[index(before: end)] == "\t" { end = index(before: end) }
        return self[start..<end]
    }
}
