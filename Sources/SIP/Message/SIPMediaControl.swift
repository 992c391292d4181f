/// An `application/media_control+xml` body (RFC 5168): a room system's request for a full picture (a keyframe) sent
/// in SIP INFO, by systems that do not use RTCP feedback (RFC 4585).
///
/// ```xml
/// <media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder>
///   <stream_id>1</stream_id></vc_primitive><general_error>...</general_error></media_control>
/// ```
/// Parsed strictly from outside bytes: bounded (``maximumBytes``, ``maximumDepth``, ``maximumElements``), only the
/// elements of RFC 5168's schema, text only inside `stream_id` and `general_error`; anything else is a
/// ``SIPMediaControlError`` naming what was wrong. Never traps.
public struct SIPMediaControl: Hashable, Sendable {
    /// The content type of the body.
    public static let contentType = "application/media_control+xml"
    /// The largest body read (a picture_fast_update is about 200 bytes).
    public static let maximumBytes = 4096
    public static let maximumDepth = 8
    public static let maximumElements = 64

    /// `vc_primitive`s asking for a full picture (each holds `to_encoder` with `picture_fast_update`).
    public var pictureFastUpdates: Int
    /// The `stream_id` values named, if any (which stream; the bridge's SIP calls carry one camera stream).
    public var streamIDs: [String]
    /// The `general_error` texts, if any (a far end telling the bridge it did not understand its request).
    public var generalErrors: [String]

    /// Whether the body asks for a full picture.
    public var asksForPicture: Bool { pictureFastUpdates > 0 }

    /// The body the bridge sends in INFO to ask a room system's camera for a keyframe.
    public static let pictureFastUpdateBody = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\r\n<media_control>\r\n"
        + "  <vc_primitive>\r\n    <to_encoder>\r\n      <picture_fast_update/>\r\n    </to_encoder>\r\n  </vc_primitive>\r\n"
        + "</media_control>\r\n"

    init(pictureFastUpdates: Int, streamIDs: [String], generalErrors: [String]) {
        self.pictureFastUpdates = pictureFastUpdates
        self.streamIDs = streamIDs
        self.generalErrors = generalErrors
    }

    /// Parses a body.
    /// - Throws: ``SIPMediaControlError`` naming what is wrong.
    public init(parsing body: [UInt8]) throws(SIPMediaControlError) {
        var reader = MediaControlReader(body)
        self = try reader.document()
    }
}

/// Why a media_control body was refused.
public struct SIPMediaControlError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable, Hashable {
        case empty = "empty body"
        case tooLarge = "body larger than 4096 bytes"
        case notText = "a control byte"
        case malformedMarkup = "malformed markup"
        case unexpectedElement = "an element RFC 5168 does not have here"
        case mismatchedEnd = "an end tag that does not close the open element"
        case unclosedElement = "an element never closed"
        case textNotAllowed = "text where only elements may be"
        case tooDeep = "elements nested too deep"
        case tooManyElements = "too many elements"
        case contentAfterRoot = "content after </media_control>"
        case incompletePrimitive = "a vc_primitive without to_encoder/picture_fast_update"
    }

    public let kind: Kind
    /// Byte offset in the body.
    public let offset: Int
    /// The element (or excerpt) concerned, control characters shown as `?`, at most 40 characters.
    public let detail: String

    init(_ kind: Kind, offset: Int, detail: some Sequence<UInt8> = [UInt8]()) {
        self.kind = kind
        self.offset = offset
        self.detail = SIPParseError.printable(detail.prefix(40))
    }

    public var description: String {
        "media_control body: \(kind.rawValue) at byte \(offset)" + (detail.isEmpty ? "" : " (\"\(detail)\")")
    }
}

/// A small, strict reader for RFC 5168's schema (no entities beyond the five predefined ones, no DTD, no CDATA).
private struct MediaControlReader {
    let bytes: [UInt8]
    var at = 0
    var elements = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// Where each element may appear: its parent, and whether it holds text.
    private static let parents: [String: String] = [
        "vc_primitive": "media_control", "general_error": "media_control", "to_encoder": "vc_primitive",
        "stream_id": "vc_primitive", "picture_fast_update": "to_encoder",
    ]
    private static let textElements: Set<String> = ["stream_id", "general_error"]

