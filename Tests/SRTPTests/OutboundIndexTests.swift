import RTP
import SRTP
import Testing

/// An outbound session never protects one (SSRC, index) twice: under AES-GCM the index makes the
/// nonce, and two plaintexts under one nonce let an eavesdropper forge packets (RFC 7714 §8.1).
@Suite("SRTP outbound indices")
struct OutboundIndexTests {
    func protect(_ session: SRTPSession, sequence: UInt16, payload: UInt8) throws -> [UInt8] {
        var buffer = try RTPPacket(payloadType: 96, sequenceNumber: sequence, timestamp: 90_000, ssrc: 0xB0B,
                                   payload: [UInt8](repeating: payload, count: 200)).serialized()
        let plainLength = buffer.count
        buffer += [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
        let length = try buffer.withUnsafeMutableBytes { try session.protectRTP($0, length: plainLength) }
        return Array(buffer[0..<length])
    }

    @Test("a second protect of an index is refused, whatever its content", arguments: SRTPProfile.allCases)
    func repeatedIndexRefused(profile: SRTPProfile) throws {
        let session = try SRTPSession(profile: profile, direction: .outbound,
                                      keyingMaterial: (0..<profile.keyingMaterialLength).map { UInt8($0) })
        for sequence in UInt16(65_500)...UInt16.max { _ = try protect(session, sequence: sequence, payload: 1) }
        for sequence in UInt16(0)..<100 { _ = try protect(session, sequence: sequence, payload: 1) }  // across the wrap
        #expect(throws: SRTPError.replay) { _ = try protect(session, sequence: 50, payload: 2) }  // new content, old index
        #expect(throws: SRTPError.replay) { _ = try protect(session, sequence: 99, payload: 1) }  // even the same content
        #expect(throws: SRTPError.replayTooOld) { _ = try protect(session, sequence: 65_500, payload: 2) }
        _ = try protect(session, sequence: 100, payload: 1)  // and the stream goes on
    }
}
