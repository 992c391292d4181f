import Testing
@testable import KeyDerivation

private func hex(_ bytes: [UInt8]) -> String {
    bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
}

@Suite("Message digests through NSS (RFC 1321, FIPS 180-4)")
struct MessageDigestTests {
    @Test("MD5 test suite of RFC 1321 §A.5")
    func md5() throws {
        #expect(hex(try MessageDigest.md5([])) == "d41d8cd98f00b204e9800998ecf8427e")
        #expect(hex(try MessageDigest.md5(Array("abc".utf8))) == "900150983cd24fb0d6963f7d28e17f72")
        #expect(hex(try MessageDigest.md5(Array("message digest".utf8))) == "f96b697d7cb7938d525a2f31aaf161d0")
    }

    @Test("SHA-256 of the FIPS 180-4 examples")
    func sha256() throws {
        #expect(hex(try MessageDigest.sha256([])) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(hex(try MessageDigest.sha256(Array("abc".utf8)))
                == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(hex(try MessageDigest.sha256(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
