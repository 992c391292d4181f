import AudioSignal
import Testing
@testable import Playout

/// What a listener hears from `TimeStretch`: speech shortened or lengthened by one pitch period at a
/// time, at the same pitch, without a click; anything not periodic left alone.
@Suite struct TimeStretchTests {
    static let tonePeriod = 48_000.0 / 220  // 218.2 samples, 4.5 ms
    static let voicedPeriod = 48_000.0 / 140  // 342.9 samples, 7.1 ms

    /// One call on 30 ms of a 220 Hz tone removes one period (4.5 ms), keeps the pitch and adds no click
    /// or energy burst at the joint.
    @Test func acceleratingAToneRemovesOnePeriodAtTheSamePitchWithoutAClick() throws {
        let input = Tone.samples(frequency: 220, amplitude: 0.5, count: 1440)
        let (output, outcome) = Signals.run(TimeStretch(), input)
        #expect(abs(Double(outcome.change) - Self.tonePeriod) <= 2, "removed \(outcome.change) samples")
        #expect(outcome.count == input.count - outcome.change)
        #expect(outcome.correlation >= 0.9)
        let heard = try #require(Tone.dominant(among: [165, 196, 220, 247, 294], in: output))
        #expect(heard.frequency == 220)
        #expect(Signals.largestStep(output) <= Signals.largestStep(input) + 2)
        #expect(Signals.loudestWindowRMS(output) <= Signals.loudestWindowRMS(input) * 1.02)
        // It starts where the input starts (continuous with what was played before) and ends where it ends.
        #expect(output.first == input.first)
        #expect(output.last == input.last)
    }

    @Test func acceleratingVoicedSpeechRemovesOnePitchPeriod() throws {
        let input = Signals.voiced(count: 1440)
        let (output, outcome) = Signals.run(TimeStretch(), input)
        #expect(abs(Double(outcome.change) - Self.voicedPeriod) <= 2, "removed \(outcome.change) samples")
        #expect(outcome.count == input.count - outcome.change)
        let heard = try #require(Tone.dominant(among: [100, 120, 140, 160, 180, 280], in: output))
        #expect(heard.frequency == 140)
        #expect(Signals.largestStep(output) <= Signals.largestStep(input) + 2)
        #expect(Signals.loudestWindowRMS(output) <= Signals.loudestWindowRMS(input) * 1.02)
    }

    /// The mirror image: one period inserted, the pitch kept, no click.
    @Test func expandingInsertsOnePeriodAtTheSamePitchWithoutAClick() throws {
        for (input, period, frequency) in [
            (Tone.samples(frequency: 220, amplitude: 0.5, count: 1440), Self.tonePeriod, 220.0),
            (Signals.voiced(count: 1440), Self.voicedPeriod, 140.0),
        ] {
            let (output, outcome) = Signals.run(TimeStretch(), input, expand: true)
            #expect(abs(Double(outcome.change) - period) <= 2, "inserted \(outcome.change) samples")
            #expect(outcome.count == input.count + outcome.change)
            let heard = try #require(Tone.dominant(among: Signals.semitones(around: frequency), in: output))
            #expect(heard.frequency == frequency)
            #expect(Signals.largestStep(output) <= Signals.largestStep(input) + 2)
            #expect(Signals.loudestWindowRMS(output) <= Signals.loudestWindowRMS(input) * 1.02)
            #expect(output.first == input.first)
            #expect(output.last == input.last)
        }
    }

    /// Full-scale white noise has no pitch: cutting a "period" out of it and cross-fading two
    /// unrelated segments would dip its level audibly, so it is left exactly as it was.
    @Test func whiteNoiseIsLeftUnchanged() {
        let stretch = TimeStretch()
        for seed in 1...40 {
            let input = Signals.noise(count: 1440, seed: UInt64(seed) &* 0x9E37_79B9_7F4A_7C15)
            for expand in [false, true] {
                let (output, outcome) = Signals.run(stretch, input, expand: expand)
                #expect(outcome.change == 0, "seed \(seed): changed by \(outcome.change) at correlation \(outcome.correlation)")
                #expect(output == input)
            }
        }
    }

    @Test func silenceAndTooShortInputPassThrough() {
        let stretch = TimeStretch()
        for input in [[Int16](repeating: 0, count: 1440), [Int16](repeating: 0, count: 960), [], [1],
                      Tone.samples(frequency: 220, count: 239)] {
            for expand in [false, true] {
                let (output, outcome) = Signals.run(stretch, input, expand: expand)
                #expect(outcome.change == 0)
                #expect(output == input)
            }
        }
    }

    /// Inputs at the limits of Int16 never trap and never produce a step larger than the input's.
    @Test func extremeInputsNeverTrapOrClick() {
        let stretch = TimeStretch()
        let square = (0..<1440).map { i in (i / 109) % 2 == 0 ? Int16.max : Int16.min }
        let nyquist = (0..<1440).map { i in i % 2 == 0 ? Int16.max : Int16.min }
        let dc = [Int16](repeating: Int16.min, count: 1440)
        let clippedTone = Tone.samples(frequency: 220, amplitude: 1, count: 1440).map { $0 == -32767 ? Int16.min : $0 }
        for input in [square, nyquist, dc, clippedTone, Signals.noise(count: 2880, seed: 7)] {
            for expand in [false, true] {
                let (output, outcome) = Signals.run(stretch, input, expand: expand)
                #expect(outcome.count == input.count + (expand ? outcome.change : -outcome.change))
                #expect(Signals.largestStep(output) <= Signals.largestStep(input) + 2)
            }
        }
        // An output too small for the result: nothing is stretched, nothing traps.
        let input = Tone.samples(frequency: 220, count: 1440)
        var small = [Int16](repeating: 0, count: 100)
        let outcome = input.withUnsafeBufferPointer { i in small.withUnsafeMutableBufferPointer { stretch.accelerate(i, into: $0) } }
        #expect(outcome.change == 0)
        #expect(outcome.count == 0)
    }

