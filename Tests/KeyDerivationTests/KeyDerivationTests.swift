import Testing
@testable import KeyDerivation

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

private func bytes(_ hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = hex.makeIterator()
    while let a = chars.next(), let b = chars.next() { out.append(UInt8(String([a, b]), radix: 16)!) }
    return out
}

private func range(_ r: ClosedRange<Int>) -> [UInt8] { r.map { UInt8($0) } }

@Suite("HMAC-SHA-256 (RFC 4231)")
struct HMACTests {
    static let cases: [(Int, [UInt8], [UInt8], String)] = [
        (1, [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
         "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
        (2, Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
        (3, [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
         "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe"),
        (4, range(1...25), [UInt8](repeating: 0xcd, count: 50),
         "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b"),
        (6, [UInt8](repeating: 0xaa, count: 131), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54"),
        (7, [UInt8](repeating: 0xaa, count: 131),
         Array(("This is a test using a larger than block-size key and a larger than block-size data. "
             + "The key needs to be hashed before being used by the HMAC algorithm.").utf8),
         "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2"),
    ]

    @Test("RFC 4231 test cases 1-4 and 6-7", arguments: cases)
    func rfc4231(number: Int, key: [UInt8], data: [UInt8], expected: String) throws {
        #expect(hex(try HMACSHA256.authenticationCode(key: key, data: data)) == expected, "test case \(number)")
    }

    @Test func emptyKeyEqualsAZeroBlockKey() throws {
        // HMAC pads keys with zeros to 64 bytes, so these must agree.
        let data = Array("vcbridge".utf8)
        #expect(try HMACSHA256.authenticationCode(key: [], data: data)
                == HMACSHA256.authenticationCode(key: [UInt8](repeating: 0, count: 64), data: data))
        #expect(try HMACSHA256.authenticationCode(key: [1], data: []).count == 32)
    }

    @Test func constantTimeComparisonAnswersRightly() {
        #expect(HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(HMACSHA256.constantTimeEqual([UInt8](), [UInt8]()))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [0x81, 2, 3]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(!HMACSHA256.constantTimeEqual([1, 2], [1, 2, 3]))
        #expect(!HMACSHA256.constantTimeEqual([UInt8](), [0]))
    }

    /// What the comparison reads does not depend on where (or whether) the MACs differ: a timing
    /// attacker learns nothing about how many leading bytes of a forged proof were right. Checked by
    /// recording every byte read instead of timing (which would be flaky on a loaded machine): an
    /// early-exit comparison reads fewer bytes when the first difference comes sooner, and fails here.
    @Test func constantTimeComparisonReadsEveryByteWhereverTheFirstDifferenceIs() throws {
        let expected = try HMACSHA256.authenticationCode(key: Array("site key".utf8), data: Array("nonces".utf8))
        var candidates: [(String, [UInt8])] = [("equal", expected), ("all different", expected.map { ~$0 })]
        for position in expected.indices {
            var forged = expected
            forged[position] ^= 0x01
            candidates.append(("first difference at byte \(position)", forged))
        }
        for (name, candidate) in candidates {
            let a = ReadRecorder(expected)
            let b = ReadRecorder(candidate)
            let equal = HMACSHA256.constantTimeEqual(a, b)
            #expect(equal == (candidate == expected), "\(name)")
            #expect(a.log.reads == Array(expected.indices), "\(name): read \(a.log.reads.count) of 32 bytes of the expected MAC")
            #expect(b.log.reads == Array(expected.indices), "\(name): read \(b.log.reads.count) of 32 bytes of the offered MAC")
        }
        // A MAC's length is public: a wrong length is refused without reading either, whatever the contents.
        for (x, y) in [([1, 2, 3], [1, 2]), ([9, 9, 9], [1, 2]), ([1, 2], [1, 2, 3])] as [([UInt8], [UInt8])] {
            let a = ReadRecorder(x)
            let b = ReadRecorder(y)
            #expect(!HMACSHA256.constantTimeEqual(a, b))
            #expect(a.log.reads.isEmpty && b.log.reads.isEmpty, "\(x) vs \(y): read \(a.log.reads) and \(b.log.reads)")
        }
    }
}

/// Bytes that record which positions were read (through the subscript, which iteration also uses).
private struct ReadRecorder: RandomAccessCollection {
    final class Log { var reads: [Int] = [] }
    let bytes: [UInt8]
    let log = Log()

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var startIndex: Int { bytes.startIndex }
    var endIndex: Int { bytes.endIndex }
    subscript(position: Int) -> UInt8 {
        log.reads.append(position)
        return bytes[position]
    }
}

@Suite("HKDF-SHA-256 (RFC 5869)")
struct HKDFTests {
    static let cases: [(Int, [UInt8], [UInt8], [UInt8], Int, String, String)] = [
        (1, [UInt8](repeating: 0x0b, count: 22), range(0x00...0x0c), range(0xf0...0xf9), 42,
         "077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5",
         "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"),
        (2, range(0x00...0x4f), range(0x60...0xaf), range(0xb0...0xff), 82,
         "06a6b88c5853361a06104c9ceb35b45cef760014904671014a193f40c15fc244",
         "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87"),
        (3, [UInt8](repeating: 0x0b, count: 22), [], [], 42,
         "19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04",
         "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8"),
    ]

    @Test("RFC 5869 test cases 1-3", arguments: cases)
    func rfc5869(number: Int, ikm: [UInt8], salt: [UInt8], info: [UInt8], length: Int, prk: String, okm: String) throws {
        let derivedPRK = try HKDF.extract(salt: salt, inputKeyMaterial: ikm)
        #expect(hex(derivedPRK) == prk, "test case \(number) PRK")
        #expect(hex(try HKDF.expand(pseudoRandomKey: derivedPRK, info: info, length: length)) == okm, "test case \(number) OKM")
        #expect(hex(try HKDF.deriveKey(inputKeyMaterial: ikm, salt: salt, info: info, length: length)) == okm)
    }

    @Test func outputLengthIsBounded() throws {
        #expect(try HKDF.expand(pseudoRandomKey: bytes("00"), info: [], length: 255 * 32).count == 8160)
        #expect(throws: KeyDerivationError.outputTooLong) {
            try HKDF.expand(pseudoRandomKey: bytes("00"), info: [], length: 255 * 32 + 1)
        }
        #expect(try HKDF.expand(pseudoRandomKey: bytes("00"), info: [], length: 0).isEmpty)
    }

    @Test func differentInfoGivesIndependentKeys() throws {
        let secret = [UInt8](repeating: 7, count: 32)
        let a = try HKDF.deriveKey(inputKeyMaterial: secret, salt: [1], info: Array("bridge->site".utf8), length: 30)
        let b = try HKDF.deriveKey(inputKeyMaterial: secret, salt: [1], info: Array("site->bridge".utf8), length: 30)
        #expect(a != b)
    }
}

@Suite("System random source")
struct SecureRandomTests {
    @Test func drawsHaveTheRequestedSizeAndDiffer() throws {
        #expect(try SecureRandom.bytes(0).isEmpty)
        let draws = try (0..<50).map { _ in try SecureRandom.bytes(16) }
        #expect(Set(draws.map(hex)).count == 50)
        // A megabyte of output uses every byte value (a stuck or truncated source would not).
        let large = try SecureRandom.bytes(1 << 20)
        #expect(Set(large).count == 256)
        let ones = large.reduce(0) { $0 + $1.nonzeroBitCount }
        #expect(abs(Double(ones) / Double(large.count * 8) - 0.5) < 0.01)
    }
}
