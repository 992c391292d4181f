@testable import RTP

/// RTP packets and their RFC 8285 header extensions, as the media thread parses them in place, and the
/// owned RTPPacket: parse never traps; ranges stay inside the buffer; parse(serialize(x)) == x.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzRTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    do {
        let header = try RTPHeader(parsing: bytes)
        require(header.payloadRange.upperBound + header.paddingLength == size, "payload and padding do not end the packet")
        require(header.extensionRange.upperBound <= header.payloadRange.lowerBound, "extension overlaps the payload")
        require(header.csrcCount <= 15 && header.payloadType < 128, "fields out of range")
        for index in 0..<header.csrcCount { _ = header.csrc(index, in: bytes) }
        for element in header.extensionElements(in: bytes) {
            require(element.range.lowerBound >= header.extensionRange.lowerBound
                        && element.range.upperBound <= header.extensionRange.upperBound, "element outside the extension")
        }
        for id in UInt8(0)...15 { _ = header.audioLevel(id: id, in: bytes) }
    } catch {
        requireNamed(error, "RTPHeader")
    }
    let array = Array(bytes)
    do {
        let packet = try RTPPacket(parsing: array)
        let again = try RTPPacket(parsing: try packet.serialized())
        require(again == packet, "RTPPacket parse(serialize(x)) != x")
    } catch {
        requireNamed(error, "RTPPacket")
    }
    return 0
}
