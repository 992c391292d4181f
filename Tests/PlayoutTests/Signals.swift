import AudioSignal
import Foundation
@testable import Playout

/// Test signals and what a listener would notice in them.
enum Signals {
    /// A voiced-speech-like signal: a 140 Hz fundamental with three harmonics of falling strength,
    /// continuing from sample `start`.
    static func voiced(start: Int = 0, count: Int, fundamental: Double = 140) -> [Int16] {
        let harmonics: [(Double, Double, Double)] = [(1, 0.30, 0), (2, 0.18, 0.7), (3, 0.12, 1.9), (4, 0.07, 2.6)]
        return (0..<count).map { i in
            let t = Double(start + i) / 48_000
            var v = 0.0
            for (k, a, phase) in harmonics { v += a * sin(2 * Double.pi * fundamental * k * t + phase) }
            return Int16((v * 32767).rounded())
        }
    }

    /// Syllable-like voiced audio: a pitch gliding between 120 and 180 Hz, two harmonics, in 200 ms
    /// syllables that start from and fall back to silence (10 ms ramps) with 60 ms gaps between them.
    static func syllables(seconds: Double) -> [Int16] {
        let count = Int(seconds * 48_000)
        var phase = 0.0
        return (0..<count).map { i in
            let t = Double(i) / 48_000
            let frequency = 150 + 30 * sin(2 * Double.pi * 0.7 * t)
            phase += 2 * Double.pi * frequency / 48_000
            let inSyllable = t.truncatingRemainder(dividingBy: 0.26)
            let ramp = 0.01
            let envelope = inSyllable >= 0.2 ? 0 : min(1, inSyllable / ramp, (0.2 - inSyllable) / ramp)
            let v = 0.35 * sin(phase) + 0.2 * sin(2 * phase + 0.5) + 0.1 * sin(3 * phase + 1.3)
            return Int16((envelope * v * 32767).rounded())
        }
    }

    /// Full-scale white noise from a seeded xorshift generator (the same every run).
    static func noise(count: Int, seed: UInt64) -> [Int16] {
        var state = seed | 1
        return (0..<count).map { _ in
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int16(truncatingIfNeeded: state >> 32)
        }
    }

    /// The largest sample-to-sample step: a click shows up as a step far above the signal's own.
    static func largestStep(_ samples: [Int16]) -> Int {
        var largest = 0
        for i in samples.indices.dropFirst() { largest = max(largest, abs(Int(samples[i]) - Int(samples[i - 1]))) }
        return largest
    }

    /// The loudest 2 ms (96-sample) window's RMS: an energy burst at a joint shows up here.
    static func loudestWindowRMS(_ samples: [Int16], window: Int = 96) -> Double {
        guard samples.count >= window else { return 0 }
        var loudest = 0.0
        var start = 0
        while start + window <= samples.count {
            var sum = 0.0
            for s in samples[start..<(start + window)] { sum += Double(s) * Double(s) }
            loudest = max(loudest, (sum / Double(window)).squareRoot())
            start += window / 2
        }
        return loudest
    }

    /// Semitones around `frequency` (one octave each way): the dominant one is the pitch heard.
    static func semitones(around frequency: Double) -> [Double] {
        (-12...12).map { frequency * pow(2, Double($0) / 12) }
    }

    /// Runs `accelerate` or `preemptiveExpand` on `input` with room for the longest result.
    static func run(_ stretch: TimeStretch, _ input: [Int16], expand: Bool = false) -> ([Int16], TimeStretch.Outcome) {
        var output = [Int16](repeating: 0, count: input.count + TimeStretch.maximumPeriod)
        let outcome = input.withUnsafeBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                expand ? stretch.preemptiveExpand(inputBuffer, into: outputBuffer)
                       : stretch.accelerate(inputBuffer, into: outputBuffer)
            }
        }
        return (Array(output[0..<outcome.count]), outcome)
    }
}
