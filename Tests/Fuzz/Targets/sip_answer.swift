@testable import SDP

/// A room system's SIP offer answered (SDES-SRTP or plain RTP by policy): a SIPSDPError (488), or an answer
/// that is valid SDP and that the bridge's own offerer-side check reads back.
private let bridge = try! SIPBridgeParameters(
    address: "203.0.113.7", audioPort: 30_000, videoPort: 30_002,
    audioKey: SDESKey(keySalt: Array(repeating: 7, count: 30)), videoKey: SDESKey(keySalt: Array(repeating: 9, count: 30)),
    sessionID: 5, sessionVersion: 1)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSIPAnswer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let offer = try? SessionDescription(parsing: Array(UnsafeRawBufferPointer(start: data, count: size))) else { return 0 }
    for policy in [SIPMediaPolicy(), SIPMediaPolicy(allowsPlainRTP: true, offersAVPF: true)] {
        do {
            let answer = try SIPAnswerer.answer(to: offer, bridge: bridge, policy: policy)
            do { _ = try SessionDescription(parsing: answer.text) } catch {
                fatalError("contract broken: the bridge's SIP answer does not parse: \(error)\n\(answer.text)")
            }
            // A re-INVITE with the same offer keeps what was agreed.
            _ = try SIPAnswerer.answer(to: offer, bridge: bridge, policy: policy, current: answer.negotiation)
        } catch {
            requireNamed(error, "SIPAnswerer")
        }
    }
    return 0
}
