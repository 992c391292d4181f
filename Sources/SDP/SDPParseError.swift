/// Why a session description (RFC 8866) was refused by ``SessionDescription/init(parsing:limits:)``.
///
/// The parser never traps on outside text: every problem becomes one of these, naming the line
/// (1-based; 0 when the problem is the description as a whole), an excerpt of that line and what
/// was expected, so an HTTP or SIP front-end can answer with a 400-class message as it is.
public struct SDPParseError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The kind of problem; compare with the named statics (`error.reason == .lineTooLong`).
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        private enum Code: String, Hashable, Sendable {
            case tooLarge = "description too large"
            case tooManyLines = "too many lines"
            case lineTooLong = "line too long"
            case tooManyMediaSections = "too many media sections"
            case tooManyAttributes = "too many attributes"
            case invalidEncoding = "not UTF-8"
            case invalidCharacter = "invalid character"
            case emptyLine = "empty line"
            case malformedLine = "malformed line"
            case unknownLineType = "unknown line type"
            case misplacedLine = "line not allowed here"
            case duplicateLine = "line repeated"
            case missingLine = "required line missing"
            case invalidVersion = "invalid v= line"
            case invalidOrigin = "invalid o= line"
            case invalidConnection = "invalid c= line"
            case invalidTiming = "invalid t= line"
            case invalidBandwidth = "invalid b= line"
            case invalidMedia = "invalid m= line"
            case invalidAttribute = "invalid attribute"
            case misplacedAttribute = "attribute not allowed here"
            case duplicateAttribute = "attribute repeated"
        }
        private let code: Code
        private init(_ code: Code) { self.code = code }

        /// More bytes than ``SDPLimits/maxBytes``.
        public static var tooLarge: Reason { .init(.tooLarge) }
        /// More lines than ``SDPLimits/maxLines``.
        public static var tooManyLines: Reason { .init(.tooManyLines) }
        /// A line longer than ``SDPLimits/maxLineLength`` bytes.
        public static var lineTooLong: Reason { .init(.lineTooLong) }
        /// More `m=` lines than ``SDPLimits/maxMediaSections``.
        public static var tooManyMediaSections: Reason { .init(.tooManyMediaSections) }
        /// More `a=` lines in one section than ``SDPLimits/maxAttributesPerSection``.
        public static var tooManyAttributes: Reason { .init(.tooManyAttributes) }
        /// Bytes that are not UTF-8.
        public static var invalidEncoding: Reason { .init(.invalidEncoding) }
        /// A control character (NUL, a CR not followed by LF, DEL, ...) inside a line.
        public static var invalidCharacter: Reason { .init(.invalidCharacter) }
        /// An empty line before the end of the description.
        public static var emptyLine: Reason { .init(.emptyLine) }
        /// A line that is not `<letter>=<value>`.
        public static var malformedLine: Reason { .init(.malformedLine) }
        /// A type letter RFC 8866 does not define (such a description must be refused).
        public static var unknownLineType: Reason { .init(.unknownLineType) }
        /// A known line type where it may not appear (`v=` not first, `t=` in a media section, ...).
        public static var misplacedLine: Reason { .init(.misplacedLine) }
        /// A line that may appear once appears again (`o=`, `s=`, `c=` in one section, ...).
        public static var duplicateLine: Reason { .init(.duplicateLine) }
        /// `v=`, `o=`, `s=` or `t=` is missing.
        public static var missingLine: Reason { .init(.missingLine) }
        /// `v=` other than `v=0`.
        public static var invalidVersion: Reason { .init(.invalidVersion) }
        /// `o=` without its six fields.
        public static var invalidOrigin: Reason { .init(.invalidOrigin) }
        /// `c=` that is not `<nettype> <addrtype> <address>`.
        public static var invalidConnection: Reason { .init(.invalidConnection) }
        /// `t=` that is not two decimal times.
        public static var invalidTiming: Reason { .init(.invalidTiming) }
        /// `b=` that is not `<type>:<number>`.
        public static var invalidBandwidth: Reason { .init(.invalidBandwidth) }
        /// `m=` that is not `<media> <port>[/<count>] <proto> <fmt> ...`.
        public static var invalidMedia: Reason { .init(.invalidMedia) }
        /// An attribute this module knows whose value does not follow its grammar.
        public static var invalidAttribute: Reason { .init(.invalidAttribute) }
        /// A media-level attribute at session level or the reverse.
        public static var misplacedAttribute: Reason { .init(.misplacedAttribute) }
        /// An attribute that may appear once per section (or once per payload type, or a `mid` once per description)
        /// appears again.
        public static var duplicateAttribute: Reason { .init(.duplicateAttribute) }

        public var description: String { code.rawValue }
    }

    /// What was wrong.
    public let reason: Reason
    /// The 1-based line number, or 0 when the problem concerns the whole description.
    public let line: Int
    /// The start of the offending line (at most ``excerptLength`` characters, control characters shown as `?`).
    public let excerpt: String
    /// What was expected, in words.
    public let detail: String

    /// The longest excerpt kept of an offending line.
    public static let excerptLength = 60

    init(_ reason: Reason, line: Int, excerpt: String, detail: String) {
        self.reason = reason
        self.line = line
        self.excerpt = excerpt
        self.detail = detail
    }

    init(_ reason: Reason, line: Int, bytes: ArraySlice<UInt8>, detail: String) {
        self.init(reason, line: line, excerpt: Self.excerpt(of: bytes), detail: detail)
    }

    /// A printable start of `bytes`: invalid UTF-8 and control characters become `?`, at most ``excerptLength``
    /// characters, with `…` when cut.
    static func excerpt(of bytes: ArraySlice<UInt8>) -> String {
        var result = ""
        var count = 0
        for scalar in String(decoding: bytes.prefix(excerptLength * 4), as: UTF8.self).unicodeScalars {
            if count == excerptLength {
                result.append("…")
                return result
            }
            if scalar.value < 0x20 || scalar.value == 0x7F || scalar == "\u{FFFD}" {
                result.append("?")
            } else {
                result.unicodeScalars.append(scalar)
            }
            count += 1
        }
        if bytes.count > excerptLength * 4 { result.append("…") }
        return result
    }

    public var description: String {
        if line == 0 { return "SDP: \(reason): \(detail)" }
        return "SDP line \(line) (\"\(excerpt)\"): \(reason): \(detail)"
    }
}
