import Testing
@testable import SIP

private func request(_ method: String = "INVITE", uri: String = "sip:meeting@192.0.2.10", cseqMethod: String? = nil,
                     omit: Set<String> = [], extra: [String] = []) -> SIPMessage {
    var lines = ["\(method) \(uri) SIP/2.0"]
    let headers: [(String, String)] = [
        ("Via", "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc;rport"),
        ("Via", "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKdef"),
        ("Max-Forwards", "70"), ("From", "<sip:hall@198.51.100.7>;tag=ft"), ("To", "<sip:meeting@192.0.2.10>"),
        ("Call-ID", "cid-1"), ("CSeq", "7 \(cseqMethod ?? method)"),
    ]
    for (name, value) in headers where !omit.contains(name) { lines.append("\(name): \(value)") }
    lines += extra
    lines.append("Content-Length: 0")
    return try! SIPMessage.parse(datagram: Array((lines.joined(separator: "\r\n") + "\r\n\r\n").utf8))
}

@Suite("SIP server checks (RFC 3261 §8.2) and responses (§8.2.6, RFC 3581)")
struct SIPServerChecksTests {
    let validator = SIPRequestValidator()

    @Test("a good INVITE passes")
    func good() { #expect(validator.validate(request: request()) == .ok) }

    @Test("each missing mandatory header gets 400 naming it", arguments: ["From", "To", "Call-ID", "CSeq", "Max-Forwards"])
    func missing(header: String) {
        #expect(validator.validate(request: request(omit: [header]))
                == .reject(status: 400, reason: "Missing \(header) header", headers: []))
    }

    @Test("no Via: nothing can be answered, dropped; response(to:) gives nil")
    func noVia() {
        let message = request(omit: ["Via"])
        guard case .drop = validator.validate(request: message) else { Issue.record("not dropped"); return }
        #expect(SIPMessage.response(to: message, status: 400) == nil)
    }

    @Test("Max-Forwards 0 → 483; bad → 400")
    func maxForwards() {
        #expect(validator.validate(request: request(omit: ["Max-Forwards"], extra: ["Max-Forwards: 0"]))
                == .reject(status: 483, reason: "Too Many Hops", headers: []))
        #expect(validator.validate(request: request(omit: ["Max-Forwards"], extra: ["Max-Forwards: 300"]))
                == .reject(status: 400, reason: "Bad Max-Forwards header", headers: []))
    }

    @Test("unknown method → 501; known but not allowed → 405 with Allow")
    func methods() {
        #expect(validator.validate(request: request("FROB")) == .reject(status: 501, reason: "Not Implemented", headers: []))
        guard case .reject(405, _, let headers) = validator.validate(request: request("SUBSCRIBE")) else {
            Issue.record("not 405"); return
        }
        #expect(headers == [SIPHeader("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO")])
    }

    @Test("bad CSeq: method mismatch, too big → 400")
    func cseq() {
        #expect(validator.validate(request: request(cseqMethod: "BYE"))
                == .reject(status: 400, reason: "CSeq method does not match the request", headers: []))
        #expect(validator.validate(request: request(omit: ["CSeq"], extra: ["CSeq: 4294967296 INVITE"]))
                == .reject(status: 400, reason: "Bad CSeq header", headers: []))
    }

    @Test("Require with an unknown option → 420 with Unsupported; timer is supported; ignored on ACK")
    func require() {
        #expect(validator.validate(request: request(extra: ["Require: timer, foo", "Require: bar"]))
                == .reject(status: 420, reason: "Bad Extension", headers: [SIPHeader("Unsupported", "foo, bar")]))
        #expect(validator.validate(request: request(extra: ["Require: timer"])) == .ok)
        #expect(validator.validate(request: request("ACK", extra: ["Require: foo"])) == .ok)
    }

    @Test("a tel: Request-URI → 416; a garbled From → 400")
    func uriAndAddress() {
        #expect(validator.validate(request: request(uri: "tel:+84123")) == .reject(status: 416, reason: "Unsupported URI Scheme", headers: []))
        #expect(validator.validate(request: request(omit: ["From"], extra: ["From: <sip:x@"]))
                == .reject(status: 400, reason: "Bad From header", headers: []))
    }

    @Test("response copies Via in order, From, To with tag, Call-ID, CSeq; UDP source fills received and rport")
    func response() throws {
        let peer = SIPPeer(host: "203.0.113.9", port: 40000, transport: .udp)
        let response = try #require(SIPMessage.response(to: request(), status: 200, toTag: "tt", receivedFrom: peer))
        #expect(response.statusCode == 200 && response.reasonPhrase == "OK")
        #expect(response.values("Via") == [
            "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc;rport=40000;received=203.0.113.9",
            "SIP/2.0/UDP 10.0.0.1;branch=z9hG4bKdef",
        ])
        #expect(response.value("From") == "<sip:hall@198.51.100.7>;tag=ft")
        #expect(try response.to().tag == "tt")
        #expect(response.callID == "cid-1" && response.value("CSeq") == "7 INVITE")
        // No rport asked and the same host: Via untouched.
        let same = SIPPeer(host: "198.51.100.7", port: 5062, transport: .udp)
        var plain = request()
        plain.headers[0].value = "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc"
        let untouched = try #require(SIPMessage.response(to: plain, status: 100, receivedFrom: same))
        #expect(untouched.values("Via").first == "SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKabc")
        #expect(try untouched.to().tag == nil)
    }

    @Test("a body shorter than Content-Length: 400 on a stream, dropped on UDP")
    func contentLengthMismatch() {
        let text = "BYE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:c@d>\r\n"
            + "Call-ID: c\r\nCSeq: 2 BYE\r\nMax-Forwards: 70\r\nContent-Length: 50\r\n\r\nshort"
        do {
            _ = try SIPMessage.parse(datagram: Array(text.utf8))
            Issue.record("parsed")
        } catch {
            #expect(error.kind == .bodyTooShort)
            #expect(SIPRequestValidator.response(to: error, transport: .udp) == nil)
            let response = SIPRequestValidator.response(to: error, transport: .tcp)
            #expect(response?.statusCode == 400 && response?.value("CSeq") == "2 BYE")
        }
    }
}
