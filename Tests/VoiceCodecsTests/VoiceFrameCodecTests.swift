import AudioSignal
import Foundation
import Testing
import VoiceCodecs

/// The bridge's view: 20 ms frames of 48 kHz mono in, RTP payloads out, and back.
@Suite("Voice frames at 48 kHz")
struct VoiceFrameCodecTests {
    static let frame = VoicePayloadFormat.frameSamples48k

    /// Encodes `pcm` (48 kHz) frame by frame and decodes every payload; `lost` frames are concealed.
    private func roundTrip(_ pcm: [Int16], format: VoicePayloadFormat, lost: Set<Int> = []) throws -> [Int16] {
        let encoder = VoiceFrameEncoder(format: format)
        let decoder = VoiceFrameDecoder(format: format)
        var payload = [UInt8](repeating: 0, count: format.payloadBytesPerFrame)
        var out = [Int16](repeating: 0, count: pcm.count)
        for f in 0..<(pcm.count / Self.frame) {
            let range = (f * Self.frame)..<((f + 1) * Self.frame)
            let bytes = try pcm[range].withUnsafeBufferPointer { p in
                try payload.withUnsafeMutableBytes { try encoder.encode48k(p, into: $0) }
            }
            #expect(bytes == format.payloadBytesPerFrame)
            let samples = try out.withUnsafeMutableBufferPointer { o in
                let slot = UnsafeMutableBufferPointer(rebasing: o[range])
                if lost.contains(f) { return decoder.conceal48k(into: slot) }
                return try payload.withUnsafeBytes { try decoder.decode48k($0, into: slot) }
            }
            #expect(samples == Self.frame)
        }
        return out
    }

    private func tone(_ frequency: Double, seconds: Double = 1) -> [Int16] {
        Signals.tone(frequency, amplitude: 0.3, rate: 48_000, count: Int(48_000 * seconds))
    }

    @Test func formatsDescribeTheirRTPStreams() {
        #expect(VoicePayloadFormat.g722.staticPayloadType == 9 && VoicePayloadFormat.g722.encodingName == "G722")
        #expect(VoicePayloadFormat.pcmu.staticPayloadType == 0 && VoicePayloadFormat.pcmu.encodingName == "PCMU")
        #expect(VoicePayloadFormat.pcma.staticPayloadType == 8 && VoicePayloadFormat.pcma.encodingName == "PCMA")
        for format in VoicePayloadFormat.allCases {
            // RFC 3551: all three count 8000 per second on the RTP clock (G.722 too, though it samples at 16 kHz).
            #expect(format.rtpClockRate == 8_000 && format.frameTimestampIncrement == 160 && format.payloadBytesPerFrame == 160)
        }
    }

    /// G.722 keeps a 1 kHz and a 6 kHz tone (the 6 kHz one is what G.711 cannot carry).
    /// Measured SNR: see the report; the threshold leaves a margin below it.
    @Test(arguments: [1000.0, 6000.0])
    func g722RoundTripKeepsTones(frequency: Double) throws {
        let out = try roundTrip(tone(frequency), format: .g722)
        let settled = out[(10 * Self.frame)...]
        let probes = [300.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0, 6000.0, 7000.0]
        let dominant = try #require(Tone.dominant(among: probes, in: settled))
        #expect(dominant.frequency == frequency && dominant.share > 0.99, "\(dominant)")
        let fit = sineFit(settled, frequency: frequency, rate: 48_000)
        print("G.722 round trip \(frequency) Hz: level \(20 * log10(fit.amplitude / 0.3)) dB, SNR \(fit.snrDB) dB")
        #expect(abs(20 * log10(fit.amplitude / 0.3)) < 1)
        #expect(fit.snrDB > (frequency < 4000 ? 30 : 20))
    }

    @Test(arguments: [VoicePayloadFormat.pcmu, .pcma])
    func g711RoundTripKeepsATone(format: VoicePayloadFormat) throws {
        let out = try roundTrip(tone(1000), format: format)
        let fit = sineFit(out[(10 * Self.frame)...], frequency: 1000, rate: 48_000)
        print("\(format) round trip 1 kHz: level \(20 * log10(fit.amplitude / 0.3)) dB, SNR \(fit.snrDB) dB")
        #expect(abs(20 * log10(fit.amplitude / 0.3)) < 0.5)
        #expect(fit.snrDB > 30)
    }

