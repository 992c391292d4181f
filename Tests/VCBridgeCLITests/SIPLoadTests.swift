import Foundation
import Testing
import Transport

/// `vcbridge loadtest --sip-sites`: the load generator's sites calling the bridge's SIP port as room systems do.
@Suite("SIP load generator", .serialized)
struct SIPLoadTests {
    @Test func theLoadGeneratorCallsAsRoomSystemsOnG722AndEverySiteHearsTheMix() throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        // Three sites: one native, two SIP room systems on G.722 (one of them a talker, as is the native one).
        let run = try bridge.cli(["loadtest", "--sites", "3", "--talkers", "2", "--sip-sites", "2", "--sip-talkers", "1",
                                  "--sip-codec", "g722", "--duration", "10s", "--bridge", bridge.signaling.description,
                                  "--sip", sip.description, "--json"])
        #expect(run.status == 0, "\(run.stderr)\n\(bridge.logText.suffix(3000))")
        let summary = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
        let calls = summary["sip"] as? [String: Any] ?? [:]
        #expect(calls["connected"] as? Int == 2 && (calls["failures"] as? [String])?.isEmpty == true, "\(calls)")
        #expect(calls["codec"] as? String == "g722")
        // Every site, native and SIP, got the mix 50 times a second, all authentic: the bridge sends to a room
        // system only after its own SRTP packets authenticated, so the SIP sites' media reached it too.
        #expect(summary["deliveryMinPerSecond"] as? Double ?? 0 >= 49, "\(summary)")
        #expect(calls["deliveryMinPerSecond"] as? Double ?? 0 >= 49, "\(calls)")
        #expect(summary["authenticationFailures"] as? Int == 0, "\(summary)")
        // The bridge took them as SIP calls on G.722, and their BYEs ended them.
        #expect(bridge.logText.components(separatedBy: "transport=sip-udp codec=g722").count - 1 == 2, "\(bridge.logText.suffix(3000))")
        #expect(calls["hungUp"] as? Int == 2, "\(calls)")
        #expect(try waitFor(5) { (try bridge.status()["sites"] as? [Any])?.isEmpty == true })

        let misuse = try bridge.cli(["loadtest", "--sites", "3", "--duration", "5s", "--bridge", bridge.signaling.description,
                                     "--sip-codec", "g722"])
        #expect(misuse.status == 64 && misuse.stderr.contains("--sip-sites"), "\(misuse.stderr)")
        let unknown = try bridge.cli(["loadtest", "--sites", "3", "--duration", "5s", "--bridge", bridge.signaling.description,
                                      "--sip-sites", "1", "--sip-codec", "g729", "--sip", sip.description])
        #expect(unknown.status == 64 && unknown.stderr.contains("g729"), "\(unknown.stderr)")
        #expect(bridge.stop() == 0)
    }
}
