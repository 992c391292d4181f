extension SessionDescription {
    /// Parses a session description from outside text.
    ///
    /// Lines may end with CRLF or LF (the last may have none); trailing empty lines are ignored. Known attributes
    /// are checked against their grammar; unknown ones are kept as written.
    /// - Throws: ``SDPParseError`` naming the line and what was wrong; the parser never traps and its work is
    ///   bounded by `limits`.
    public init(parsing text: String, limits: SDPLimits = .default) throws(SDPParseError) {
        guard text.utf8.count <= limits.maxBytes else {
            throw SDPParseError(.tooLarge, line: 0, excerpt: "",
                                detail: "\(text.utf8.count) bytes, at most \(limits.maxBytes) accepted")
        }
        try self.init(parsing: Array(text.utf8), limits: limits)
    }

    /// Parses a session description from outside bytes (UTF-8); see ``init(parsing:limits:)-(String,_)``.
    public init(parsing bytes: [UInt8], limits: SDPLimits = .default) throws(SDPParseError) {
        var parser = SDPParser(bytes: bytes, limits: limits)
        self = try parser.parse()
    }
}

/// The line-by-line state machine behind ``SessionDescription/init(parsing:limits:)-(String,_)``.
struct SDPParser {
    private let bytes: [UInt8]
    private let limits: SDPLimits

    private var lineNumber = 0
    private var contentLines = 0
    private var pendingEmptyLine = 0
    private var origin: Origin?
    private var sessionName: String?
    private var information: String?
    private var connection: ConnectionData?
    private var bandwidths: [Bandwidth] = []
    private var timings: [Timing] = []
    private var otherFields: [SDPField] = []
    private var attributes: [SDPAttribute] = []
    private var media: [MediaDescription] = []
    private var sectionState = SectionState()
    private var mids: Set<String> = []

    /// What must not repeat within one section (the session part or one media section).
    private struct SectionState {
        var attributeCount = 0
        var seen: Set<String> = []
        var payloadTypes: Set<UInt8> = []
        var fmtpFormats: Set<String> = []
        var extensionIDs: Set<UInt16> = []
    }

    init(bytes: [UInt8], limits: SDPLimits) {
        self.bytes = bytes
        self.limits = limits
    }

