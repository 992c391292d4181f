@testable import RTP

/// RTCP compound packets (SR, RR, SDES, BYE, APP, NACK, PLI, FIR): a typed error or packets that serialize
/// and parse back to themselves.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTCP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    do {
        let packets = try RTCPCompound.parse(bytes)
        require(!packets.isEmpty, "a compound parsed to no packets")
        let again = try RTCPCompound.parse(try RTCPCompound.serialize(packets))
        require(again == packets, "RTCP parse(serialize(x)) != x")
    } catch {
        requireNamed(error, "RTCPCompound")
    }
    return 0
}
