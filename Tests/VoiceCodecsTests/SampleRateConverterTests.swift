import AudioSignal
import Foundation
import Testing
import VoiceCodecs

@Suite("Sample rate conversion")
struct SampleRateConverterTests {
    private func convert(_ input: [Int16], from: Int, to: Int, piece: Int? = nil) throws -> [Int16] {
        let converter = try SampleRateConverter(from: from, to: to)
        var out = [Int16](repeating: 0, count: converter.outputCount(forInput: input.count))
        let step = piece ?? input.count
        var written = 0
        for start in stride(from: 0, to: input.count, by: step) {
            let end = min(start + step, input.count)
            written += try input[start..<end].withUnsafeBufferPointer { p in
                try out.withUnsafeMutableBufferPointer { o in
                    try converter.convert(p, into: UnsafeMutableBufferPointer(rebasing: o[written...]))
                }
            }
        }
        #expect(written == out.count)
        return out
    }

    static let downs: [(from: Int, to: Int)] = [(48_000, 16_000), (48_000, 8_000)]
    static let ups: [(from: Int, to: Int)] = [(16_000, 48_000), (8_000, 48_000)]

    /// Tones up to 0.9 of the new Nyquist frequency come out at their frequency and level (within 0.5 dB).
    @Test(arguments: [(48_000, 16_000), (48_000, 8_000), (16_000, 48_000), (8_000, 48_000)])
    func tonesInThePassbandKeepFrequencyAndLevel(from: Int, to: Int) throws {
        let nyquist = Double(min(from, to)) / 2
        for frequency in [300.0, 1000.0, nyquist * 0.5, nyquist * 0.9] {
            let input = Signals.tone(frequency, amplitude: 0.5, rate: from, count: from / 2)
            let out = try convert(input, from: from, to: to)
            let settled = out[(to / 20)...]  // after the filter's 2.5-5 ms delay
            let fit = sineFit(settled, frequency: frequency, rate: to)
            let levelDB = 20 * log10(fit.amplitude / 0.5)
            #expect(abs(levelDB) < 0.5, "\(from)->\(to) \(frequency) Hz: \(levelDB) dB")
            #expect(fit.snrDB > 60, "\(from)->\(to) \(frequency) Hz: SNR \(fit.snrDB) dB")
        }
    }

    /// Downsampling: a tone above the new Nyquist frequency must not alias into the output.
    @Test(arguments: [(48_000, 16_000), (48_000, 8_000)])
    func tonesAboveTheNewNyquistAreRemoved(from: Int, to: Int) throws {
        let nyquist = Double(to) / 2
        for frequency in [nyquist * 1.05, nyquist * 1.25, 10_000, 15_000, 23_000] where frequency > nyquist {
            let input = Signals.tone(frequency, amplitude: 0.5, rate: from, count: from / 2)
            let out = try convert(input, from: from, to: to)
            let attenuation = rmsDB(input[...]) - rmsDB(out[(to / 20)...])
            #expect(attenuation >= 60, "\(from)->\(to) \(frequency) Hz: attenuated \(attenuation) dB")
        }
        // While 1 kHz passes at its level (the converter is not simply silent).
        let passing = Signals.tone(1000, amplitude: 0.5, rate: from, count: from / 2)
        let out = try convert(passing, from: from, to: to)
        #expect(abs(rmsDB(passing[...]) - rmsDB(out[(to / 20)...])) < 0.5)
    }

    /// Upsampling: a tone's images (above the old Nyquist frequency) must be at least 60 dB below it.
    @Test(arguments: [(16_000, 48_000), (8_000, 48_000)])
    func upsamplingImagesAreRemoved(from: Int, to: Int) throws {
        let frequency = Double(from) / 2 * 0.875
        let input = Signals.tone(frequency, amplitude: 0.5, rate: from, count: from / 2)
        let out = try convert(input, from: from, to: to)
        let settled = out[(to / 20)...]
        let fit = sineFit(settled, frequency: frequency, rate: to)
        // Everything that is not the tone is image or noise.
        #expect(fit.snrDB > 60, "\(from)->\(to): image/noise \(fit.snrDB) dB below the tone")
        for image in [Double(from) - frequency, Double(from) + frequency] {
            let ratio = 10 * log10(Tone.power(of: image, in: settled, sampleRate: to) / Tone.power(of: frequency, in: settled, sampleRate: to))
            #expect(ratio < -60, "\(from)->\(to): image at \(image) Hz is \(ratio) dB")
        }
    }

    /// State carries across calls: converting in 20 ms pieces gives exactly what one long call gives.
    @Test(arguments: [(48_000, 16_000), (48_000, 8_000), (16_000, 48_000), (8_000, 48_000)])
    func framesJoinWithoutDiscontinuity(from: Int, to: Int) throws {
        let input = Signals.speechLike(rate: from, count: from)
        let whole = try convert(input, from: from, to: to)
        // Not trivially equal: the speech-like signal is there (its voiced part lies in every passband).
        #expect(rmsDB(whole[...]) > rmsDB(input[...]) - 6)
        let pieces = try convert(input, from: from, to: to, piece: from / 50)
        #expect(whole == pieces)
        let odd = try convert(input, from: from, to: to, piece: from == 48_000 ? 6 * 37 : 37)
        #expect(whole == odd)
    }

    @Test func wrongRatesAndLengthsAreRefused() throws {
        #expect(throws: VoiceCodecError.unsupportedConversion(from: 44_100, to: 16_000)) {
            try SampleRateConverter(from: 44_100, to: 16_000)
        }
        let converter = try SampleRateConverter(from: 48_000, to: 8_000)
        var out = [Int16](repeating: 0, count: 160)
        let input = [Int16](repeating: 0, count: 961)
        #expect(throws: VoiceCodecError.inputLength(count: 961, multipleOf: 6)) {
            try input.withUnsafeBufferPointer { p in try out.withUnsafeMutableBufferPointer { try converter.convert(p, into: $0) } }
        }
        let long = [Int16](repeating: 0, count: 1200)
        #expect(throws: VoiceCodecError.outputTooSmall(needed: 200, capacity: 160)) {
            try long.withUnsafeBufferPointer { p in try out.withUnsafeMutableBufferPointer { try converter.convert(p, into: $0) } }
        }
    }
}
