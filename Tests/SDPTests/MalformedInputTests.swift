import Testing
@testable import SDP

private let head = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"

private func parseError(_ text: String, limits: SDPLimits = .default) -> SDPParseError? {
    do {
        _ = try SessionDescription(parsing: text, limits: limits)
        return nil
    } catch {
        return error
    }
}

private func parseError(bytes: [UInt8], limits: SDPLimits = .default) -> SDPParseError? {
    do {
        _ = try SessionDescription(parsing: bytes, limits: limits)
        return nil
    } catch {
        return error
    }
}

/// SplitMix64: a small seeded generator so failures reproduce.
private struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite("SDP parsing of malformed input")
struct MalformedInputTests {
    struct Case: CustomStringConvertible, Sendable {
        let name: String
        let text: String
        let reason: SDPParseError.Reason
        let line: Int
        var description: String { name }
    }

    static let cases: [Case] = [
        Case(name: "empty", text: "", reason: .missingLine, line: 0),
        Case(name: "only line ends", text: "\r\n\r\n", reason: .missingLine, line: 0),
        Case(name: "no v= first", text: "o=- 1 1 IN IP4 0.0.0.0\r\nv=0\r\n", reason: .missingLine, line: 1),
        Case(name: "version 1", text: "v=1\r\n", reason: .invalidVersion, line: 1),
        Case(name: "v= twice", text: "v=0\r\nv=0\r\n", reason: .duplicateLine, line: 2),
        Case(name: "no o=", text: "v=0\r\ns=-\r\nt=0 0\r\n", reason: .missingLine, line: 0),
        Case(name: "no s=", text: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\nt=0 0\r\n", reason: .missingLine, line: 0),
        Case(name: "no t=", text: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\n", reason: .missingLine, line: 0),
        Case(name: "o= twice", text: head + "o=- 1 1 IN IP4 0.0.0.0\r\n", reason: .duplicateLine, line: 5),
        Case(name: "junk line", text: head + "junk\r\n", reason: .malformedLine, line: 5),
        Case(name: "a single letter", text: head + "a\r\n", reason: .malformedLine, line: 5),
        Case(name: "upper-case type", text: head + "A=sendrecv\r\n", reason: .malformedLine, line: 5),
        Case(name: "space before type", text: head + " a=sendrecv\r\n", reason: .malformedLine, line: 5),
        Case(name: "unknown type", text: head + "x=1\r\n", reason: .unknownLineType, line: 5),
        Case(name: "unknown type in media", text: head + "m=audio 9 RTP/AVP 0\r\ny=1\r\n", reason: .unknownLineType, line: 6),
        Case(name: "t= in a media section", text: head + "m=audio 9 RTP/AVP 0\r\nt=0 0\r\n", reason: .misplacedLine,
             line: 6),
        Case(name: "r= before t=", text: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nr=7d 1h 0\r\n", reason: .misplacedLine,
             line: 4),
        Case(name: "o= with five fields", text: "v=0\r\no=- 1 1 IN IP4\r\n", reason: .invalidOrigin, line: 2),
        Case(name: "o= with a word for session id", text: "v=0\r\no=- abc 1 IN IP4 0.0.0.0\r\n", reason: .invalidOrigin,
             line: 2),
        Case(name: "c= with two fields", text: head + "c=IN IP4\r\n", reason: .invalidConnection, line: 5),
        Case(name: "c= twice in a section", text: head + "m=audio 9 RTP/AVP 0\r\nc=IN IP4 1.2.3.4\r\nc=IN IP4 1.2.3.4\r\n",
             reason: .duplicateLine, line: 7),
        Case(name: "b= without number", text: head + "b=AS:lots\r\n", reason: .invalidBandwidth, line: 5),
        Case(name: "b= without type", text: head + "b=:64\r\n", reason: .invalidBandwidth, line: 5),
        Case(name: "t= with one time", text: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0\r\n", reason: .invalidTiming,
             line: 4),
        Case(name: "t= with a negative time", text: "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=-1 0\r\n",
             reason: .invalidTiming, line: 4),
        Case(name: "m= without formats", text: head + "m=audio 9 RTP/AVP\r\n", reason: .invalidMedia, line: 5),
        Case(name: "m= port too large", text: head + "m=audio 70000 RTP/AVP 0\r\n", reason: .invalidMedia, line: 5),
        Case(name: "m= port count 0", text: head + "m=audio 9/0 RTP/AVP 0\r\n", reason: .invalidMedia, line: 5),
        Case(name: "m= payload type 200", text: head + "m=audio 9 UDP/TLS/RTP/SAVPF 111 200\r\n", reason: .invalidMedia,
             line: 5),
        Case(name: "m= payload type a word", text: head + "m=video 9 RTP/AVP vp8\r\n", reason: .invalidMedia, line: 5),
        Case(name: "rtpmap without clock", text: head + "m=audio 9 RTP/AVP 111\r\na=rtpmap:111 opus\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "rtpmap payload type 300", text: head + "m=audio 9 RTP/AVP 111\r\na=rtpmap:300 opus/48000/2\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "rtpmap clock a word", text: head + "m=audio 9 RTP/AVP 111\r\na=rtpmap:111 opus/fast/2\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "rtpmap too many parts", text: head + "m=audio 9 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2/1\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "rtpmap twice for one payload type",
             text: head + "m=audio 9 RTP/AVP 111\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:111 opus/48000/2\r\n",
             reason: .duplicateAttribute, line: 7),
        Case(name: "fmtp without parameters", text: head + "m=audio 9 RTP/AVP 111\r\na=fmtp:111\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "rtcp-fb without type", text: head + "m=video 9 RTP/AVPF 96\r\na=rtcp-fb:96\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "rtcp-fb payload type a word", text: head + "m=video 9 RTP/AVPF 96\r\na=rtcp-fb:vp8 nack\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "fingerprint too short for sha-256", text: head + "a=fingerprint:sha-256 AB:CD\r\n",
             reason: .invalidAttribute, line: 5),
        Case(name: "fingerprint not hex",
             text: head + "a=fingerprint:sha-1 ZZ:01:02:03:04:05:06:07:08:09:0A:0B:0C:0D:0E:0F:10:11:12:13\r\n",
             reason: .invalidAttribute, line: 5),
        Case(name: "fingerprint signed hex", text: head + "a=fingerprint:x-hash +F:01\r\n", reason: .invalidAttribute,
             line: 5),
        Case(name: "fingerprint without bytes", text: head + "a=fingerprint:sha-256\r\n", reason: .invalidAttribute,
             line: 5),
        Case(name: "fingerprint empty", text: head + "a=fingerprint:\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "ice-ufrag too short", text: head + "a=ice-ufrag:ab\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "ice-ufrag with a bad character", text: head + "a=ice-ufrag:ab!d\r\n", reason: .invalidAttribute,
             line: 5),
        Case(name: "ice-pwd too short", text: head + "a=ice-pwd:0123456789\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "ice-ufrag twice", text: head + "a=ice-ufrag:abcd\r\na=ice-ufrag:abce\r\n",
             reason: .duplicateAttribute, line: 6),
        Case(name: "setup sideways", text: head + "a=setup:sideways\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "direction with a value", text: head + "a=sendrecv:yes\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "two directions", text: head + "m=audio 9 RTP/AVP 0\r\na=sendrecv\r\na=recvonly\r\n",
             reason: .duplicateAttribute, line: 7),
        Case(name: "extmap id 0", text: head + "a=extmap:0 urn:x\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "extmap id 300", text: head + "a=extmap:300 urn:x\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "extmap bad direction", text: head + "a=extmap:1/sideways urn:x\r\n", reason: .invalidAttribute,
             line: 5),
        Case(name: "extmap id twice", text: head + "m=audio 9 RTP/AVP 0\r\na=extmap:1 urn:x\r\na=extmap:1 urn:y\r\n",
             reason: .duplicateAttribute, line: 7),
        Case(name: "ssrc a word", text: head + "m=audio 9 RTP/AVP 0\r\na=ssrc:abc cname:x\r\n", reason: .invalidAttribute,
             line: 6),
        Case(name: "ssrc above 32 bits", text: head + "m=audio 9 RTP/AVP 0\r\na=ssrc:4294967296 cname:x\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "ssrc without attribute", text: head + "m=audio 9 RTP/AVP 0\r\na=ssrc:1\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "ssrc-group without sources", text: head + "m=audio 9 RTP/AVP 0\r\na=ssrc-group:FID\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "msid with three fields", text: head + "m=audio 9 RTP/AVP 0\r\na=msid:a b c\r\n",
             reason: .invalidAttribute, line: 6),
        Case(name: "mid empty", text: head + "m=audio 9 RTP/AVP 0\r\na=mid:\r\n", reason: .invalidAttribute, line: 6),
        Case(name: "mid twice in a description",
             text: head + "m=audio 9 RTP/AVP 0\r\na=mid:a\r\nm=audio 9 RTP/AVP 0\r\na=mid:a\r\n",
             reason: .duplicateAttribute, line: 8),
        Case(name: "mid at session level", text: head + "a=mid:0\r\n", reason: .misplacedAttribute, line: 5),
        Case(name: "rtpmap at session level", text: head + "a=rtpmap:0 PCMU/8000\r\n", reason: .misplacedAttribute,
             line: 5),
        Case(name: "group in a media section", text: head + "m=audio 9 RTP/AVP 0\r\na=group:BUNDLE 0\r\n",
             reason: .misplacedAttribute, line: 6),
        Case(name: "ice-lite in a media section", text: head + "m=audio 9 RTP/AVP 0\r\na=ice-lite\r\n",
             reason: .misplacedAttribute, line: 6),
        Case(name: "attribute without name", text: head + "a=:x\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "attribute name with a space", text: head + "a=rtp map:1\r\n", reason: .invalidAttribute, line: 5),
        Case(name: "NUL in a line", text: head + "a=tool\u{0}x\r\n", reason: .invalidCharacter, line: 5),
        Case(name: "lone CR in a line", text: head + "a=tool\rx\r\n", reason: .invalidCharacter, line: 5),
        Case(name: "empty line in the middle", text: "v=0\r\n\r\no=- 1 1 IN IP4 0.0.0.0\r\n", reason: .emptyLine,
             line: 2),
    ]

    @Test("each kind of malformed line gives its error, line number and excerpt", arguments: cases)
    func malformed(_ testCase: Case) {
        let error = parseError(testCase.text)
        #expect(error?.reason == testCase.reason, "\(error.map(String.init(describing:)) ?? "parsed")")
        #expect(error?.line == testCase.line, "\(error.map(String.init(describing:)) ?? "parsed")")
        if let error, error.line > 0 {
            let lines = testCase.text.split(separator: "\r\n", omittingEmptySubsequences: false)
            let offending = lines[error.line - 1]
            let shown = offending.prefix(60).map { $0.isASCII && $0.asciiValue! < 0x20 ? "?" : String($0) }.joined()
            #expect(error.excerpt == shown + (offending.count > 60 ? "…" : ""))
            #expect(error.description.hasPrefix("SDP line \(error.line) (\""))
        }
    }

    @Test("an error names the line and what was expected")
    func message() {
        let error = parseError(head + "m=audio 9 RTP/AVP 111\r\na=rtpmap:111 opus\r\n")
        #expect(error?.description
            == "SDP line 6 (\"a=rtpmap:111 opus\"): invalid attribute: rtpmap: expected <encoding>/<clock rate>[/<parameters>]")
    }

    @Test("invalid UTF-8 is an encoding error on its line")
    func invalidUTF8() {
        let bytes = Array((head + "s=").utf8) + [0xC3, 0x28] + Array("\r\n".utf8)
        let error = parseError(bytes: bytes)
        #expect(error?.reason == .invalidEncoding)
        #expect(error?.line == 5)
        #expect(error?.excerpt == "s=?(")
    }

    @Test("more than 64 KiB is refused before parsing")
    func tooLarge() {
        let text = head + String(repeating: "a=x-padding:0123456789abcdef\r\n", count: 2_300)
        #expect(text.utf8.count > 65_536)
        #expect(parseError(text)?.reason == .tooLarge)
        #expect(parseError(text)?.line == 0)
        #expect(parseError(bytes: Array(text.utf8))?.reason == .tooLarge)
    }

    @Test("a huge line is refused with a short excerpt")
    func hugeLine() {
        let error = parseError(head + "a=x-huge:" + String(repeating: "A", count: 60_000) + "\r\n")
        #expect(error?.reason == .lineTooLong)
        #expect(error?.line == 5)
        #expect(error?.excerpt == "a=x-huge:" + String(repeating: "A", count: 51) + "…")
    }

    @Test("too many lines, too many attributes in a section")
    func lineAndAttributeCounts() {
        let lines = parseError(head + String(repeating: "b=AS:1\r\n", count: 5_000))
        #expect(lines?.reason == .tooManyLines)
        #expect(lines?.line == 4_097)
        let attributes = parseError(head + String(repeating: "a=x\r\n", count: 1_100))
        #expect(attributes?.reason == .tooManyAttributes)
        #expect(attributes?.line == 4 + 1_025)
    }

    @Test("10,000 m-lines: refused by size, by count with a larger size limit, parsed in bounded time when allowed")
    func tenThousandMediaSections() {
        let text = head + String(repeating: "m=audio 9 RTP/AVP 0\r\n", count: 10_000)
        #expect(parseError(text)?.reason == .tooLarge)

        let roomy = SDPLimits(maxBytes: 1 << 20, maxLines: 20_000)
        let counted = parseError(text, limits: roomy)
        #expect(counted?.reason == .tooManyMediaSections)
        #expect(counted?.line == 4 + 33)

        let unbounded = SDPLimits(maxBytes: 1 << 20, maxLines: 20_000, maxMediaSections: 10_000)
        let clock = ContinuousClock()
        let start = clock.now
        let description = try? SessionDescription(parsing: text, limits: unbounded)
        #expect(description?.media.count == 10_000)
        #expect(clock.now - start < .seconds(10))
    }

    /// Cut points in `bytes`: every byte of the session part, and in the first line of each kind after it
    /// (`m=`, `c=`, and each attribute name) its first bytes, middle, last bytes and both sides of its CR and LF.
    static func cutPoints(_ bytes: [UInt8]) -> [Int] {
        let firstMedia = bytes.indices.first { $0 > 0 && bytes[$0 - 1] == 0x0A && bytes[$0] == UInt8(ascii: "m") } ?? 0
        var cuts = Set(0...firstMedia)
        var kinds: Set<[UInt8]> = []
        var lineStart = firstMedia
        for index in bytes.indices.dropFirst(firstMedia) where bytes[index] == 0x0A {
            let end = index - 1  // the CR
            let line = bytes[lineStart..<end]
            let kind = Array(line.prefix { $0 != UInt8(ascii: ":") && $0 != UInt8(ascii: " ") })
            defer { lineStart = index + 1 }
            guard kinds.insert(kind).inserted else { continue }
            for cut in [lineStart + 1, lineStart + 2, lineStart + 3, (lineStart + end) / 2, end - 1, end, index,
                        index + 1] where cut >= 0 && cut <= bytes.count {
                cuts.insert(cut)
            }
        }
        return cuts.sorted()
    }

    @Test("truncations of every fixture (in every kind of line) parse or give an error on a line they have",
          arguments: Fixture.allCases)
    func truncations(fixture: Fixture) throws {
        let bytes = Array(fixture.text.utf8)
        var refused = 0
        for length in Self.cutPoints(bytes) {
            let prefix = Array(bytes[0..<length])
            if let error = parseError(bytes: prefix) {
                refused += 1
                let lineCount = prefix.split(separator: 0x0A, omittingEmptySubsequences: false).count
                #expect(error.line >= 0 && error.line <= lineCount, "\(fixture) cut at \(length): \(error)")
                #expect(!error.description.isEmpty)
            }
        }
        #expect(refused > 50)
    }

    @Test("seeded junk and mutated offers never trap and take bounded time")
    func junk() {
        var random = SeededGenerator(state: 13)
        let clock = ContinuousClock()
        let start = clock.now
        let source = Array(Fixture.chromium120.text.utf8)
        var refused = 0
        for round in 0..<1_200 {
            var bytes: [UInt8]
            switch round % 3 {
            case 0:
                bytes = (0..<Int.random(in: 0...400, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            case 1:
                bytes = source
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    let index = Int.random(in: 0..<bytes.count, using: &random)
                    bytes[index] = [0x00, 0x0D, 0x0A, 0x3A, 0x20, 0x3D, 0xFF, 0x2F, 0x39][Int.random(in: 0..<9, using: &random)]
                }
            default:
                var lines = source.split(separator: 0x0A, omittingEmptySubsequences: false).map(Array.init)
                for _ in 0..<Int.random(in: 1...5, using: &random) {
                    let index = Int.random(in: 0..<lines.count, using: &random)
                    if Bool.random(using: &random) { lines.remove(at: index) } else { lines.insert(lines[index], at: index) }
                }
                bytes = Array(lines.joined(separator: [0x0A]))
            }
            if parseError(bytes: bytes) != nil { refused += 1 }
        }
        #expect(refused > 800)
        #expect(clock.now - start < .seconds(60))
    }
}