    mutating func parse() throws(SDPParseError) -> SessionDescription {
        guard bytes.count <= limits.maxBytes else {
            throw SDPParseError(.tooLarge, line: 0, excerpt: "",
                                detail: "\(bytes.count) bytes, at most \(limits.maxBytes) accepted")
        }
        var start = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                var end = index
                if end > start && bytes[end - 1] == 0x0D { end -= 1 }
                try line(start..<end)
                start = index + 1
            }
            index += 1
        }
        if start < bytes.count { try line(start..<bytes.count) }
        return try finish()
    }

    // MARK: Lines

    private mutating func line(_ range: Range<Int>) throws(SDPParseError) {
        lineNumber += 1
        let slice = bytes[range]
        guard lineNumber <= limits.maxLines else {
            throw SDPParseError(.tooManyLines, line: lineNumber, bytes: slice,
                                detail: "at most \(limits.maxLines) lines accepted")
        }
        guard slice.count <= limits.maxLineLength else {
            throw SDPParseError(.lineTooLong, line: lineNumber, bytes: slice,
                                detail: "\(slice.count) bytes, at most \(limits.maxLineLength) accepted")
        }
        if slice.isEmpty {
            if pendingEmptyLine == 0 { pendingEmptyLine = lineNumber }
            return
        }
        if pendingEmptyLine != 0 {
            throw SDPParseError(.emptyLine, line: pendingEmptyLine, excerpt: "",
                                detail: "empty line before line \(lineNumber)")
        }
        var nonASCII = false
        for byte in slice {
            if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                throw SDPParseError(.invalidCharacter, line: lineNumber, bytes: slice,
                                    detail: byte == 0x0D ? "carriage return not followed by line feed"
                                        : "control character 0x\(String(byte, radix: 16))")
            }
            if byte >= 0x80 { nonASCII = true }
        }
        if nonASCII && String(validating: slice, as: UTF8.self) == nil {
            throw SDPParseError(.invalidEncoding, line: lineNumber, bytes: slice, detail: "invalid UTF-8 sequence")
        }
        guard slice.count >= 2, slice[slice.startIndex + 1] == UInt8(ascii: "="),
              case let type = slice[slice.startIndex], type >= UInt8(ascii: "a"), type <= UInt8(ascii: "z") else {
            throw SDPParseError(.malformedLine, line: lineNumber, bytes: slice,
                                detail: "expected <lower-case letter>=<value>")
        }
        contentLines += 1
        // Trailing spaces and tabs (which some SIP room systems leave) are not part of the value.
        var valueBytes = slice.dropFirst(2)
        while let last = valueBytes.last, last == 0x20 || last == 0x09 { valueBytes = valueBytes.dropLast() }
        let value = String(decoding: valueBytes, as: UTF8.self)[...]
        let letter = Character(Unicode.Scalar(type))
        if lineNumber == 1 && letter != "v" {
            throw fail(.missingLine, slice, "a description starts with v=0")
        }
        if media.isEmpty {
            try sessionLine(letter, value, slice)
        } else {
            try mediaLine(letter, value, slice)
        }
    }

    /// Runs one field's grammar, naming the line when it refuses.
    private func field<T>(_ reason: SDPParseError.Reason, _ slice: ArraySlice<UInt8>,
                          _ parse: (Substring) throws(AttributeProblem) -> T,
                          _ value: Substring) throws(SDPParseError) -> T {
        do { return try parse(value) } catch { throw fail(reason, slice, error.detail) }
    }

    private func fail(_ reason: SDPParseError.Reason, _ slice: ArraySlice<UInt8>, _ detail: String) -> SDPParseError {
        SDPParseError(reason, line: lineNumber, bytes: slice, detail: detail)
    }

    private mutating func sessionLine(_ letter: Character, _ value: Substring,
                                      _ slice: ArraySlice<UInt8>) throws(SDPParseError) {
        switch letter {
        case "v":
            guard lineNumber == 1 else { throw fail(.duplicateLine, slice, "v= only once, as the first line") }
            guard value == "0" else { throw fail(.invalidVersion, slice, "only version 0 exists") }
        case "o":
            guard origin == nil else { throw fail(.duplicateLine, slice, "one o= line per description") }
            origin = try field(.invalidOrigin, slice, Self.parseOrigin, value)
        case "s":
            guard sessionName == nil else { throw fail(.duplicateLine, slice, "one s= line per description") }
            sessionName = String(value)
        case "i":
            guard information == nil else { throw fail(.duplicateLine, slice, "one i= line per section") }
            information = String(value)
        case "u", "e", "p", "z", "k":
            otherFields.append(SDPField(type: letter, value: String(value)))
        case "c":
            guard connection == nil else { throw fail(.duplicateLine, slice, "one c= line per section") }
            connection = try field(.invalidConnection, slice, Self.parseConnection, value)
        case "b":
            bandwidths.append(try field(.invalidBandwidth, slice, Self.parseBandwidth, value))
        case "t":
            timings.append(try field(.invalidTiming, slice, Self.parseTiming, value))
        case "r":
            guard !timings.isEmpty else { throw fail(.misplacedLine, slice, "r= must follow a t= line") }
            timings[timings.count - 1].repeats.append(String(value))
        case "a":
            let attribute = try attribute(value, slice, sessionLevel: true)
            attributes.append(attribute)
        case "m":
            try startMedia(value, slice)
        default:
            throw fail(.unknownLineType, slice, "'\(letter)=' is not an SDP line type")
        }
    }

    private mutating func mediaLine(_ letter: Character, _ value: Substring,
                                    _ slice: ArraySlice<UInt8>) throws(SDPParseError) {
        let index = media.count - 1
        switch letter {
        case "m":
            try startMedia(value, slice)
        case "a":
            let attribute = try attribute(value, slice, sessionLevel: false)
            media[index].attributes.append(attribute)
        case "c":
            guard media[index].connection == nil else {
                throw fail(.duplicateLine, slice, "one c= line per media section")
            }
            media[index].connection = try field(.invalidConnection, slice, Self.parseConnection, value)
        case "b":
            media[index].bandwidths.append(try field(.invalidBandwidth, slice, Self.parseBandwidth, value))
        case "i":
            guard media[index].information == nil else { throw fail(.duplicateLine, slice, "one i= line per section") }
            media[index].information = String(value)
        case "k":
            media[index].otherFields.append(SDPField(type: letter, value: String(value)))
        case "v", "o", "s", "u", "e", "p", "t", "r", "z":
            throw fail(.misplacedLine, slice, "'\(letter)=' belongs to the session part, before the first m= line")
        default:
            throw fail(.unknownLineType, slice, "'\(letter)=' is not an SDP line type")
        }
    }

    private mutating func startMedia(_ value: Substring, _ slice: ArraySlice<UInt8>) throws(SDPParseError) {
        guard media.count < limits.maxMediaSections else {
            throw fail(.tooManyMediaSections, slice, "at most \(limits.maxMediaSections) m= lines accepted")
        }
        media.append(try field(.invalidMedia, slice, Self.parseMediaLine, value))
        sectionState = SectionState()
    }

    private func finish() throws(SDPParseError) -> SessionDescription {
        guard contentLines > 0 else {
            throw SDPParseError(.missingLine, line: 0, excerpt: "", detail: "the description is empty")
        }
        guard let origin else {
            throw SDPParseError(.missingLine, line: 0, excerpt: "", detail: "no o= line (origin)")
        }
        guard let sessionName else {
            throw SDPParseError(.missingLine, line: 0, excerpt: "", detail: "no s= line (session name)")
        }
        guard !timings.isEmpty else {
            throw SDPParseError(.missingLine, line: 0, excerpt: "", detail: "no t= line (timing)")
        }
        return SessionDescription(origin: origin, sessionName: sessionName, information: information,
                                  connection: connection, bandwidths: bandwidths, timings: timings,
                                  otherFields: otherFields, attributes: attributes, media: media)
    }

    // MARK: Attributes

    private mutating func attribute(_ text: Substring, _ slice: ArraySlice<UInt8>,
                                    sessionLevel: Bool) throws(SDPParseError) -> SDPAttribute {
        sectionState.attributeCount += 1
        guard sectionState.attributeCount <= limits.maxAttributesPerSection else {
            throw fail(.tooManyAttributes, slice, "at most \(limits.maxAttributesPerSection) a= lines per section")
        }
        let name: Substring
        let value: Substring?
        if let colon = text.firstIndex(of: ":") {
            name = text[..<colon]
            value = text[text.index(after: colon)...]
        } else {
            name = text
            value = nil
        }
        guard !name.isEmpty, name.utf8.allSatisfy(SDPSyntax.isTokenByte) else {
            throw fail(.invalidAttribute, slice, "an attribute name is a token (letters, digits, '-', ...)")
        }
        let attribute: SDPAttribute
        do {
            attribute = try AttributeParser.parse(name: name, value: value)
        } catch {
            throw fail(.invalidAttribute, slice, "\(name): \(error.detail)")
        }
        try checkPlacement(attribute, slice, sessionLevel: sessionLevel)
        return attribute
    }

    private mutating func checkPlacement(_ attribute: SDPAttribute, _ slice: ArraySlice<UInt8>,
                                         sessionLevel: Bool) throws(SDPParseError) {
        switch attribute {
        case .rtpmap, .fmtp, .rtcpFeedback, .ssrc, .ssrcGroup, .msid, .mid, .rtcpMux, .rtcpReducedSize, .candidate:
            if sessionLevel {
                throw fail(.misplacedAttribute, slice, "a=\(attribute.name) belongs in a media section")
            }
        case .group, .iceLite:
            if !sessionLevel {
                throw fail(.misplacedAttribute, slice, "a=\(attribute.name) belongs to the session part")
            }
        default:
            break
        }
        let once: String?
        switch attribute {
        case .mid: once = "mid"
        case .direction: once = "direction"
        case .iceUfrag: once = "ice-ufrag"
        case .icePwd: once = "ice-pwd"
        case .setup: once = "setup"
        default: once = nil
        }
        if let once {
            guard sectionState.seen.insert(once).inserted else {
                let what = once == "direction" ? "direction attribute" : "a=" + once
                throw fail(.duplicateAttribute, slice, "one \(what) per section")
            }
        }
        switch attribute {
        case .mid(let mid):
            guard mids.insert(mid).inserted else {
                throw fail(.duplicateAttribute, slice, "mid '\(mid)' is already used by another media section")
            }
        case .rtpmap(let map):
            guard sectionState.payloadTypes.insert(map.payloadType).inserted else {
                throw fail(.duplicateAttribute, slice, "a second rtpmap for payload type \(map.payloadType)")
            }
        case .fmtp(let fmtp):
            guard sectionState.fmtpFormats.insert(fmtp.format).inserted else {
                throw fail(.duplicateAttribute, slice, "a second fmtp for format \(fmtp.format)")
            }
        case .extmap(let ext):
            guard sectionState.extensionIDs.insert(ext.id).inserted else {
                throw fail(.duplicateAttribute, slice, "extension id \(ext.id) is mapped twice")
            }
        default:
            break
        }
    }

    // MARK: Fields

    private static func parseOrigin(_ value: Substring) throws(AttributeProblem) -> Origin {
        let fields = value.split(separator: " ")
        guard fields.count == 6 else {
            throw AttributeProblem("expected <username> <sess-id> <sess-version> <nettype> <addrtype> <address>")
        }
        guard SDPSyntax.isDigits(fields[1]), SDPSyntax.isDigits(fields[2]) else {
            throw AttributeProblem("session id and version are decimal numbers")
        }
        return (Origin(username: String(fields[0]), sessionID: String(fields[1]),
                               sessionVersion: String(fields[2]), networkType: String(fields[3]),
                               addressType: String(fields[4]), address: String(fields[5])))
    }

    private static func parseConnection(_ value: Substring) throws(AttributeProblem) -> ConnectionData {
        let fields = value.split(separator: " ")
        guard fields.count == 3 else { throw AttributeProblem("expected <nettype> <addrtype> <address>") }
        return (ConnectionData(networkType: String(fields[0]), addressType: String(fields[1]),
                                       address: String(fields[2])))
    }

    private static func parseBandwidth(_ value: Substring) throws(AttributeProblem) -> Bandwidth {
        guard let colon = value.firstIndex(of: ":"), colon != value.startIndex,
              value[..<colon].utf8.allSatisfy(SDPSyntax.isTokenByte),
              let number = SDPSyntax.decimal(value[value.index(after: colon)...], max: UInt64.max) else {
            throw AttributeProblem("expected <type>:<decimal bandwidth>")
        }
        return (Bandwidth(type: String(value[..<colon]), value: number))
    }

    private static func parseTiming(_ value: Substring) throws(AttributeProblem) -> Timing {
        let fields = value.split(separator: " ")
        guard fields.count == 2, let start = SDPSyntax.decimal(fields[0], max: UInt64.max),
              let stop = SDPSyntax.decimal(fields[1], max: UInt64.max) else {
            throw AttributeProblem("expected <start> <stop> as decimal NTP seconds")
        }
        return (Timing(start: start, stop: stop))
    }

    private static func parseMediaLine(_ value: Substring) throws(AttributeProblem) -> MediaDescription {
        let fields = value.split(separator: " ")
        guard fields.count >= 4 else { throw AttributeProblem("expected <media> <port> <proto> <format> ...") }
        guard fields[0].utf8.allSatisfy(SDPSyntax.isTokenByte) else { throw AttributeProblem("media is a token") }
        let portField = fields[1]
        var portText = portField
        var portCount: Int?
        if let slash = portField.firstIndex(of: "/") {
            portText = portField[..<slash]
            guard let count = SDPSyntax.decimal(portField[portField.index(after: slash)...], max: 65_535),
                  count >= 1 else {
                throw AttributeProblem("the number of ports after '/' is 1-65535")
            }
            portCount = Int(count)
        }
        guard let port = SDPSyntax.decimal(portText, max: 65_535) else { throw AttributeProblem("the port is 0-65535") }
        let proto = fields[2]
        guard proto.split(separator: "/", omittingEmptySubsequences: false).allSatisfy({ part in
            !part.isEmpty && part.utf8.allSatisfy(SDPSyntax.isTokenByte)
        }) else {
            throw AttributeProblem("proto is tokens joined by '/'")
        }
        let formats = fields[3...]
        if proto.uppercased().contains("RTP/") {
            for format in formats where SDPSyntax.decimal(format, max: 127) == nil {
                throw AttributeProblem("payload type '\(SDPSyntax.clip(format))' is not 0-127")
            }
        } else {
            for format in formats where !format.utf8.allSatisfy(SDPSyntax.isTokenByte) {
                throw AttributeProblem("format '\(SDPSyntax.clip(format))' is not a token")
            }
        }
        return (MediaDescription(kind: String(fields[0]), port: UInt16(port), portCount: portCount,
                                         proto: String(proto), formats: formats.map(String.init)))
    }
}

