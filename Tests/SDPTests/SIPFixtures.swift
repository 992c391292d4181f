import Foundation
@testable import SDP

/// The SIP offers in `Fixtures/` (see `Fixtures/SIP-FIXTURES.md`: baresip's were captured from a real baresip,
/// the room systems' written in their vendors' shapes).
enum SIPFixture: String, CaseIterable, CustomStringConvertible {
    case baresipSRTPMandatory = "baresip-1.0.0-srtp-mand-offer"
    case baresipSRTPBestEffort = "baresip-1.0.0-srtp-offer"
    case poly = "roomsystem-poly-style-offer"
    case cisco = "roomsystem-cisco-style-offer"
    case offerSentToBaresip = "vcbridge-offer-sent-to-baresip"
    case baresipAnswer = "baresip-1.0.0-answer-to-vcbridge-offer"

    var description: String { rawValue }

    /// The file's text as stored (CRLF line ends).
    var text: String { fixtureText(rawValue) }
}

/// The bridge side of the SIP tests: fixed keys (the SIP layer makes random ones) so answers are known text.
enum SIPBridge {
    static let audioKeyBytes = (0..<30).map { UInt8($0) }
    static let videoKeyBytes = (100..<130).map { UInt8($0) }
    /// The same bytes in base64, computed outside this code (Python's base64 module).
    static let audioKeyText = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd"
    static let videoKeyText = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CB"

    static func parameters(address: String = "203.0.113.7", videoPort: UInt16? = 30_002, h264MaxLevel: UInt8 = 0x1F,
                           sessionVersion: UInt64 = 1) throws -> SIPBridgeParameters {
        try SIPBridgeParameters(address: address, audioPort: 30_000, videoPort: videoPort,
                                audioKey: SDESKey(keySalt: audioKeyBytes), videoKey: SDESKey(keySalt: videoKeyBytes),
                                h264MaxLevel: h264MaxLevel, sessionID: 9_000_000_001, sessionVersion: sessionVersion)
    }

    static func answer(_ text: String, policy: SIPMediaPolicy = SIPMediaPolicy(), videoPort: UInt16? = 30_002,
                       h264MaxLevel: UInt8 = 0x1F, current: SIPNegotiation? = nil) throws -> SIPAnswer {
        try SIPAnswerer.answer(to: SessionDescription(parsing: text),
                               bridge: parameters(videoPort: videoPort, h264MaxLevel: h264MaxLevel),
                               policy: policy, current: current)
    }

    /// The SDP lines of `text`, without the empty string after the last CRLF.
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\r\n").map(String.init)
    }
}
