import AudioSignal
import KeyDerivation
import OpusCodec
import RTP
import SRTP

/// `vcbridge doctor`: checks that the system libraries this machine has give the right answers
/// (known-answer tests), so a technician can trust a new installation before a meeting.
struct DoctorCommand: Command {
    static let name = "doctor"
    static let abstract = "Check libopus, libsrtp2 and NSS on this machine with known-answer tests."
    static let usage = "vcbridge doctor"

    init(arguments: [String]) throws {
        if let extra = arguments.first { throw ValidationError("unexpected argument '\(extra)'") }
    }

    func run() throws {
        var failures = 0
        func check(_ what: String, _ body: () throws -> String) {
            do {
                Output.line("ok    \(what): \(try body())")
            } catch {
                failures += 1
                Output.line("FAIL  \(what): \(error)")
            }
        }

        check("libopus") { Opus.libraryVersion }
        check("libsrtp2") { SRTPSession.libraryVersion }
        check("HMAC-SHA-256 (NSS), RFC 4231 case 1") {
            let mac = try HMACSHA256.authenticationCode(
                key: [UInt8](repeating: 0x0b, count: 20), data: Array("Hi There".utf8))
            let expected = "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
            guard hex(mac) == expected else { throw CommandFailure("got \(hex(mac))") }
            return "matches"
        }
        check("system random source") {
            let a = try SecureRandom.bytes(32)
            let b = try SecureRandom.bytes(32)
            guard a != b else { throw CommandFailure("two draws were equal") }
            return "32-byte draws differ"
        }
        for profile in SRTPProfile.allCases {
            check("SRTP \(profile)") { try srtpRoundTrip(profile) }
        }
        check("Opus 1 kHz tone round trip") { try opusTone() }

        if failures > 0 { throw CommandFailure("\(failures) check(s) failed") }
    }

    private func hex(_ bytes: [UInt8]) -> String {
        bytes.map { String($0, radix: 16).padding(toLength: 2, leftWith: "0") }.joined()
    }

    private func srtpRoundTrip(_ profile: SRTPProfile) throws -> String {
        let key = try SecureRandom.bytes(profile.keyingMaterialLength)
        let sender = try SRTPSession(profile: profile, direction: .outbound, keyingMaterial: key)
        let receiver = try SRTPSession(profile: profile, direction: .inbound, keyingMaterial: key)
        let packet = try RTPPacket(payloadType: 111, sequenceNumber: 1, timestamp: 960, ssrc: 0x1234_5678,
                                   payload: Array(0..<100)).serialized()
        var buffer = packet + [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
        try buffer.withUnsafeMutableBytes { raw in
            let protected = try sender.protectRTP(raw, length: packet.count)
            var tampered = Array(raw[0..<protected]) + [UInt8](repeating: 0, count: 16)
            tampered[20] ^= 1
            do {
                _ = try tampered.withUnsafeMutableBytes { try receiver.unprotectRTP($0, length: protected) }
                throw CommandFailure("a tampered packet was accepted")
            } catch let error as SRTPError where error == .authenticationFailure {}
            let plain = try receiver.unprotectRTP(raw, length: protected)
            guard Array(raw[0..<plain]) == packet else { throw CommandFailure("round trip changed the packet") }
        }
        return "round trip exact, tampered packet rejected"
    }

    private func opusTone() throws -> String {
        let encoder = try Opus.Encoder()
        let decoder = try Opus.Decoder()
        var heard: [Int16] = []
        var pcm = [Int16](repeating: 0, count: Opus.frameSamples)
        for frame in 0..<25 {
            let tone = Tone.samples(frequency: 1000, start: frame * Opus.frameSamples, count: Opus.frameSamples)
            let packet = try encoder.encode(tone)
            let n = try packet.withUnsafeBytes { p in
                try pcm.withUnsafeMutableBufferPointer { try decoder.decode(p, into: $0) }
            }
            heard += pcm[0..<n]
        }
        let probes: [Double] = [250, 500, 1000, 2000, 3000]
        guard let (frequency, share) = Tone.dominant(among: probes, in: heard.suffix(9600)), frequency == 1000,
              share > 0.9
        else { throw CommandFailure("1 kHz did not dominate the decoded audio") }
        return "1 kHz holds \(Int(share * 100)) % of the probe energy"
    }
}

extension String {
    func padding(toLength length: Int, leftWith pad: Character) -> String {
        count >= length ? self : String(repeating: pad, count: length - count) + self
    }
}
