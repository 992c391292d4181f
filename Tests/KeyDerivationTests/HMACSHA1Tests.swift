import Testing
@testable import KeyDerivation

private func hexString(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite("HMAC-SHA-1 (RFC 2202)")
struct HMACSHA1Tests {
    static let cases: [(Int, [UInt8], [UInt8], String)] = [
        (1, [UInt8](repeating: 0x0b, count: 20), Array("Hi There".utf8),
         "b617318655057264e28bc0b6fb378c8ef146be00"),
        (2, Array("Jefe".utf8), Array("what do ya want for nothing?".utf8),
         "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"),
        (3, [UInt8](repeating: 0xaa, count: 20), [UInt8](repeating: 0xdd, count: 50),
         "125d7342b9ac11cd91a39af48aa17b4f63f175d3"),
        (4, (1...25).map { UInt8($0) }, [UInt8](repeating: 0xcd, count: 50),
         "4c9007f4026250c6bc8414f9bf50c86c2d7235da"),
        (5, [UInt8](repeating: 0x0c, count: 20), Array("Test With Truncation".utf8),
         "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04"),
        (6, [UInt8](repeating: 0xaa, count: 80), Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8),
         "aa4ae5e15272d00e95705637ce8a3b55ed402112"),
        (7, [UInt8](repeating: 0xaa, count: 80),
         Array("Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data".utf8),
         "e8e99d0f45237d786d6bbaa7965c7808bbff1a91"),
    ]

    @Test("RFC 2202 test cases 1-7", arguments: cases)
    func rfc2202(number: Int, key: [UInt8], data: [UInt8], expected: String) throws {
        #expect(hexString(try HMACSHA1.authenticationCode(key: key, data: data)) == expected, "test case \(number)")
    }

    @Test("Two parts give the HMAC of their concatenation, at every split point")
    func twoParts() throws {
        let key = Array("Jefe".utf8)
        let data = Array("what do ya want for nothing?".utf8)
        for split in 0...data.count {
            var out = [UInt8](repeating: 0, count: HMACSHA1.outputLength)
            try key.withUnsafeBytes { k in
                try data.withUnsafeBytes { d in
                    try out.withUnsafeMutableBytes { o in
                        try HMACSHA1.authenticationCode(
                            key: k, first: UnsafeRawBufferPointer(rebasing: d[..<split]),
                            second: UnsafeRawBufferPointer(rebasing: d[split...]), into: o)
                    }
                }
            }
            #expect(hexString(out) == "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", "split at \(split)")
        }
    }

    @Test("An empty key equals a zero block key")
    func edges() throws {
        let data = Array("vcbridge".utf8)
        #expect(try HMACSHA1.authenticationCode(key: [], data: data)
                == HMACSHA1.authenticationCode(key: [UInt8](repeating: 0, count: 64), data: data))
        #expect(try HMACSHA1.authenticationCode(key: [1], data: []).count == 20)
    }
}
