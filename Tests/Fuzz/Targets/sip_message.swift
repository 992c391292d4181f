@testable import SIP

/// SIP messages from any address (UDP datagram or framed from a stream): a SIPParseError naming the line,
/// or a message that serializes to bytes parsing to the same message (Content-Length aside: serializing sets it to
/// the body's length, as a datagram may omit it); the validator answers it without trapping.
private let validator = SIPRequestValidator()

private func lengthless(_ message: SIPMessage) -> SIPMessage {
    var message = message
    message.headers.removeAll { $0.name.caseInsensitiveEquals("Content-Length") }
    return message
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPMessage(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    for stream in [false, true] {
        do {
            let message = stream ? try SIPMessage.parse(framed: bytes) : try SIPMessage.parse(datagram: bytes)
            let again = try SIPMessage.parse(framed: message.serialized())
            require(lengthless(again) == lengthless(message), "SIP parse(serialize(x)) != x")
            require(again.headers.filter { $0.name.caseInsensitiveEquals("Content-Length") }.map(\.value) == ["\(message.body.count)"],
                    "a serialized message without exactly one right Content-Length")
            if message.isRequest { _ = validator.validate(request: message) }
        } catch {
            requireNamed(error, "SIPMessage")
        }
    }
    return 0
}
