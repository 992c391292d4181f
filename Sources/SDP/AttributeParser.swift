/// Why a known attribute's value was refused (wrapped into ``SDPParseError/Reason/invalidAttribute``).
struct AttributeProblem: Error {
    let detail: String
    init(_ detail: String) { self.detail = detail }
}

/// The grammar of each attribute ``SDPAttribute`` types; any other name becomes ``SDPAttribute/other(name:value:)``.
enum AttributeParser {
    static func parse(name: Substring, value: Substring?) throws(AttributeProblem) -> SDPAttribute {
        switch name {
        case "sendrecv", "sendonly", "recvonly", "inactive":
            try noValue(value)
            return .direction(MediaDirection(rawValue: String(name))!)
        case "ice-lite":
            try noValue(value)
            return .iceLite
        case "rtcp-mux":
            try noValue(value)
            return .rtcpMux
        case "rtcp-rsize":
            try noValue(value)
            return .rtcpReducedSize
        case "end-of-candidates":
            try noValue(value)
            return .endOfCandidates
        case "rtpmap": return .rtpmap(try rtpmap(required(value)))
        case "fmtp": return .fmtp(try fmtp(required(value)))
        case "rtcp-fb": return .rtcpFeedback(try rtcpFeedback(required(value)))
        case "extmap": return .extmap(try extmap(required(value)))
        case "ssrc": return .ssrc(try ssrc(required(value)))
        case "ssrc-group": return .ssrcGroup(try ssrcGroup(required(value)))
        case "msid": return .msid(try msid(required(value)))
        case "mid": return .mid(String(try token(required(value), what: "a mid")))
        case "group": return .group(try group(required(value)))
        case "ice-ufrag": return .iceUfrag(try iceString(required(value), length: 4...256))
        case "ice-pwd": return .icePwd(try iceString(required(value), length: 22...256))
        case "ice-options":
            let options = try required(value).split(separator: " ")
            guard !options.isEmpty, options.allSatisfy({ $0.utf8.allSatisfy(SDPSyntax.isTokenByte) }) else {
                throw AttributeProblem("expected one or more option tokens")
            }
            return .iceOptions(options.map(String.init))
        case "fingerprint": return .fingerprint(try fingerprint(required(value)))
        case "setup":
            guard let role = SetupRole(rawValue: try required(value).lowercased()) else {
                throw AttributeProblem("expected active, passive, actpass or holdconn")
            }
            return .setup(role)
        case "candidate":
            let candidate = try required(value)
            guard !candidate.trimmingSpaces.isEmpty else { throw AttributeProblem("empty candidate") }
            return .candidate(String(candidate))
        default:
            return .other(name: String(name), value: value.map(String.init))
        }
    }

    private static func noValue(_ value: Substring?) throws(AttributeProblem) {
        if value != nil { throw AttributeProblem("takes no value") }
    }

    private static func required(_ value: Substring?) throws(AttributeProblem) -> Substring {
        guard let value, !value.isEmpty else { throw AttributeProblem("a value is required") }
        return value
    }

    private static func token(_ text: Substring, what: String) throws(AttributeProblem) -> Substring {
        guard !text.isEmpty, text.utf8.allSatisfy(SDPSyntax.isTokenByte) else {
            throw AttributeProblem("\(what) is a token, got '\(SDPSyntax.clip(text))'")
        }
        return text
    }

    private static func payloadType(_ text: Substring) throws(AttributeProblem) -> UInt8 {
        guard let number = SDPSyntax.decimal(text, max: 127) else {
            throw AttributeProblem("payload type '\(SDPSyntax.clip(text))' is not 0-127")
        }
        return UInt8(number)
    }

    private static func ssrcNumber(_ text: Substring) throws(AttributeProblem) -> UInt32 {
        guard let number = SDPSyntax.decimal(text, max: UInt64(UInt32.max)) else {
            throw AttributeProblem("SSRC '\(SDPSyntax.clip(text))' is not 0-4294967295")
        }
        return UInt32(number)
    }

    /// The text before the first space and the rest after it (nil when there is no space).
    private static func splitFirst(_ text: Substring) -> (Substring, Substring?) {
        guard let space = text.firstIndex(of: " ") else { return (text, nil) }
        return (text[..<space], text[text.index(after: space)...])
    }

    static func rtpmap(_ value: Substring) throws(AttributeProblem) -> RTPMap {
        let (ptText, rest) = splitFirst(value)
        guard let rest else { throw AttributeProblem("expected <payload type> <encoding>/<clock rate>[/<parameters>]") }
        let pt = try payloadType(ptText)
        let parts = rest.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else {
            throw AttributeProblem("expected <encoding>/<clock rate>[/<parameters>]")
        }
        let name = try token(parts[0], what: "the encoding name")
        guard let clock = SDPSyntax.decimal(parts[1], max: UInt64(UInt32.max)), clock > 0 else {
            throw AttributeProblem("clock rate '\(SDPSyntax.clip(parts[1]))' is not a positive number")
        }
        var parameters: String?
        if parts.count == 3 {
            parameters = String(try token(parts[2], what: "the encoding parameter"))
        }
        return RTPMap(payloadType: pt, encodingName: String(name), clockRate: UInt32(clock),
                      encodingParameters: parameters)
    }

    static func fmtp(_ value: Substring) throws(AttributeProblem) -> FormatParameters {
        let (format, rest) = splitFirst(value)
        guard let rest, !rest.trimmingSpaces.isEmpty else { throw AttributeProblem("expected <format> <parameters>") }
        _ = try token(format, what: "the format")
        return FormatParameters(format: String(format), parameters: String(rest.trimmingSpaces))
    }

