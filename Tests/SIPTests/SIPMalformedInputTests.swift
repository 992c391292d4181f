import Testing
@testable import SIP

@Suite("SIP parser and checks against malformed input (seeded)")
struct SIPMalformedInputTests {
    static let seeds: [String] = [
        sampleInvite,
        "SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx;received=192.0.2.9;rport=5060\r\n"
            + "From: <sip:a@b>;tag=1\r\nTo: \"B\" <sip:b@c>;tag=2\r\nCall-ID: q@w\r\nCSeq: 5 INVITE\r\n"
            + "Contact: <sip:b@[2001:db8::2]:5070;transport=tcp>\r\nSession-Expires: 90;refresher=uas\r\n"
            + "Content-Type: application/sdp\r\nContent-Length: 3\r\n\r\nv=0",
        "OPTIONS sip:meeting@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/TCP h:1;branch=z9hG4bKo\r\nMax-Forwards: 1\r\n"
            + "From: <sip:a@b>;tag=9\r\nTo: <sip:c@d>\r\nCall-ID: o\r\nCSeq: 2147483647 OPTIONS\r\nRequire: timer\r\n"
            + "Min-SE: 90\r\nExpires: 30\r\nContent-Length: 0\r\n\r\n",
    ]

    static let fragments: [[UInt8]] = [
        "\r\n", "\n", "\r", ":", ";", ",", "\"", "<", ">", "[", "]", "@", " ", "\t", "\0", "\u{7F}", "\u{FF}",
        "99999999999999999999", "-1", "4294967296", "2147483648", "65536", "Content-Length: 99999\r\n", "l: -5\r\n",
        "Via: SIP/2.0/UDP [::1\r\n", "CSeq: 1\r\n", "sip:user:pass@host", "SIP/2.0", " SIP/2.0 ", "z9hG4bK",
        "rport=", "tag=", "\r\n ", "\r\n\r\n", String(repeating: "A", count: 5000),
    ].map { Array($0.utf8) } + [[0xC3, 0x28], [0xFF, 0xFE, 0x00], [0xE2, 0x82]]

    @Test("10,000 mutated messages: each parsed or refused with an error, never a trap; validators and framer too")
    func mutations() {
        var rng = SplitMix64(seed: 0x5EED_0015)
        var parsed = 0, refused = 0
        let validator = SIPRequestValidator()
        var challenger = DigestChallenger(realm: "r", secret: [1, 2, 3])
        for _ in 0..<10_000 {
            var message = Array(Self.seeds[Int(rng.next() % UInt64(Self.seeds.count))].utf8)
            let mutations = 1 + Int(rng.next() % 4)
            for _ in 0..<mutations {
                let position = message.isEmpty ? 0 : Int(rng.next() % UInt64(message.count))
                switch rng.next() % 7 {
                case 0: message = Array(message.prefix(position))                               // truncate
                case 1: if !message.isEmpty { message[position] = UInt8(truncatingIfNeeded: rng.next()) } // flip
                case 2: message.insert(contentsOf: Self.fragments[Int(rng.next() % UInt64(Self.fragments.count))], at: position)
                case 3: if !message.isEmpty { message.remove(at: position) }                    // e.g. a CR
                case 4: message.removeAll { $0 == 0x0D }                                        // LF only
                case 5: message.insert(contentsOf: (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: position)
                default:
                    let digits = Array(String(rng.next()).utf8)
                    if let index = message[position...].firstIndex(where: { $0 >= 0x30 && $0 <= 0x39 }) {
                        message.replaceSubrange(index...index, with: digits)
                    }
                }
            }
            do {
                let result = try SIPMessage.parse(datagram: message)
                parsed += 1
                // Everything typed must answer without trapping too.
                _ = try? result.vias(); _ = try? result.from(); _ = try? result.to(); _ = try? result.contacts()
                _ = try? result.cseq(); _ = try? result.maxForwards(); _ = try? result.sessionExpires()
                _ = try? result.minSE(); _ = try? result.expires(); _ = result.serialized()
                if result.isRequest {
                    _ = validator.validate(request: result)
                    _ = SIPMessage.response(to: result, status: 400, toTag: "x",
                                            receivedFrom: SIPPeer(host: "192.0.2.1", port: 1, transport: .udp))
                    _ = SIPSessionTimer.answer(request: result, now: 0)
                    var table = SIPTransactionTable(tagSeed: "f")
                    _ = table.receive(result, from: SIPPeer(host: "192.0.2.1", port: 1, transport: .udp), now: 0)
                }
                if let uri = result.requestURI { _ = try? SIPURI(parsing: uri) }
            } catch {
                refused += 1
                #expect(!error.description.isEmpty)
                _ = SIPRequestValidator.response(to: error, transport: .tcp)
            }
            var framer = SIPStreamFramer()
            _ = try? framer.append(message)
            _ = challenger.verify(authorization: String(decoding: message.prefix(300), as: UTF8.self),
                                  method: "INVITE", requestURI: "sip:a@b", now: 0) { _ in "p" }
        }
        #expect(parsed + refused == 10_000)
        #expect(parsed > 500 && refused > 500, "the mutations exercise both paths: \(parsed) parsed, \(refused) refused")
    }

    @Test("huge and hostile values are refused with errors")
    func hostileValues() {
        let huge = "INVITE sip:a@b SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
            + String(repeating: "Via: SIP/2.0/UDP h;branch=z9hG4bK1, SIP/2.0/UDP h;branch=z9hG4bK2\r\n", count: 60) + "\r\n"
        #expect(throws: SIPParseError.self) { try SIPMessage.parse(datagram: Array(huge.utf8)) }
        #expect(throws: SIPParseError.self) { try SIPMessage.parse(datagram: [UInt8](repeating: 0x41, count: 20_000)) }
        #expect(throws: SIPParseError.self) { try SIPMessage.parse(datagram: [0, 1, 2, 3, 0x0D, 0x0A, 0x0D, 0x0A]) }
        #expect(throws: SIPParseError.self) { try SIPSessionExpires(parsing: "99999999999") }
        #expect(throws: SIPParseError.self) { try SIPSessionExpires(parsing: "1800;refresher=both") }
        #expect(throws: SIPParseError.self) { try SIPAddress(parsing: "\"unterminated <sip:a@b>") }
        #expect(throws: SIPParseError.self) { try SIPURI(parsing: "sip:" + String(repeating: "a", count: 3000)) }
    }
}