/// Character classes and numbers of RFC 8866's grammar.
enum SDPSyntax {
    /// token-char: %x21 / %x23-27 / %x2A-2B / %x2D-2E / %x30-39 / %x41-5A / %x5E-7E.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x21, 0x23...0x27, 0x2A...0x2B, 0x2D...0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7E: true
        default: false
        }
    }

    /// VCHAR: visible ASCII.
    static func isVisibleByte(_ byte: UInt8) -> Bool { byte >= 0x21 && byte <= 0x7E }

    /// ice-char: ALPHA / DIGIT / "+" / "/" (RFC 8839 §5.4).
    static func isICEByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, UInt8(ascii: "+"), UInt8(ascii: "/"): true
        default: false
        }
    }

    static func isHexByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x46, 0x61...0x66: true
        default: false
        }
    }

    static func isDigits(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// A decimal number of 1-20 digits no larger than `max`; nil otherwise (no sign, no spaces).
    static func decimal(_ text: Substring, max: UInt64) -> UInt64? {
        guard text.utf8.count <= 20, isDigits(text), let number = UInt64(text), number <= max else { return nil }
        return number
    }

    /// At most 40 characters of `text` for an error detail.
    static func clip(_ text: Substring) -> String {
        text.count > 40 ? String(text.prefix(40)) + "…" : String(text)
    }
}
