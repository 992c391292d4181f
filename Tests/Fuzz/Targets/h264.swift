@testable import VideoFormats

/// H.264 payload inspection (RFC 6184 single NAL, STAP-A, FU-A), Annex B splitting and assembly.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzH264(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    do {
        _ = try VideoPacketInfo.inspect(bytes, codec: .h264)
    } catch {
        requireNamed(error, "VideoPacketInfo.inspect(h264)")
    }
    let array = Array(bytes)
    _ = H264.assemble([array])
    let units = H264.nalUnits(annexB: array)
    for unit in units { require(unit.startIndex >= 0 && unit.endIndex <= size, "NAL unit outside the stream") }
    for accessUnit in H264.accessUnits(annexB: array) where !accessUnit.isEmpty && !accessUnit.contains(where: \.isEmpty) {
        _ = H264.isKeyframe(accessUnit: accessUnit)
        let payloads = H264.packetize(accessUnit: accessUnit, maximumPayload: 200)
        for payload in payloads {
            payload.withUnsafeBytes { raw in
                do { _ = try VideoPacketInfo.inspect(raw, codec: .h264) } catch {
                    // Packetized NAL units of a type the bridge does not carry are refused by name; no trap.
                    requireNamed(error, "inspect(packetize(x))")
                }
            }
        }
    }
    _ = try? VideoFile.parseAnnexB(array, framesPerSecond: 30)
    return 0
}
