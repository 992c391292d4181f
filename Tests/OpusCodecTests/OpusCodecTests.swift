import AudioSignal
import Testing
@testable import OpusCodec

/// Decodes one packet, or recovers/conceals a missing one, into a fresh 960-sample frame.
private func decode(_ decoder: Opus.Decoder, _ packet: [UInt8]) throws -> [Int16] {
    var pcm = [Int16](repeating: 0, count: Opus.frameSamples)
    let n = try packet.withUnsafeBytes { p in try pcm.withUnsafeMutableBufferPointer { try decoder.decode(p, into: $0) } }
    return Array(pcm[0..<n])
}

private func recoverFEC(_ decoder: Opus.Decoder, next packet: [UInt8]) throws -> [Int16] {
    var pcm = [Int16](repeating: 0, count: Opus.frameSamples)
    let n = try packet.withUnsafeBytes { p in
        try pcm.withUnsafeMutableBufferPointer { try decoder.decodeFEC(from: p, into: $0) }
    }
    return Array(pcm[0..<n])
}

private func conceal(_ decoder: Opus.Decoder) throws -> [Int16] {
    var pcm = [Int16](repeating: 0, count: Opus.frameSamples)
    let n = try pcm.withUnsafeMutableBufferPointer { try decoder.conceal(into: $0) }
    return Array(pcm[0..<n])
}

private func frame(_ index: Int, frequency: Double) -> [Int16] {
    Tone.samples(frequency: frequency, start: index * Opus.frameSamples, count: Opus.frameSamples)
}

@Suite("Opus codec")
struct OpusCodecTests {
    static let probes: [Double] = [300, 440, 700, 1000, 1500, 2000, 3000]

    @Test func aToneSurvivesEncodeAndDecode() throws {
        let encoder = try Opus.Encoder()
        let decoder = try Opus.Decoder()
        var heard: [Int16] = []
        for i in 0..<50 {
            let packet = try encoder.encode(frame(i, frequency: 1000))
            #expect(packet.count > 2 && packet.count <= Opus.maxPacketBytes)
            heard += try decode(decoder, packet)
        }
        #expect(heard.count == 50 * 960)
        // After the codec's start-up, 1 kHz dominates every other probe frequency by far.
        let settled = Array(heard[(10 * 960)...])
        let oneK = Tone.power(of: 1000, in: settled)
        for f in Self.probes where f != 1000 {
            #expect(oneK > 100 * Tone.power(of: f, in: settled), "1 kHz vs \(f) Hz")
        }
        // And the level is about what was sent (0.3 full scale sine: -13.5 dBFS).
        #expect(abs(Tone.levelDBFS(settled) - (-13.5)) < 2)
    }

    /// Frames 0-24 are 440 Hz, 25 onward 1 kHz, and frame 25 is lost. Concealment can only
    /// extrapolate the 440 Hz it had; in-band FEC from frame 26 brings back the 1 kHz of frame 25.
    private func lostFrameAtToneChange(fec: Bool) throws -> (recovered: [Int16], concealed: [Int16]) {
        let encoder = try Opus.Encoder(configuration: .init(bitrate: 32_000, inbandFEC: fec, expectedPacketLossPercent: fec ? 20 : 0))
        let packets = try (0..<27).map { i in try encoder.encode(frame(i, frequency: i < 25 ? 440 : 1000)) }
        let withFEC = try Opus.Decoder()
        let withPLC = try Opus.Decoder()
        for i in 0..<25 {
            _ = try decode(withFEC, packets[i])
            _ = try decode(withPLC, packets[i])
        }
        return (try recoverFEC(withFEC, next: packets[26]), try conceal(withPLC))
    }

    @Test func aLostFrameIsRecoveredFromTheNextPacketsFEC() throws {
        let (recovered, concealed) = try lostFrameAtToneChange(fec: true)
        #expect(recovered.count == 960)
        #expect(Tone.dominant(among: Self.probes, in: recovered)?.frequency == 1000)
        #expect(Tone.dominant(among: Self.probes, in: concealed)?.frequency == 440)
    }

    @Test func withoutFECTheNextPacketCannotRecoverTheFrame() throws {
        let (recovered, _) = try lostFrameAtToneChange(fec: false)
        #expect(recovered.count == 960)
        #expect(Tone.dominant(among: Self.probes, in: recovered)?.frequency != 1000)
    }

    @Test func concealmentReturnsExactlyOneFrame() throws {
        let encoder = try Opus.Encoder()
        let decoder = try Opus.Decoder()
        _ = try decode(decoder, try encoder.encode(frame(0, frequency: 500)))
        for _ in 0..<5 {
            #expect(try conceal(decoder).count == 960)
            #expect(try decoder.lastPacketDuration() == 960)
        }
        // Concealment before any packet works too (silence).
        #expect(try conceal(try Opus.Decoder()).count == 960)
    }

    @Test func dtxSendsTinyPacketsInSilence() throws {
        let encoder = try Opus.Encoder(configuration: .init(dtx: true))
        let silence = [Int16](repeating: 0, count: 960)
        let sizes = try (0..<60).map { _ in try encoder.encode(silence).count }
        // After ~200 ms of silence only a comfort-noise update every 400 ms (20 frames) is a real packet.
        let tail = sizes[20...]
        #expect(tail.filter { Opus.isDTX(payloadLength: $0) }.count >= 36)
        #expect(tail.filter { !Opus.isDTX(payloadLength: $0) }.count <= 2)
        #expect(try encoder.inDTX())
        #expect(!Opus.isDTX(payloadLength: try Opus.Encoder().encode(frame(0, frequency: 800)).count))
    }

    @Test func settingsApplyAndBadOnesAreNamedErrors() throws {
        let encoder = try Opus.Encoder(configuration: .init(bitrate: 24_000))
        #expect(try encoder.currentBitrate() == 24_000)
        try encoder.apply(.init(bitrate: 48_000, complexity: 10))
        #expect(try encoder.currentBitrate() == 48_000)
        #expect(encoder.configuration.complexity == 10)
        #expect(throws: OpusError.badArgument) { try encoder.apply(.init(complexity: 11)) }
        #expect(throws: OpusError.badArgument) { try encoder.apply(.init(expectedPacketLossPercent: 101)) }
        #expect(throws: OpusError.badArgument) { try encoder.encode([Int16](repeating: 0, count: 100)) }
    }

    @Test func corruptPacketsAreRejectedNotTrapped() throws {
        let decoder = try Opus.Decoder()
        // TOC code 3 with a frame count of 0 is invalid (RFC 6716 §3.2.5).
        #expect(throws: OpusError.invalidPacket) { try decode(decoder, [0x03, 0x00]) }
        #expect(throws: OpusError.invalidPacket) { try decode(decoder, []) }
        #expect(OpusError.invalidPacket.description.contains("corrupted"))
        // Random bytes either decode to something or give a named error; never a crash.
        var state: UInt32 = 12345
        for _ in 0..<500 {
            let packet = (0..<Int(state % 60 + 1)).map { _ -> UInt8 in
                state = state &* 1_664_525 &+ 1_013_904_223
                return UInt8(truncatingIfNeeded: state >> 24)
            }
            _ = try? decode(decoder, packet)
        }
        #expect(Opus.libraryVersion.hasPrefix("libopus"))
    }
}
