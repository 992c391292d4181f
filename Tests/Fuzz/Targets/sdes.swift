@testable import SDP

/// RFC 4568 a=crypto values: a named SDESCryptoError (never showing key bytes), or a line that writes back
/// to a value parsing to the same suite, tag and key.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSDES(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let value = text(UnsafeRawBufferPointer(start: data, count: size))
    do {
        let crypto = try SDESCrypto.parse(value)
        let again = try SDESCrypto.parse(crypto.attributeValue)
        require(again.tag == crypto.tag && again.suite == crypto.suite && again.key.keySalt == crypto.key.keySalt,
                "SDES parse(write(x)) != x")
    } catch {
        requireNamed(error, "SDESCrypto")
    }
    _ = Base64.decode(Substring(value))
    return 0
}
