import Foundation
import Testing
@testable import Admission

/// Inputs the fuzz targets (Tests/Fuzz) found, kept as fixtures.
@Suite("Admission: inputs found by fuzzing")
struct AdmissionFuzzRegressionTests {
    static func fixture(_ name: String) throws -> String {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        return String(decoding: try Data(contentsOf: url), as: UTF8.self)
    }

    /// Found by `join`: `UInt8("+0", radix: 16)` is 0, so a proof of 64 characters with a sign among them was
    /// read as 32 bytes (and its hex no longer matched the text).
    @Test("a join message's proof with '+' among its hex digits is refused, not read as a byte")
    func joinProofWithSignIsRefused() throws {
        let message = try #require(JoinProtocol.decode(try Self.fixture("fuzz-join-proof-with-sign.json")))
        let proof = try #require(message["proof"] as? String)
        #expect(proof.count == 64 && proof.contains("+"))
        #expect(JoinProtocol.bytes(hex: proof, length: 32) == nil)
        #expect(JoinProtocol.bytes(hex: "-0" + String(repeating: "ab", count: 31), length: 32) == nil)
    }

    @Test("a key file whose secret has a sign among its hex digits is refused by name")
    func keyFileSecretWithSignIsRefused() {
        let text = "site=prov.vinh-phuc\ngeneration=1\nsecret=+a" + String(repeating: "5a", count: 31) + "\n"
        #expect(throws: KeyStoreError.self) { try SiteKey(fileText: text, origin: "vinh-phuc.key") }
        // The same secret in hex digits only is taken.
        let good = "site=prov.vinh-phuc\ngeneration=1\nsecret=0a" + String(repeating: "5a", count: 31) + "\n"
        #expect((try? SiteKey(fileText: good, origin: "vinh-phuc.key"))?.secret.first == 0x0a)
    }
}
