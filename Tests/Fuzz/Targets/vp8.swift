@testable import VideoFormats

/// VP8 payload inspection (RFC 7741 descriptor) and frame assembly: a typed error or a result inside the payload.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzVP8(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    do {
        let descriptor = try VP8.descriptor(bytes)
        require(descriptor.length >= 1 && descriptor.length <= size, "descriptor length \(descriptor.length) of \(size)")
    } catch {
        requireNamed(error, "VP8.descriptor")
    }
    do {
        _ = try VideoPacketInfo.inspect(bytes, codec: .vp8)
    } catch {
        requireNamed(error, "VideoPacketInfo.inspect(vp8)")
    }
    // Packets made from any frame assemble back to it.
    let frame = Array(bytes)
    if !frame.isEmpty {
        let payloads = VP8.packetize(frame: frame, pictureID: UInt16(size & 0x7FFF), maximumPayload: 64)
        require(VP8.assemble(payloads) == frame, "VP8 assemble(packetize(x)) != x")
    }
    _ = VP8.assemble([frame])
    _ = try? VideoFile.parseIVF(frame)
    return 0
}
