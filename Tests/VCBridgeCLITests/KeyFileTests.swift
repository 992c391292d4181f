import Foundation
@testable import VCBridgeCLI
import Testing
import Transport

/// Key files others can read are refused by the commands that read them, saying how to fix them.
@Suite("Key files from the command line")
struct KeyFileTests {
    @Test func theEndpointRefusesAKeyFileOthersCanRead() throws {
        let s = Secretariat()
        let path = s.dataDirectory + "-lang-cong.key"
        let made = try s.run(["site", "key", "lang-cong", "--out", path])
        #expect(made.status == 0, "\(made.stderr)")
        // Nothing listens on port 9: an accepted key file goes on to fail connecting.
        let endpoint = ["endpoint", "--key-file", path, "--bridge", "127.0.0.1:9", "--silent", "--duration", "1s"]
        for mode in [0o644, 0o640] {
            chmod(path, mode_t(mode))
            let refused = try s.run(endpoint)
            #expect(refused.status == 1)
            #expect(refused.stderr == "error: --key-file: key file \(path) is readable by others (mode 0\(String(mode, radix: 8))); run: chmod 600 \(path)\n")
        }
        chmod(path, 0o600)
        let accepted = try s.run(endpoint)
        #expect(accepted.status != 0)
        #expect(!accepted.stderr.contains("chmod"), "\(accepted.stderr)")
    }

    @Test func theLoadGeneratorRefusesAStoredKeyOthersCanRead() throws {
        let s = Secretariat()
        #expect(try s.run(["site", "key", "lang-cong", "--out", s.dataDirectory + "-lang-cong.key"]).status == 0)
        let path = s.dataDirectory + "/keys/lang-cong.key"
        chmod(path, 0o644)
        let refused = try s.run(["loadtest", "--sites", "1", "--talkers", "0", "--duration", "5s", "--bridge", "127.0.0.1:9"])
        #expect(refused.status == 1)
        #expect(refused.stderr == "error: key file \(path) is readable by others (mode 0644); run: chmod 600 \(path)\n")
    }
}

@Suite("Key files the bridge cannot use")
struct BridgeKeyFileTests {
    @Test func aSiteWhoseStoredKeyOthersCanReadIsRefusedAndTheLogSaysHowToFixIt() throws {
        let bridge = try RunningBridge()
        let stored = bridge.dataDirectory + "/keys/lang-cong.key"
        chmod(stored, 0o644)
        #expect(throws: CommandFailure.self) { _ = try RawSite(try bridge.key("lang-cong"), bridge: bridge) }
        #expect(throws: CommandFailure.self) { _ = try RawSite(try bridge.key("lang-cong"), bridge: bridge) }
        let lines = bridge.logText.split(separator: "\n").filter { $0.contains("event=site-key-unusable") }
        #expect(lines.count == 1, "logged once a minute at most: \(lines)")
        #expect(lines.first?.contains("chmod 600 \(stored)") == true, "\(lines)")
        chmod(stored, 0o600)
        _ = try RawSite(try bridge.key("lang-cong"), bridge: bridge)  // fixed: welcome
        #expect(bridge.stop() == 0)
    }
}

extension BridgeKeyFileTests {
    @Test func aKeyThatCannotBeReadJustNowDoesNotEndALiveSessionAsRevoked() throws {
        let bridge = try RunningBridge()
        let site = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        try socket.send(try site.nextPacket(), to: site.mediaAddress)
        #expect(try waitFor(10) { try bridge.siteStatus("lang-cong") != nil })
        chmod(bridge.dataDirectory + "/keys/lang-cong.key", 0o644)  // unreadable for the bridge from now on
        #expect(try bridge.provision("tam-son").status == 0)  // the keys directory changes: the bridge reads keys again
        Thread.sleep(forTimeInterval: 1.5)  // six rounds of the schedule follower
        try socket.send(try site.nextPacket(), to: site.mediaAddress)
        #expect(try bridge.siteStatus("lang-cong") != nil, "the live session was ended")
        #expect(!bridge.logText.contains("event=session-ended site=lang-cong"), "\(bridge.logText)")
        #expect(bridge.stop() == 0)
    }
}
