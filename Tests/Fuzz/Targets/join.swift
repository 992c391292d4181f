import Foundation
@testable import Admission

/// The join messages: one JSON object per line from an unauthenticated peer, and the hex fields in them.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJoin(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let line = text(UnsafeRawBufferPointer(start: data, count: size))
    if let message = JoinProtocol.decode(line) {
        require(message["type"] is String, "a decoded message without a string type")
        // What the listener reads from a hello: the nonce and proof as hex of fixed length.
        for field in ["nonce", "proof", "site", "version"] {
            if let bytes = JoinProtocol.bytes(hex: message[field], length: JoinProtocol.nonceLength) {
                require(bytes.count == JoinProtocol.nonceLength, "hex of the wrong length accepted")
                require(JoinProtocol.hex(bytes) == (message[field] as! String).lowercased(), "hex round trip")
            }
        }
        // What the bridge sends back is itself a message.
        let echoed = JoinProtocol.encode(["type": message["type"] as! String])
        require(JoinProtocol.decode(echoed) != nil, "the bridge's own message does not decode")
    }
    _ = SiteKey.bytes(hex: line)
    return 0
}
