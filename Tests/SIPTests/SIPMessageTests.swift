import Testing
@testable import SIP

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

/// An INVITE as a room system sends it: compact forms, a folded Subject, two Vias on one line, a body.
let sampleInvite = """
INVITE sip:meeting@192.0.2.10:5060;transport=udp SIP/2.0\r
v: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bK776asdhds;rport, SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKold;received=192.0.2.1\r
Max-Forwards: 70\r
t: "Hall \\"A\\", Room 1" <sip:meeting@192.0.2.10>\r
f: Hall <sip:hall-7@198.51.100.7>;tag=1928301774;x-foo\r
i: a84b4c76e66710@198.51.100.7\r
CSeq: 314159 INVITE\r
m: <sip:hall-7@198.51.100.7:5062;transport=udp>;expires=60, sip:alt@198.51.100.8\r
k: timer, 100rel\r
Session-Expires: 1800;refresher=uac\r
Min-SE: 90\r
Subject: a long\r
 folded\r
\tsubject\r
c: application/sdp\r
l: 4\r
\r
v=0\r\nextra
"""

@Suite("SIP messages (RFC 3261 §7, §20)")
struct SIPMessageTests {
    @Test("a room system's INVITE: compact forms, folding, comma-separated Via and Contact, body by Content-Length")
    func parsesInvite() throws {
        let message = try SIPMessage.parse(datagram: bytes(sampleInvite))
        #expect(message.method == "INVITE")
        #expect(message.requestURI == "sip:meeting@192.0.2.10:5060;transport=udp")
        #expect(message.body == bytes("v=0\r"))
        let vias = try message.vias()
        #expect(vias.count == 2)
        #expect(vias[0].transport == "UDP" && vias[0].host == "198.51.100.7" && vias[0].port == 5062)
        #expect(vias[0].branch == "z9hG4bK776asdhds" && vias[0].rport == .requested)
        #expect(vias[1].host == "2001:db8::9" && vias[1].port == 5070 && vias[1].received == "192.0.2.1")
        #expect(vias[1].rport == .absent)
        let to = try message.to()
        #expect(to.displayName == "Hall \"A\", Room 1" && to.tag == nil && to.uri.user == "meeting")
        let from = try message.from()
        #expect(from.tag == "1928301774" && from.parameters.parameter("x-foo") == .some(nil))
        #expect(message.callID == "a84b4c76e66710@198.51.100.7")
        #expect(try message.cseq() == SIPCSeq(number: 314159, method: "INVITE"))
        let contacts = try message.contacts()
        #expect(contacts.count == 2)
        #expect(contacts[0].uri.port == 5062 && contacts[0].uri.transport == "udp")
        #expect(contacts[0].parameters.parameter("expires") == .some("60"))
        #expect(contacts[1].uri.user == "alt" && contacts[1].uri.host == "198.51.100.8")
        #expect(message.tokens("Supported") == ["timer", "100rel"])
        #expect(try message.sessionExpires() == SIPSessionExpires(seconds: 1800, refresher: .uac))
        #expect(try message.minSE() == 90)
        #expect(try message.maxForwards() == 70)
        #expect(message.value("subject") == "a long folded subject")
        #expect(message.contentType == "application/sdp")
    }

    @Test("serialized and parsed again gives the same message")
    func roundTrip() throws {
        let message = try SIPMessage.parse(datagram: bytes(sampleInvite))
        let again = try SIPMessage.parse(framed: message.serialized())
        #expect(again == message)
    }

