import Testing
@testable import ICE
import Transport

@Suite("STUN messages: parse, write, refuse malformed input")
struct STUNMessageTests {
    @Test("CRC-32 check value: \"123456789\" is 0xCBF43926; the table agrees with a bitwise CRC")
    func crc32() {
        Array("123456789".utf8).withUnsafeBytes { #expect(CRC32.checksum($0) == 0xCBF4_3926) }
        [UInt8]().withUnsafeBytes { #expect(CRC32.checksum($0) == 0) }
        var generator = SystemRandomNumberGenerator()
        for length in [1, 3, 64, 1000] {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            data.withUnsafeBytes { #expect(CRC32.checksum($0) == bitwiseCRC32(data)) }
        }
    }

    @Test("Message types: method and class interleave as in RFC 5389 §6")
    func messageTypes() {
        #expect(STUNMessageType.bindingRequest.rawValue == 0x0001)
        #expect(STUNMessageType.bindingIndication.rawValue == 0x0011)
        #expect(STUNMessageType.bindingSuccessResponse.rawValue == 0x0101)
        #expect(STUNMessageType.bindingErrorResponse.rawValue == 0x0111)
        for raw in UInt16(0)...0x3FFF { #expect(STUNMessageType(rawValue: raw).rawValue == raw) }
    }

    @Test("Every attribute the writer writes reads back; the result carries FINGERPRINT and integrity")
    func roundTrip() throws {
        let id = randomTransactionID()
        for ip in ["10.1.2.3", "::1", "fe80::1:2:3:4"] {
            let address = try SocketAddress(ip: ip, port: 50_000)
            let bytes = try buildMessage(type: .bindingErrorResponse, transactionID: id) { w in
                try w.appendUsername("ufrag1:peer")
                try w.appendPriority(0xDEAD_BEEF)
                try w.appendUseCandidate()
                try w.appendICEControlling(tieBreaker: 1)
                try w.appendICEControlled(tieBreaker: .max)
                try w.appendXORMappedAddress(address)
                try w.appendErrorCode(487, reason: "Role Conflict")
                try w.appendMessageIntegrity(key: Array("password".utf8))
                try w.appendFingerprint()
            }
            #expect(bytes.count % 4 == 0)
            let m = try parse(bytes)
            #expect(m.type == .bindingErrorResponse && m.transactionID == id && m.byteCount == bytes.count)
            #expect(m.priority == 0xDEAD_BEEF && m.useCandidate && m.iceControlling == 1 && m.iceControlled == .max)
            #expect(m.xorMappedAddress == address)
            #expect(m.errorCode == 487)
            #expect(m.fingerprint == .valid)
            #expect(username(of: m, in: bytes) == "ufrag1:peer")
            #expect(errorReason(of: m, in: bytes) == "Role Conflict")
            #expect(try integrityValid(m, in: bytes, password: "password"))
            #expect(try !integrityValid(m, in: bytes, password: "passwore"))
            #expect(independentFingerprintOK(bytes))
            #expect(try independentIntegrityOK(bytes, password: "password"))
        }
    }

    @Test("Attributes after MESSAGE-INTEGRITY other than FINGERPRINT are ignored; after FINGERPRINT, refused")
    func attributeOrder() throws {
        let id = randomTransactionID()
        let afterIntegrity = try buildMessage(transactionID: id) { w in
            try w.appendUsername("a:b")
            try w.appendMessageIntegrity(key: [1])
            try w.appendPriority(7)
            try w.appendFingerprint()
        }
        let m = try parse(afterIntegrity)
        #expect(m.priority == nil && m.hasMessageIntegrity && m.fingerprint == .valid)

        let afterFingerprint = try buildMessage(transactionID: id) { w in
            try w.appendFingerprint()
            try w.appendPriority(7)
        }
        #expect(throws: STUNError.attributeAfterFingerprint) { try parse(afterFingerprint) }
    }

    @Test("Header errors are named")
    func headerErrors() throws {
        let valid = RFC5769.request
        #expect(throws: STUNError.truncatedHeader) { try parse(Array(valid[0..<19])) }
        var b = valid; b[0] |= 0x80
        #expect(throws: STUNError.notSTUN) { try parse(b) }
        b = valid; b[5] ^= 1
        #expect(throws: STUNError.badMagicCookie) { try parse(b) }
        b = valid; b[3] = 0x57
        #expect(throws: STUNError.lengthNotMultipleOfFour) { try parse(b) }
        b = valid; b[3] = 0x54
        #expect(throws: STUNError.lengthMismatch) { try parse(b) }
        #expect(throws: STUNError.lengthMismatch) { try parse(valid + [0, 0, 0, 0]) }
    }

    @Test("Malformed attributes are named with their type and offset")
    func attributeErrors() throws {
        let id = randomTransactionID()
        func with(_ type: UInt16, _ value: [UInt8]) throws -> [UInt8] {
            try buildMessage(transactionID: id) { w in
                try value.withUnsafeBytes { v in try w.append(attribute: type, value: v) }
            }
        }
        let wrong: [(UInt16, [UInt8])] = [
            (STUNAttribute.priority, [1, 2, 3]),
            (STUNAttribute.useCandidate, [1]),
            (STUNAttribute.iceControlling, [1, 2, 3, 4]),
            (STUNAttribute.iceControlled, [UInt8](repeating: 0, count: 9)),
            (STUNAttribute.messageIntegrity, [UInt8](repeating: 0, count: 32)),
            (STUNAttribute.fingerprint, [0, 0]),
            (STUNAttribute.username, [UInt8](repeating: 0x61, count: 514)),
            (STUNAttribute.xorMappedAddress, [0, 1, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8]),  // IPv4 family, IPv6 size
            (STUNAttribute.xorMappedAddress, [0, 3, 0, 0, 1, 2, 3, 4]),  // no such family
            (STUNAttribute.errorCode, [0, 0, 2, 0]),  // class 2
            (STUNAttribute.errorCode, [0, 0, 4, 100]),  // number 100
        ]
        for (type, value) in wrong {
            let bytes = try with(type, value)
            let error = #expect(throws: STUNError.malformedAttribute) { try parse(bytes) }
            #expect(error?.attribute == type && error?.offset == 20, "\(STUNAttribute.name(of: type))")
        }
        // An attribute whose length runs past the end.
        var bytes = try with(STUNAttribute.software, Array("abcd".utf8))
        bytes[23] = 5
        #expect(throws: STUNError.truncatedAttribute) { try parse(bytes) }
        // Unknown attributes, comprehension-required or not, are skipped.
        #expect(throws: Never.self) { try parse(try with(0x7777, [1, 2, 3])) }
        #expect(throws: Never.self) { try parse(try with(0xC001, [])) }
    }

    @Test("The writer refuses what does not fit and leaves the message as it was")
    func writerLimits() throws {
        var buffer = [UInt8](repeating: 0, count: 40)
        try buffer.withUnsafeMutableBytes { raw in
            #expect(throws: STUNError.bufferTooSmall) {
                _ = try STUNMessageWriter(into: UnsafeMutableRawBufferPointer(rebasing: raw[0..<19]), type: .bindingRequest,
                                          transactionID: randomTransactionID())
            }
            var w = try STUNMessageWriter(into: raw, type: .bindingRequest, transactionID: randomTransactionID())
            try w.appendPriority(1)  // 28
            #expect(throws: STUNError.bufferTooSmall) { try w.appendMessageIntegrity(key: [1]) }
            #expect(w.byteCount == 28)
            #expect(throws: STUNError.valueTooLong) { try w.appendUsername(String(repeating: "x", count: 514)) }
            try w.appendFingerprint()  // 36
            #expect(w.byteCount == 36)
        }
        #expect(try parse(Array(buffer[0..<36])).fingerprint == .valid)
    }

    @Test("Truncations of valid messages at every length and random bytes of every length 0-100 never trap")
    func garbageNeverTraps() throws {
        let samples = [RFC5769.request, RFC5769.ipv4Response, RFC5769.ipv6Response]
        var session = try rfcSession()
        let source = try SocketAddress(ip: "192.0.2.1", port: 1)
        for sample in samples {
            for length in 0..<sample.count {
                let cut = Array(sample[0..<length])
                #expect(throws: STUNError.self) { try parse(cut) }
                let (result, response) = session.check(cut, from: source, now: 0)
                #expect(response.isEmpty, "\(result)")
                cut.withUnsafeBytes { _ = ICELiteSession.localUfrag(inRequest: $0) }
            }
        }
        // Random bytes, and random bytes behind a valid header with a consistent length (so the attribute walk runs).
        var generator = SystemRandomNumberGenerator()
        for round in 0..<50 {
            for length in 0...100 {
                var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                if round % 2 == 1, length >= 20 {
                    let body = (length - 20) & ~3
                    bytes = Array(bytes[0..<(20 + body)])
                    bytes[0] = 0; bytes[1] = 1
                    bytes[2] = UInt8(body >> 8); bytes[3] = UInt8(body & 0xFF)
                    bytes[4] = 0x21; bytes[5] = 0x12; bytes[6] = 0xA4; bytes[7] = 0x42
                }
                _ = try? parse(bytes)
                let (_, response) = session.check(bytes, from: source, now: 0)
                #expect(response.isEmpty)
                bytes.withUnsafeBytes { _ = ICELiteSession.localUfrag(inRequest: $0) }
            }
        }
        #expect(session.validChecks == 0)
    }
}
