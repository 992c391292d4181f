@testable import SDP

/// A browser's offer answered by the bridge: a WebRTCOfferError, or an answer that is itself valid SDP.
private let bridge = try! WebRTCBridgeParameters(
    ice: ICECredentials(ufrag: "vcbR", pwd: "Vq3s9LkP2wXz7TmN4bYc6Rd+"),
    fingerprint: .sha256((0..<32).map { UInt8($0 * 7 & 0xFF) }), address: "203.0.113.7", port: 40_000,
    audio: OutgoingStream(ssrc: 0x1111_0001, cname: "vcbridge", streamID: "vcbridge-mix", trackID: "mix"),
    presenter: OutgoingStream(ssrc: 0x1111_0002, cname: "vcbridge", streamID: "vcbridge-video", trackID: "presenter"),
    speaker: OutgoingStream(ssrc: 0x1111_0003, cname: "vcbridge", streamID: "vcbridge-video", trackID: "speaker"),
    sessionID: 8_000_000_001, sessionVersion: 1)

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzWebRTCAnswer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard let offer = try? SessionDescription(parsing: Array(UnsafeRawBufferPointer(start: data, count: size))) else { return 0 }
    do {
        let answer = try WebRTCAnswerer.answer(to: offer, bridge: bridge)
        do { _ = try SessionDescription(parsing: answer.text) } catch {
            fatalError("contract broken: the bridge's answer does not parse: \(error)\n\(answer.text)")
        }
    } catch {
        requireNamed(error, "WebRTCAnswerer")
    }
    return 0
}
