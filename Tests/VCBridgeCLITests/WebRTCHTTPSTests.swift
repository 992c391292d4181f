import AudioSignal
import Foundation
import Testing
@testable import VCBridgeCLI

/// aiortc joins over HTTPS, as a browser off loopback must: it pins the certificate the bridge logged, and the
/// DTLS fingerprint in the bridge's answer is that same certificate's.
@Suite("WebRTC: aiortc joins over HTTPS", .serialized)
struct WebRTCHTTPSTests {
    static let withHTTPS = #"{"httpEnabled": true, "httpAddress": "127.0.0.1", "httpPort": 0, "httpTLS": "on"}"#

    @Test func aiortcJoinsOverHTTPSWithThePinnedCertificateAndHearsTheMeeting() throws {
        let bridge = try RunningBridge(quality: Self.withHTTPS)
        let fields = bridge.httpsFields
        let address = try #require(fields["address"], "\(bridge.logText)")
        let pinned = try #require(fields["fingerprint"])
        let commune = try bridge.endpoint("tam-son", ["--tone", "440", "--duration", "12s"])
        let heard = bridge.dataDirectory + "/aiortc-heard.wav"
        let tone = try toneFile(880, seconds: 3, into: bridge.dataDirectory)
        let site = try AiortcSite.run(["--bridge", "https://" + address, "--fingerprint", pinned, "--key-file", bridge.keyPath("lang-cong"),
                                       "--send", tone, "--record", heard, "--seconds", "8"])
        #expect(site.status == 0, "\(site.output)")
        #expect(site.report["state"] as? String == "connected", "\(site.output)")
        #expect(site.report["left"] as? Bool == true)
        #expect(site.report["bridgeFingerprint"] as? String == pinned)
        _ = bridge.finish(commune)
        let aiortcHeard = try WAVFile.read(heard)
        #expect(Tone.dominant(among: [440, 880], in: aiortcHeard[(48_000 * 3)..<(48_000 * 6)])?.frequency == 440)
        #expect(bridge.logText.contains("event=join site=lang-cong meeting=1"), "\(bridge.logText)")
        #expect(bridge.stop() == 0)
    }

    @Test func aClientPinningAnotherCertificateDoesNotJoin() throws {
        let bridge = try RunningBridge(quality: Self.withHTTPS)
        let address = try #require(bridge.httpsFields["address"], "\(bridge.logText)")
        let other = Array(repeating: "AB", count: 32).joined(separator: ":")
        let site = try AiortcSite.run(["--bridge", "https://" + address, "--fingerprint", other, "--key-file", bridge.keyPath("lang-cong"),
                                       "--seconds", "1"])
        #expect(site.report["joined"] as? Bool == false, "\(site.output)")
        #expect((site.report["error"] as? String ?? "").contains("--fingerprint"), "\(site.output)")
        #expect(try bridge.siteStatus("lang-cong") == nil)
        // Plain HTTP to the same listener does not reach the join either.
        let plain = try AiortcSite.run(["--bridge", "http://" + address, "--key-file", bridge.keyPath("lang-cong"), "--seconds", "1"])
        #expect(plain.report["joined"] as? Bool != true, "\(plain.output)")
        #expect(!bridge.logText.contains("event=join site=lang-cong"))
        #expect(bridge.stop() == 0)
    }
}
