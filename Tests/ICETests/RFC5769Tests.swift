import Testing
@testable import ICE
import Transport

/// RFC 5769 test vectors (the bytes of §2.1-§2.3, as printed in the RFC).
enum RFC5769 {
    static let password = "VOkJxbRl1RmTxUk/WvJxBt"

    /// §2.1 Sample request: SOFTWARE, PRIORITY, ICE-CONTROLLED, USERNAME "evtj:h6vY", MESSAGE-INTEGRITY, FINGERPRINT.
    static let request = hexBytes("""
        00 01 00 58 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 10 53 54 55 4e 20 74 65 73 74 20 63 6c 69 65 6e 74
        00 24 00 04 6e 00 01 ff
        80 29 00 08 93 2f f9 b1 51 26 3b 36
        00 06 00 09 65 76 74 6a 3a 68 36 76 59 20 20 20
        00 08 00 14 9a ea a7 0c bf d8 cb 56 78 1e f2 b5 b2 d3 f2 49 c1 b5 71 a2
        80 28 00 04 e5 7a 3b cf
        """)

    /// §2.2 Sample IPv4 response: SOFTWARE "test vector", XOR-MAPPED-ADDRESS 192.0.2.1:32853, MESSAGE-INTEGRITY, FINGERPRINT.
    static let ipv4Response = hexBytes("""
        01 01 00 3c 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 08 00 01 a1 47 e1 12 a6 43
        00 08 00 14 2b 91 f5 99 fd 9e 90 c3 8c 74 89 f9 2a f9 ba 53 f0 6b e7 d7
        80 28 00 04 c0 7d 4c 96
        """)

    /// §2.3 Sample IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853.
    static let ipv6Response = hexBytes("""
        01 01 00 48 21 12 a4 42 b7 e7 a7 01 bc 34 d6 86 fa 87 df ae
        80 22 00 0b 74 65 73 74 20 76 65 63 74 6f 72 20
        00 20 00 14 00 02 a1 47 01 13 a9 fa a5 d3 f1 79 bc 25 f4 b5 be d2 b9 d9
        00 08 00 14 a3 82 95 4e 4b e6 7b f1 17 84 c9 7c 82 92 c2 75 bf e3 ed 41
        80 28 00 04 c8 fb 0b 4c
        """)

    static let transactionID = STUNTransactionID(hexBytes("b7 e7 a7 01 bc 34 d6 86 fa 87 df ae"))
}

@Suite("RFC 5769 test vectors")
struct RFC5769Tests {
    @Test("§2.1: the sample request parses, its FINGERPRINT and MESSAGE-INTEGRITY verify")
    func sampleRequest() throws {
        let bytes = RFC5769.request
        let message = try parse(bytes)
        #expect(message.type == .bindingRequest)
        #expect(message.transactionID == RFC5769.transactionID)
        #expect(message.byteCount == 108)
        #expect(message.priority == 0x6e00_01ff)
        #expect(message.iceControlled == 0x932f_f9b1_5126_3b36)
        #expect(message.iceControlling == nil)
        #expect(!message.useCandidate)
        #expect(message.fingerprint == .valid)
        #expect(username(of: message, in: bytes) == "evtj:h6vY")
        #expect(try integrityValid(message, in: bytes, password: RFC5769.password))
        #expect(try !integrityValid(message, in: bytes, password: "VOkJxbRl1RmTxUk/WvJxBT"))
    }

    @Test("§2.1: the sample request is a valid check for a session with those credentials")
    func sampleRequestPassesTheSession() throws {
        var session = try rfcSession()
        let source = try SocketAddress(ip: "192.0.2.1", port: 32853)
        let (result, response) = session.check(RFC5769.request, from: source, now: 1)
        guard case .respond(let answer) = result else {
            Issue.record("refused: \(result)")
            return
        }
        #expect(answer.byteCount == 64)
        #expect(answer.isSelected && answer.selectionChanged && !answer.isNominated)
        #expect(session.selectedAddress == source)
        // The answer reads back (independently) with the same transaction id and the sender's address.
        let reply = try parse(response)
        #expect(reply.type == .bindingSuccessResponse)
        #expect(reply.transactionID == RFC5769.transactionID)
        #expect(reply.xorMappedAddress == source)
        #expect(independentFingerprintOK(response))
        #expect(try independentIntegrityOK(response, password: RFC5769.password))
    }

    @Test("§2.2: IPv4 response: XOR-MAPPED-ADDRESS 192.0.2.1:32853, FINGERPRINT, MESSAGE-INTEGRITY")
    func ipv4Response() throws {
        let message = try parse(RFC5769.ipv4Response)
        #expect(message.type == .bindingSuccessResponse)
        #expect(message.xorMappedAddress == (try SocketAddress(ip: "192.0.2.1", port: 32853)))
        #expect(message.fingerprint == .valid)
        #expect(try integrityValid(message, in: RFC5769.ipv4Response, password: RFC5769.password))
    }

    @Test("§2.3: IPv6 response: XOR-MAPPED-ADDRESS [2001:db8:1234:5678:11:2233:4455:6677]:32853")
    func ipv6Response() throws {
        let message = try parse(RFC5769.ipv6Response)
        #expect(message.xorMappedAddress == (try SocketAddress(ip: "2001:db8:1234:5678:11:2233:4455:6677", port: 32853)))
        #expect(message.fingerprint == .valid)
        #expect(try integrityValid(message, in: RFC5769.ipv6Response, password: RFC5769.password))
    }

    @Test("The writer reproduces the §2.2 and §2.3 responses byte for byte", arguments: [
        ("192.0.2.1", RFC5769.ipv4Response), ("2001:db8:1234:5678:11:2233:4455:6677", RFC5769.ipv6Response),
    ])
    func writerReproducesResponses(ip: String, expected: [UInt8]) throws {
        let address = try SocketAddress(ip: ip, port: 32853)
        let built = try buildMessage(type: .bindingSuccessResponse, transactionID: RFC5769.transactionID) {
            w in
            try Array("test vector".utf8).withUnsafeBytes { v in
                try w.append(attribute: STUNAttribute.software, value: v, padding: 0x20)
            }
            try w.appendXORMappedAddress(address)
            try w.appendMessageIntegrity(key: Array(RFC5769.password.utf8))
            try w.appendFingerprint()
        }
        #expect(built == expected)
    }

    @Test("A flipped bit anywhere in the sample request breaks its FINGERPRINT or the message")
    func everyBitFlipIsDetected() throws {
        var session = try rfcSession()
        let source = try SocketAddress(ip: "192.0.2.1", port: 32853)
        for index in RFC5769.request.indices {
            for bit in 0..<8 {
                var bytes = RFC5769.request
                bytes[index] ^= 1 << bit
                let (result, response) = session.check(bytes, from: source, now: 1)
                #expect(response.isEmpty, "byte \(index) bit \(bit): \(result)")
            }
        }
        #expect(session.validChecks == 0)
        #expect(session.selectedAddress == nil)
        #expect(session.totalRefusals == RFC5769.request.count * 8)
    }
}