    mutating func document() throws(SIPMediaControlError) -> SIPMediaControl {
        guard !bytes.isEmpty else { throw SIPMediaControlError(.empty, offset: 0) }
        guard bytes.count <= SIPMediaControl.maximumBytes else {
            throw SIPMediaControlError(.tooLarge, offset: SIPMediaControl.maximumBytes)
        }
        if let bad = bytes.firstIndex(where: { ($0 < 0x20 && $0 != 9 && $0 != 10 && $0 != 13) || $0 == 0x7F }) {
            throw SIPMediaControlError(.notText, offset: bad)
        }
        if bytes.starts(with: Array("\u{FEFF}".utf8)) { at = 3 }
        skipSpace()
        if starts("<?xml") {
            guard let end = find("?>") else { throw SIPMediaControlError(.malformedMarkup, offset: at, detail: bytes[at...]) }
            at = end + 2
        }
        skipMisc()
        var result = SIPMediaControl(pictureFastUpdates: 0, streamIDs: [], generalErrors: [])
        let root = try startTag()
        guard root.name == "media_control" else {
            throw SIPMediaControlError(.unexpectedElement, offset: root.offset, detail: Array(root.name.utf8))
        }
        if !root.empty { try children(of: "media_control", depth: 1, into: &result) }
        skipMisc()
        guard at == bytes.count else { throw SIPMediaControlError(.contentAfterRoot, offset: at, detail: bytes[at...]) }
        return result
    }

