import Admission
import Testing
@testable import Bridge

@Suite("The join challenge, written without JSON serialisation")
struct JoinChallengeLineTests {
    /// The line the listener writes by hand is byte for byte what `JoinProtocol.encode` writes, and reads back.
    @Test func isWhatTheProtocolEncoderWrites() throws {
        let nonce = (0..<32).map { UInt8($0 * 7 & 0xFF) }
        let proof = (0..<32).map { UInt8(255 - $0) }
        let line = JoinListener.challengeLine(nonce: nonce, proof: proof)
        #expect(line == JoinProtocol.encode(["type": "challenge", "nonce": JoinProtocol.hex(nonce), "proof": JoinProtocol.hex(proof)]))
        let decoded = try #require(JoinProtocol.decode(line))
        #expect(decoded["type"] as? String == "challenge")
        #expect(JoinProtocol.bytes(hex: decoded["nonce"], length: 32) == nonce)
        #expect(JoinProtocol.bytes(hex: decoded["proof"], length: 32) == proof)
    }
}
