@testable import SIP

/// TCP/TLS bytes cut into SIP messages, in arbitrary chunks: the same messages however the bytes are split,
/// a typed error for a stream that cannot be framed, and a buffer that stays within its limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPFramer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    let chunk = Int(bytes[0] % 61) + 1
    var whole = SIPStreamFramer()
    var pieces = SIPStreamFramer()
    let wholeResult = Result { () throws(SIPParseError) in try whole.append(bytes.dropFirst()) }
    var messages: [SIPMessage] = []
    var failed = false
    var offset = 1
    while offset < size {
        let end = min(size, offset + chunk)
        do { messages += try pieces.append(bytes[offset..<end]) } catch { requireNamed(error, "SIPStreamFramer"); failed = true; break }
        require(pieces.bufferedCount <= pieces.limits.maxMessageBytes + chunk, "framer buffer over its limit")
        offset = end
    }
    if case .success(let all) = wholeResult, !failed {
        require(all == messages, "framing depends on how the bytes were split")
    }
    return 0
}
