@testable import RTP

/// The media thread's in-place RTCP reader: a typed error or a reading; nothing is handed to the closures
/// of a compound that does not validate; whatever the general parser accepts, it accepts too.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTCPFastPath(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    let ssrc: UInt32 = size >= 12 ? bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).bigEndian : 0
    var delivered = 0
    let fast: Result<RTCPFastPath.Reading, PacketError>
    do throws(PacketError) {
        fast = .success(try RTCPFastPath.read(bytes, blockAbout: ssrc, feedback: { _ in delivered += 1 },
                                              reportBlock: { _ in delivered += 1 }))
    } catch {
        fast = .failure(error)
        require(delivered == 0, "a compound that did not validate had \(delivered) items delivered")
    }
    if case .success(let reading) = fast, let block = reading.block {
        require(block.ssrc == ssrc, "the block read is about another SSRC")
    }
    if (try? RTCPCompound.parse(bytes)) != nil, case .failure(let error) = fast {
        fatalError("contract broken: RTCPCompound accepts what RTCPFastPath refuses (\(error))")
    }
    return 0
}
