@testable import SDP

/// SDP (RFC 8866) from any browser or room system: a typed error naming the line, or a description whose
/// text parses back to the same description.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSDP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    do {
        let description = try SessionDescription(parsing: bytes)
        let again = try SessionDescription(parsing: description.text)
        require(again == description, "SDP parse(text(x)) != x")
        _ = description.bundleGroup
        _ = description.isICELite
    } catch {
        requireNamed(error, "SessionDescription")
    }
    return 0
}
