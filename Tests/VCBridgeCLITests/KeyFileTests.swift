import Foundation
import Testing

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