    /// Speech-band content above 4 kHz (fricatives) survives G.722 and is removed by G.711: the point of
    /// G.722 for room systems.
    @Test func contentAbove4kHzSurvivesG722ButNotG711() throws {
        let speech = Signals.speechLike(rate: 48_000, count: 48_000 * 2)
        func highBandDB(_ s: ArraySlice<Int16>) -> Double {
            let p = [4500.0, 5000.0, 5500.0, 6000.0, 6500.0].reduce(0.0) { $0 + Tone.power(of: $1, in: s, sampleRate: 48_000) }
            return 10 * log10(p)
        }
        let original = highBandDB(speech[...])
        let g722 = highBandDB(try roundTrip(speech, format: .g722)[...])
        let pcmu = highBandDB(try roundTrip(speech, format: .pcmu)[...])
        print("4.5-6.5 kHz power: original \(original) dB, G.722 \(g722) dB, PCMU \(pcmu) dB")
        #expect(abs(g722 - original) < 3, "G.722 \(g722 - original) dB")
        #expect(original - pcmu > 40, "PCMU \(pcmu - original) dB")
    }

    /// Two lost frames in a 1 kHz tone: no sample-to-sample jump bigger than the tone's own, a fade
    /// toward silence while the loss lasts, and the tone back in full after it.
    @Test(arguments: VoicePayloadFormat.allCases)
    func concealmentDoesNotClick(format: VoicePayloadFormat) throws {
        let input = tone(1000)
        let clean = try roundTrip(input, format: format)
        let lossy = try roundTrip(input, format: format, lost: [20, 21, 30, 31, 32, 33])
        func maxStep(_ s: ArraySlice<Int16>) -> Int {
            zip(s.dropFirst(), s).map { abs(Int($0) - Int($1)) }.max() ?? 0
        }
        let toneStep = maxStep(clean[(10 * Self.frame)...])
        let lossStep = maxStep(lossy[(19 * Self.frame)..<(40 * Self.frame)])
        print("\(format): largest step \(lossStep) around losses, \(toneStep) in the clean tone")
        #expect(lossStep <= toneStep * 11 / 10, "step \(lossStep) vs \(toneStep)")
        // Four frames in a row: the last of them is silent.
        #expect(lossy[(33 * Self.frame)..<(34 * Self.frame)].allSatisfy { $0 == 0 })
        // And 60 ms after the loss the output is the clean decode again.
        #expect(lossy[(37 * Self.frame)...] == clean[(37 * Self.frame)...] || format == .g722)
        let after = sineFit(lossy[(37 * Self.frame)...], frequency: 1000, rate: 48_000)
        #expect(after.snrDB > 25, "after the loss: \(after.snrDB) dB")
    }

    @Test func badPayloadsAndBuffersAreRefused() throws {
        let decoder = VoiceFrameDecoder(format: .g722)
        var pcm = [Int16](repeating: 0, count: 960)
        #expect(throws: VoiceCodecError.emptyPayload) {
            try pcm.withUnsafeMutableBufferPointer { o in try decoder.decode48k(UnsafeRawBufferPointer(start: nil, count: 0), into: o) }
        }
        let big = [UInt8](repeating: 0x55, count: 200)
        #expect(throws: VoiceCodecError.outputTooSmall(needed: 1200, capacity: 960)) {
            try big.withUnsafeBytes { p in try pcm.withUnsafeMutableBufferPointer { try decoder.decode48k(p, into: $0) } }
        }
        // A 10 ms payload decodes to 480 samples.
        let n = try big.prefix(80).withUnsafeBytes { p in try pcm.withUnsafeMutableBufferPointer { try decoder.decode48k(p, into: $0) } }
        #expect(n == 480)
        let encoder = VoiceFrameEncoder(format: .pcma)
        var payload = [UInt8](repeating: 0, count: 160)
        #expect(throws: VoiceCodecError.inputLength(count: 959, multipleOf: 6)) {
            try pcm.prefix(959).withUnsafeBufferPointer { p in try payload.withUnsafeMutableBytes { try encoder.encode48k(p, into: $0) } }
        }
        #expect(throws: VoiceCodecError.outputTooSmall(needed: 160, capacity: 100)) {
            try pcm.withUnsafeBufferPointer { p in try payload.withUnsafeMutableBytes { try encoder.encode48k(p, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<100])) } }
        }
    }
}