    @Test("URIs: sips, IPv6, port, parameters, headers; a password is refused")
    func uris() throws {
        let uri = try SIPURI(parsing: "sips:alice@[2001:db8::1]:5061;transport=tls;lr?subject=x&priority=urgent")
        #expect(uri.secure && uri.user == "alice" && uri.host == "2001:db8::1" && uri.port == 5061)
        #expect(uri.transport == "tls" && uri.parameters.parameter("lr") == .some(nil))
        #expect(uri.headers == "subject=x&priority=urgent")
        #expect(uri.description == "sips:alice@[2001:db8::1]:5061;transport=tls;lr?subject=x&priority=urgent")
        #expect(try SIPURI(parsing: "sip:example.com").port == nil)
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: "sip:alice:secret@example.com") }
        do {
            _ = try SIPURI(parsing: "sip:alice:secret@example.com")
        } catch {
            #expect(error.kind == .passwordInURI)
        }
        for bad in ["tel:+84", "sip:", "sip:host:0", "sip:host:70000", "sip:[::1", "sip:a@", "sip:ho st", "sip:h:1:2"] {
            #expect(throws: SIPParseError.self, "\(bad)") { try SIPURI(parsing: bad) }
        }
    }

    @Test("Via with rport filled in, and malformed Vias")
    func vias() throws {
        let via = try SIPVia(parsing: "SIP/2.0/tcp host.example:5060 ;branch=z9hG4bKx ; rport=5070;received=192.0.2.4")
        #expect(via.transport == "TCP" && via.rport == .value(5070) && via.received == "192.0.2.4")
        for bad in ["SIP/2.0 host", "SIP/3.0/UDP host", "SIP/2.0/UDP", "SIP/2.0/UDP host;rport=x", "SIP/2.0/UDP host;branch="] {
            #expect(throws: SIPParseError.self, "\(bad)") { try SIPVia(parsing: bad) }
        }
    }

    @Test("CSeq above 2^31-1 or without a method is refused")
    func cseqBounds() throws {
        #expect(try SIPCSeq(parsing: "2147483647 BYE").number == 2_147_483_647)
        for bad in ["2147483648 BYE", "1", "-1 BYE", "1 BYE x", "99999999999999999999 INVITE"] {
            #expect(throws: SIPParseError.self, "\(bad)") { try SIPCSeq(parsing: bad) }
        }
    }

    @Test("a response: status line, headers case-insensitive, body")
    func parsesResponse() throws {
        let text = "SIP/2.0 180 Ringing\r\nVIA: SIP/2.0/UDP a.example;branch=z9hG4bK1\r\ncall-id: x\r\nCSEQ: 1 INVITE\r\n"
            + "From: <sip:a@a.example>;tag=1\r\nTo: <sip:b@b.example>;tag=2\r\nContent-Length: 0\r\n\r\n"
        let message = try SIPMessage.parse(datagram: bytes(text))
        #expect(message.statusCode == 180 && message.reasonPhrase == "Ringing")
        #expect(message.callID == "x" && message.value("cseq") == "1 INVITE")
    }

    @Test("errors name what was wrong and where")
    func errorsNameTheProblem() {
        func error(_ text: String, limits: SIPLimits = .datagram) -> SIPParseError? {
            do { _ = try SIPMessage.parse(datagram: bytes(text), limits: limits); return nil } catch { return error }
        }
        let head = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        #expect(error("")?.kind == .empty)
        #expect(error("OPTIONS sip:a@b SIP/2.0\r\nVia: x")?.kind == .noHeaderEnd)
        #expect(error("OPTIONS sip:a@b SIP/3.0\r\n\r\n")?.kind == .badVersion)
        #expect(error("SIP/2.0 20 OK\r\n\r\n")?.kind == .badStartLine)
        let noColon = error(head + "Bogus line\r\n\r\n")
        #expect(noColon?.kind == .badHeaderLine && noColon?.line == 3 && noColon?.excerpt == "Bogus line")
        #expect(error(head + "X: \u{01}\r\n\r\n")?.kind == .notText)
        #expect(error(head + "Content-Length: 10\r\n\r\nabc")?.kind == .bodyTooShort)
        #expect(error(head + "Content-Length: 1x\r\n\r\n")?.kind == .badContentLength)
        #expect(error(head + "X: " + String(repeating: "a", count: 5000) + "\r\n\r\n")?.kind == .headerLineTooLong)
        #expect(error(head + String(repeating: "X: 1\r\n", count: 101) + "\r\n")?.kind == .tooManyHeaders)
        #expect(error(head + "X: " + String(repeating: "a", count: 17000) + "\r\n\r\n",
                      limits: SIPLimits(maxMessageBytes: 16384, maxHeaderLineBytes: 100_000))?.kind == .messageTooLarge)
        #expect(error(head + " folded-too-early\r\n\r\n") == nil)
        #expect(error("OPTIONS sip:a@b SIP/2.0\r\n folded\r\n\r\n")?.kind == .badHeaderLine)
        let description = noColon?.description ?? ""
        #expect(description.contains("line 3") && description.contains("Bogus line"))
    }

    @Test("a datagram without Content-Length takes the rest as body; extra bytes after Content-Length are dropped")
    func datagramBody() throws {
        let head = "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
        #expect(try SIPMessage.parse(datagram: bytes(head + "\r\nhello")).body == bytes("hello"))
        #expect(try SIPMessage.parse(datagram: bytes(head + "l: 2\r\n\r\nhello")).body == bytes("he"))
        #expect(throws: SIPParseError.self) { try SIPMessage.parse(framed: bytes(head + "\r\nhello")) }
    }
}
