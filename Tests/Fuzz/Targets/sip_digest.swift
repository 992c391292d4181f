@testable import SIP

/// Digest headers from the far end (WWW-Authenticate / Proxy-Authenticate challenges, Authorization parameters):
/// nil or values, never a trap.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPDigest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let header = text(UnsafeRawBufferPointer(start: data, count: size))
    if let challenge = DigestChallenge(parsing: header) {
        require(DigestChallenge(parsing: header) == challenge, "parsing the same header twice differs")
    }
    if let parameters = parseDigestParameters(header) {
        for (name, _) in parameters { require(!name.isEmpty, "an empty digest parameter name") }
    }
    return 0
}
