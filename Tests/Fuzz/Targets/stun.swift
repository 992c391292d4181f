@testable import ICE

/// STUN (RFC 5389) from any address on the media port: a typed error or a message whose ranges and
/// checks stay inside the datagram; integrity checked against a key never traps.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSTUN(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    _ = MediaDatagramKind(classifying: bytes)
    do {
        let message = try STUNMessage(parsing: bytes)
        require(message.byteCount == size, "a message that is not the whole datagram")
        _ = message.username(in: bytes)
        _ = message.errorReason(in: bytes)
        do { _ = try message.isIntegrityValid(in: bytes, key: Array("Vq3s9LkP2wXz7TmN4bYc6Rd+".utf8)) } catch {
            requireNamed(error, "isIntegrityValid")
        }
    } catch {
        requireNamed(error, "STUNMessage")
    }
    return 0
}
