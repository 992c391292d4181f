import Testing
@testable import SIP

@Suite("SIP over a stream (RFC 3261 §18.3)")
struct SIPStreamFramerTests {
    static let message = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 5\r\n\r\nhello"

    @Test("messages split at any byte, keep-alives between them, come out whole and in order")
    func framing() throws {
        let stream = Array(("\r\n\r\n" + Self.message + "\r\n\r\n" + Self.message.replacingOccurrences("hello", "world")).utf8)
        for chunk in [1, 3, 7, 64, stream.count] {
            var framer = SIPStreamFramer()
            var out: [SIPMessage] = []
            var index = 0
            while index < stream.count {
                out += try framer.append(stream[index..<min(stream.count, index + chunk)])
                index += chunk
            }
            #expect(out.map(\.body) == [Array("hello".utf8), Array("world".utf8)], "chunk \(chunk)")
            #expect(framer.bufferedCount == 0)
        }
    }

    @Test("a 60 KB message trickled one byte at a time comes out whole (the header search resumes, not restarts)")
    func trickle() throws {
        let body = String(repeating: "v", count: 60_000)
        let text = "INFO sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n"
            + String(repeating: "X-Pad: 0123456789\r\n", count: 90) + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        var framer = SIPStreamFramer()
        var out: [SIPMessage] = []
        for byte in text.utf8 { out += try framer.append(CollectionOfOne(byte)) }
        #expect(out.count == 1 && out.first?.body.count == 60_000 && framer.bufferedCount == 0)
    }

    @Test("no Content-Length on a stream is an error with the headers kept for a 400")
    func contentLengthRequired() {
        var framer = SIPStreamFramer()
        do {
            _ = try framer.append(Array("BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n".utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.kind == .missingContentLength && error.headersOnly?.method == "BYE")
        }
        #expect(throws: SIPParseError.self) { try framer.append(Array("more".utf8)) }
    }

    @Test("the buffer is bounded: endless headers or a huge Content-Length are refused")
    func bounded() {
        var framer = SIPStreamFramer(limits: SIPLimits(maxMessageBytes: 2048))
        var refused = false
        for _ in 0..<100 {
            do { _ = try framer.append(Array("X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".utf8)) } catch { refused = true; break }
            #expect(framer.bufferedCount <= 2048)
        }
        #expect(refused)
        var big = SIPStreamFramer()
        do {
            _ = try big.append(Array("INFO sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 9999999\r\n\r\n".utf8))
            Issue.record("accepted")
        } catch {
            #expect(error.kind == .badContentLength || error.kind == .bodyTooLarge)
        }
    }
}

extension String {
    func replacingOccurrences(_ a: String, _ b: String) -> String { split(separator: a, omittingEmptySubsequences: false).joined(separator: b) }
}
