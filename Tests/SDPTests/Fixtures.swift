import Foundation
@testable import SDP

/// The text of `Fixtures/NAME.sdp`, as stored (CRLF line ends).
func fixtureText(_ name: String) -> String {
    let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name).sdp")
    guard let data = try? Data(contentsOf: url) else { fatalError("missing fixture \(url.path)") }
    return String(decoding: data, as: UTF8.self)
}

/// The offers in `Fixtures/`, written in the shape Chromium (120, 156), aiortc 1.x and Firefox produce them
/// (three transceivers: sendrecv audio, sendrecv video, recvonly video).
enum Fixture: String, CaseIterable, CustomStringConvertible {
    case chromium120 = "chromium-120-offer"
    case chromium156 = "chromium-156-offer"
    case aiortc = "aiortc-1-offer"
    case firefox = "firefox-offer"

    var description: String { rawValue }

    /// The file's text as stored (CRLF line ends).
    var text: String { fixtureText(rawValue) }

    var offer: SessionDescription {
        get throws { try SessionDescription(parsing: text) }
    }
}

/// The bridge side used by the answer tests.
enum Bridge {
    static let fingerprint = Fingerprint.sha256((0..<32).map { UInt8($0 * 7 & 0xFF) })
    static let ice = ICECredentials(ufrag: "vcbR", pwd: "Vq3s9LkP2wXz7TmN4bYc6Rd+")
    static let audio = OutgoingStream(ssrc: 0x1111_0001, cname: "vcbridge", streamID: "vcbridge-mix", trackID: "mix")
    static let presenter = OutgoingStream(ssrc: 0x1111_0002, cname: "vcbridge", streamID: "vcbridge-video",
                                          trackID: "presenter")
    static let speaker = OutgoingStream(ssrc: 0x1111_0003, cname: "vcbridge", streamID: "vcbridge-video",
                                        trackID: "speaker")

    static func parameters(address: String = "203.0.113.7", port: UInt16 = 40_000) throws -> WebRTCBridgeParameters {
        try WebRTCBridgeParameters(ice: ice, fingerprint: fingerprint, address: address, port: port, audio: audio,
                                   presenter: presenter, speaker: speaker, sessionID: 8_000_000_001, sessionVersion: 1)
    }
}

/// Text edits on a fixture, for offers that differ from a real one in one respect.
extension String {
    /// The text with every line for which `drop` is true removed (CRLF kept).
    func droppingLines(where drop: (Substring) -> Bool) -> String {
        split(separator: "\r\n", omittingEmptySubsequences: false).filter { !drop($0) }.joined(separator: "\r\n")
    }

    /// The text with each line equal to `old` replaced by `new`.
    func replacingLines(_ old: String, with new: String) -> String {
        split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { $0 == old ? new[...] : $0 }.joined(separator: "\r\n")
    }

    /// The text with each line starting with `prefix` given to `transform`.
    func mappingLines(withPrefix prefix: String, _ transform: (Substring) -> String) -> String {
        split(separator: "\r\n", omittingEmptySubsequences: false)
            .map { $0.hasPrefix(prefix) ? transform($0)[...] : $0 }.joined(separator: "\r\n")
    }
}