    static func rtcpFeedback(_ value: Substring) throws(AttributeProblem) -> RTCPFeedback {
        let fields = value.split(separator: " ")
        guard fields.count >= 2 else { throw AttributeProblem("expected <payload type|*> <type> [<parameter>]") }
        let pt: UInt8? = fields[0] == "*" ? nil : try payloadType(fields[0])
        let type = try token(fields[1], what: "the feedback type")
        let parameter = fields.count > 2 ? fields[2...].joined(separator: " ") : nil
        return RTCPFeedback(payloadType: pt, type: String(type), parameter: parameter)
    }

    static func extmap(_ value: Substring) throws(AttributeProblem) -> ExtensionMap {
        let fields = value.split(separator: " ")
        guard fields.count >= 2 else { throw AttributeProblem("expected <id>[/<direction>] <uri> [<attributes>]") }
        var idText = fields[0]
        var direction: MediaDirection?
        if let slash = idText.firstIndex(of: "/") {
            guard let parsed = MediaDirection(rawValue: String(idText[idText.index(after: slash)...])) else {
                throw AttributeProblem("direction after '/' must be sendrecv, sendonly, recvonly or inactive")
            }
            direction = parsed
            idText = idText[..<slash]
        }
        guard let id = SDPSyntax.decimal(idText, max: 4351), (1...255).contains(id) || id >= 4096 else {
            throw AttributeProblem("extension id '\(SDPSyntax.clip(idText))' is not 1-255 (or 4096-4351)")
        }
        let uri = fields[1]
        guard uri.utf8.allSatisfy(SDPSyntax.isVisibleByte) else {
            throw AttributeProblem("the extension URI has a character that is not visible ASCII")
        }
        let attributes = fields.count > 2 ? fields[2...].joined(separator: " ") : nil
        return ExtensionMap(id: UInt16(id), direction: direction, uri: String(uri), attributes: attributes)
    }

    static func ssrc(_ value: Substring) throws(AttributeProblem) -> SSRCAttribute {
        let (ssrcText, rest) = splitFirst(value)
        guard let rest, !rest.isEmpty else { throw AttributeProblem("expected <ssrc> <attribute>[:<value>]") }
        let ssrc = try ssrcNumber(ssrcText)
        let name: Substring
        var attributeValue: String?
        if let colon = rest.firstIndex(of: ":") {
            name = rest[..<colon]
            attributeValue = String(rest[rest.index(after: colon)...])
        } else {
            name = rest
        }
        _ = try token(name, what: "the source attribute name")
        return SSRCAttribute(ssrc: ssrc, attribute: String(name), value: attributeValue)
    }

    static func ssrcGroup(_ value: Substring) throws(AttributeProblem) -> SSRCGroup {
        let fields = value.split(separator: " ")
        guard fields.count >= 2 else { throw AttributeProblem("expected <semantics> <ssrc> ...") }
        let semantics = try token(fields[0], what: "the semantics")
        var ssrcs: [UInt32] = []
        for field in fields.dropFirst() { ssrcs.append(try ssrcNumber(field)) }
        return SSRCGroup(semantics: String(semantics), ssrcs: ssrcs)
    }

    static func msid(_ value: Substring) throws(AttributeProblem) -> MediaStreamID {
        let fields = value.split(separator: " ")
        guard fields.count == 1 || fields.count == 2 else {
            throw AttributeProblem("expected <stream id> [<track id>]")
        }
        let stream = try token(fields[0], what: "the stream id")
        let appData = fields.count == 2 ? String(try token(fields[1], what: "the track id")) : nil
        return MediaStreamID(streamID: String(stream), appData: appData)
    }

    static func group(_ value: Substring) throws(AttributeProblem) -> MediaGroup {
        let fields = value.split(separator: " ")
        guard let first = fields.first else { throw AttributeProblem("expected <semantics> <mid> ...") }
        let semantics = try token(first, what: "the semantics")
        var mids: [String] = []
        for field in fields.dropFirst() { mids.append(String(try token(field, what: "a mid"))) }
        return MediaGroup(semantics: String(semantics), mids: mids)
    }

    static func iceString(_ value: Substring, length: ClosedRange<Int>) throws(AttributeProblem) -> String {
        guard value.utf8.allSatisfy(SDPSyntax.isICEByte) else {
            throw AttributeProblem("only letters, digits, '+' and '/' are allowed")
        }
        guard length.contains(value.utf8.count) else {
            throw AttributeProblem("\(value.utf8.count) characters, \(length.lowerBound)-\(length.upperBound) required")
        }
        return String(value)
    }

    static func fingerprint(_ value: Substring) throws(AttributeProblem) -> Fingerprint {
        let fields = value.split(separator: " ")
        guard fields.count == 2 else { throw AttributeProblem("expected <hash function> <XX:XX:...>") }
        let hash = String(try token(fields[0], what: "the hash function")).lowercased()
        let pairs = fields[1].split(separator: ":", omittingEmptySubsequences: false)
        guard pairs.count <= 64 else { throw AttributeProblem("more than 64 bytes") }
        var bytes: [UInt8] = []
        for pair in pairs {
            guard pair.utf8.count == 2, pair.utf8.allSatisfy(SDPSyntax.isHexByte),
                  let byte = UInt8(pair, radix: 16) else {
                throw AttributeProblem("'\(SDPSyntax.clip(pair))' is not a pair of hexadecimal digits")
            }
            bytes.append(byte)
        }
        if let expected = Fingerprint.digestLength(of: hash), expected != bytes.count {
            throw AttributeProblem("\(hash) has \(expected) bytes, got \(bytes.count)")
        }
        return Fingerprint(hashFunction: hash, bytes: bytes)
    }
}
