@testable import Bridge

/// The control socket's request lines (16 KiB at most, as the socket reads them): nil for anything that is not
/// one JSON object, else one of the commands or `.unknown`; reading the same line twice gives the same request.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzControl(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size <= 16 * 1024 else { return 0 }
    let line = text(UnsafeRawBufferPointer(start: data, count: size))
    let request = ControlRequest(line: line)
    require(ControlRequest(line: line) == request, "the same line read twice differs")
    if case let .end(_, reason) = request { require(!reason.isEmpty || line.contains("\"reason\""), "an end without reason") }
    return 0
}
