@testable import SIP

/// RFC 5168 media_control XML bodies in INFO requests: a SIPMediaControlError naming what and where, or a reading.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPMediaControl(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let body = Array(UnsafeRawBufferPointer(start: data, count: size))
    do {
        let control = try SIPMediaControl(parsing: body)
        require(control.pictureFastUpdates >= 0, "a negative count")
    } catch {
        requireNamed(error, "SIPMediaControl")
    }
    return 0
}