    /// Reads the content of an open element up to and including its end tag.
    /// - Returns: whether it held a `picture_fast_update` (directly, or for a `vc_primitive` in its `to_encoder`).
    @discardableResult
    private mutating func children(of parent: String, depth: Int, into result: inout SIPMediaControl)
        throws(SIPMediaControlError) -> Bool {
        guard depth < SIPMediaControl.maximumDepth else { throw SIPMediaControlError(.tooDeep, offset: at) }
        var hasToEncoder = false
        var hasPicture = false
        var text: [UInt8] = []
        while true {
            let textStart = at
            while at < bytes.count, bytes[at] != UInt8(ascii: "<") { at += 1 }
            let run = bytes[textStart..<at]
            if !run.allSatisfy(Self.isSpace) {
                guard Self.textElements.contains(parent) else {
                    throw SIPMediaControlError(.textNotAllowed, offset: textStart, detail: run)
                }
                guard !run.contains(UInt8(ascii: ">")) else {
                    throw SIPMediaControlError(.malformedMarkup, offset: textStart, detail: run)
                }
                text += run
            }
            guard at < bytes.count else { throw SIPMediaControlError(.unclosedElement, offset: at, detail: Array(parent.utf8)) }
            if starts("<!--") {
                guard let end = find("-->") else { throw SIPMediaControlError(.malformedMarkup, offset: at, detail: bytes[at...]) }
                at = end + 3
                continue
            }
            if starts("</") {
                let offset = at
                at += 2
                let name = try self.name()
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ">") else {
                    throw SIPMediaControlError(.malformedMarkup, offset: offset, detail: bytes[offset...])
                }
                at += 1
                guard name == parent else { throw SIPMediaControlError(.mismatchedEnd, offset: offset, detail: Array(name.utf8)) }
                break
            }
            let child = try startTag()
            guard Self.parents[child.name] == parent else {
                throw SIPMediaControlError(.unexpectedElement, offset: child.offset, detail: Array(child.name.utf8))
            }
            if child.name == "to_encoder" { hasToEncoder = true }
            if child.name == "picture_fast_update" { hasPicture = true }
            if !child.empty, try children(of: child.name, depth: depth + 1, into: &result), child.name == "to_encoder" {
                hasPicture = true
            }
        }
        switch parent {
        case "vc_primitive":
            guard hasToEncoder, hasPicture else { throw SIPMediaControlError(.incompletePrimitive, offset: at) }
            result.pictureFastUpdates += 1
        case "stream_id":
            result.streamIDs.append(String(decoding: text, as: UTF8.self))
        case "general_error":
            result.generalErrors.append(String(decoding: text, as: UTF8.self))
        default:
            break
        }
        return hasPicture
    }

    /// `<name attr="value" ...>` or `<name .../>`: its name, where it began, whether it is empty.
    private mutating func startTag() throws(SIPMediaControlError) -> (name: String, offset: Int, empty: Bool) {
        let offset = at
        guard at < bytes.count, bytes[at] == UInt8(ascii: "<") else {
            throw SIPMediaControlError(.malformedMarkup, offset: at, detail: bytes[min(at, bytes.count)...])
        }
        elements += 1
        guard elements <= SIPMediaControl.maximumElements else { throw SIPMediaControlError(.tooManyElements, offset: at) }
        at += 1
        let name = try self.name()
        while true {
            skipSpace()
            guard at < bytes.count else { throw SIPMediaControlError(.malformedMarkup, offset: offset, detail: bytes[offset...]) }
            if bytes[at] == UInt8(ascii: ">") {
                at += 1
                return (name, offset, false)
            }
            if starts("/>") {
                at += 2
                return (name, offset, true)
            }
            // An attribute (xmlns, for one): name="value" or name='value', read and not used.
            _ = try self.name()
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "=") else {
                throw SIPMediaControlError(.malformedMarkup, offset: at, detail: bytes[min(at, bytes.count)...])
            }
            at += 1
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") || bytes[at] == UInt8(ascii: "'") else {
                throw SIPMediaControlError(.malformedMarkup, offset: at, detail: bytes[min(at, bytes.count)...])
            }
            let quote = bytes[at]
            at += 1
            while at < bytes.count, bytes[at] != quote {
                guard bytes[at] != UInt8(ascii: "<") else { throw SIPMediaControlError(.malformedMarkup, offset: at, detail: bytes[at...]) }
                at += 1
            }
            guard at < bytes.count else { throw SIPMediaControlError(.malformedMarkup, offset: offset, detail: bytes[offset...]) }
            at += 1
        }
    }

    /// An XML name of ASCII letters, digits, `_`, `-`, `.` and `:` (RFC 5168's names are all such), at most 64 bytes.
    private mutating func name() throws(SIPMediaControlError) -> String {
        let start = at
        while at < bytes.count, at - start < 64, Self.isNameByte(bytes[at]) { at += 1 }
        guard at > start, at - start < 64, !(bytes[start] >= 0x30 && bytes[start] <= 0x39) else {
            throw SIPMediaControlError(.malformedMarkup, offset: start, detail: bytes[start...])
        }
        return String(decoding: bytes[start..<at], as: UTF8.self)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
            || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":")
    }

    private static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 9 || byte == 10 || byte == 13 }

    private mutating func skipSpace() { while at < bytes.count, Self.isSpace(bytes[at]) { at += 1 } }

    /// Whitespace and comments.
    private mutating func skipMisc() {
        while true {
            skipSpace()
            guard starts("<!--"), let end = find("-->") else { return }
            at = end + 3
        }
    }

    private func starts(_ text: StaticString) -> Bool {
        let count = text.utf8CodeUnitCount
        guard at + count <= bytes.count else { return false }
        for i in 0..<count where bytes[at + i] != text.utf8Start[i] { return false }
        return true
    }

    /// Where `text` next occurs from `at`, if it does.
    private func find(_ text: StaticString) -> Int? {
        let count = text.utf8CodeUnitCount
        var i = at
        while i + count <= bytes.count {
            var match = true
            for j in 0..<count where bytes[i + j] != text.utf8Start[j] {
                match = false
                break
            }
            if match { return i }
            i += 1
        }
        return nil
    }
}