    /// Speech-like audio (a gliding pitch, syllables with onsets from silence and decays into it):
    /// accelerating every frame shortens it, never with a click or a burst at a joint, and frames
    /// that are silent or not periodic enough are passed through as they were.
    @Test func acceleratingSyllablesNeverClicks() {
        let stretch = TimeStretch()
        let input = Signals.syllables(seconds: 5)
        var output: [Int16] = []
        var untouched = 0
        var start = 0
        while start < input.count {
            let frame = Array(input[start..<min(start + 960, input.count)])
            let (shortened, outcome) = Signals.run(stretch, frame)
            if outcome.change == 0 {
                untouched += 1
                #expect(shortened == frame)
            }
            output += shortened
            start += 960
        }
        print("syllables: kept \(output.count) of \(input.count) samples; \(untouched) of \(input.count / 960) frames untouched")
        #expect(Double(output.count) <= 0.85 * Double(input.count))
        #expect(untouched > 0, "the silent gaps are left alone")
        #expect(Signals.largestStep(output) <= Signals.largestStep(input) + 2)
        #expect(Signals.loudestWindowRMS(output) <= Signals.loudestWindowRMS(input) * 1.02)
    }

    /// Accelerating every 20 ms frame of 10 s of a periodic signal shortens it by at least 20 %, at the
    /// same pitch, with no click at any joint.
    @Test(arguments: [220.0, 140.0])
    func acceleratingEveryFrameShortensByAFifthAtTheSamePitch(frequency: Double) throws {
        let stretch = TimeStretch()
        let frames = 500
        var input: [Int16] = []
        var output: [Int16] = []
        var removed = 0
        for f in 0..<frames {
            let frame = frequency == 220 ? Tone.samples(frequency: 220, amplitude: 0.5, start: f * 960, count: 960)
                                         : Signals.voiced(start: f * 960, count: 960)
            let (shortened, outcome) = Signals.run(stretch, frame)
            #expect(outcome.change > 0, "frame \(f) not accelerated (correlation \(outcome.correlation))")
            removed += outcome.change
            input += frame
            output += shortened
        }
        #expect(output.count == input.count - removed)
        #expect(Double(output.count) <= 0.8 * Double(input.count), "kept \(output.count) of \(input.count)")
        let heard = try #require(Tone.dominant(among: Signals.semitones(around: frequency), in: output))
        #expect(heard.frequency == frequency)
        #expect(heard.share > 0.5)
        #expect(Signals.largestStep(output) <= Signals.largestStep(input) + 2)
        #expect(Signals.loudestWindowRMS(output) <= Signals.loudestWindowRMS(input) * 1.02)
    }
}

/// Three minutes of 20 ms frames, accelerated and stretched in turn: the lengths add up exactly (no
/// drift), the changes balance, and after it the stretcher answers exactly as a new one does (no state
/// grows or leaks from call to call). (An hour through the playout FIFO is in `SitePlayoutTests`; an hour
/// of stretching every frame takes over a minute in a debug build.)
@Suite struct TimeStretchLongRunTests {
    @Test func minutesOfFramesLeaveNoDriftAndNoState() {
        let stretch = TimeStretch()
        let frames = 9_008  // three minutes of 20 ms frames, a whole number of cycles of the inputs below
        // A few distinct frames of voiced audio, cycled: the call's work does not depend on which.
        let inputs = (0..<7).map { Signals.voiced(start: $0 * 960, count: 960) } + [Signals.noise(count: 960, seed: 3)]
        var output = [Int16](repeating: 0, count: 960 + TimeStretch.maximumPeriod)
        var samplesIn = 0
        var samplesOut = 0
        var removed = 0
        var inserted = 0
        var untouched = 0
        output.withUnsafeMutableBufferPointer { out in
            for f in 0..<frames {
                inputs[f % inputs.count].withUnsafeBufferPointer { input in
                    let expand = (f / inputs.count) % 2 == 1
                    let outcome = expand ? stretch.preemptiveExpand(input, into: out) : stretch.accelerate(input, into: out)
                    samplesIn += input.count
                    samplesOut += outcome.count
                    if outcome.change == 0 { untouched += 1 } else if expand { inserted += outcome.change } else { removed += outcome.change }
                }
            }
        }
        #expect(samplesOut == samplesIn - removed + inserted)
        #expect(removed == inserted, "removed \(removed), inserted \(inserted)")
        #expect(untouched == frames / inputs.count, "only the noise frames are left alone")
        for input in inputs {
            let (after, afterOutcome) = Signals.run(stretch, input)
            let (fresh, freshOutcome) = Signals.run(TimeStretch(), input)
            #expect(after == fresh)
            #expect(afterOutcome == freshOutcome)
        }
    }
}
