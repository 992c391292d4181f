#if canImport(Glibc)
import Glibc
#endif

/// Test and diagnostic signals: tones to send, and a Goertzel filter to find them in what was heard.
public enum Tone {
    /// `count` samples of a sine at `frequency` Hz, continuing from sample index `start`
    /// (so consecutive frames join without a click).
    public static func samples(
        frequency: Double, amplitude: Double = 0.3, sampleRate: Int = 48_000, start: Int = 0, count: Int
    ) -> [Int16] {
        let step = 2 * Double.pi * frequency / Double(sampleRate)
        return (0..<count).map { i in
            Int16((sin(step * Double(start + i)) * amplitude * 32767).rounded())
        }
    }

    /// Power of `frequency` in `samples` by the Goertzel algorithm, normalised by length
    /// (comparable across frequencies for the same block).
    public static func power<S: Collection>(
        of frequency: Double, in samples: S, sampleRate: Int = 48_000
    ) -> Double where S.Element == Int16 {
        let n = samples.count
        guard n > 0 else { return 0 }
        let coefficient = 2 * cos(2 * Double.pi * frequency / Double(sampleRate))
        var s1 = 0.0
        var s2 = 0.0
        for sample in samples {
            let s0 = Double(sample) / 32768 + coefficient * s1 - s2
            s2 = s1
            s1 = s0
        }
        let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2
        return power / Double(n * n)
    }

    /// The frequency among `candidates` with the most power in `samples`, and its share of the
    /// total power over all candidates (1.0 means only that tone is present).
    public static func dominant<S: Collection>(
        among candidates: [Double], in samples: S, sampleRate: Int = 48_000
    ) -> (frequency: Double, share: Double)? where S.Element == Int16 {
        let powers = candidates.map { power(of: $0, in: samples, sampleRate: sampleRate) }
        let total = powers.reduce(0, +)
        guard total > 0, let best = powers.indices.max(by: { powers[$0] < powers[$1] }) else { return nil }
        return (candidates[best], powers[best] / total)
    }

    /// The RFC 6464 audio level of a frame: its RMS level as attenuation below full scale in dB,
    /// 0 (loudest) ... 127 (silence). Allocation-free.
    public static func audioLevel(_ samples: UnsafeBufferPointer<Int16>) -> UInt8 {
        guard !samples.isEmpty else { return 127 }
        var sumSquares = 0.0
        for s in samples { sumSquares += Double(s) * Double(s) }
        let rms = (sumSquares / Double(samples.count)).squareRoot() / 32768
        guard rms > 0 else { return 127 }
        return UInt8(max(0, min(127, (-20 * log10(rms)).rounded())))
    }

    /// Root-mean-square level in dBFS (-inf for silence).
    public static func levelDBFS<S: Collection>(_ samples: S) -> Double where S.Element == Int16 {
        guard !samples.isEmpty else { return -.infinity }
        let sumSquares = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
        let rms = (sumSquares / Double(samples.count)).squareRoot() / 32768
        return 20 * log10(rms)
    }
}
