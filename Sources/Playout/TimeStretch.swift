/// NetEq-class time-stretching of 48 kHz mono speech: shortens (`accelerate`) or lengthens
/// (`preemptiveExpand`) audio that has not been played yet by exactly one pitch period, with a
/// linear cross-fade one period long, so the delay of a playout buffer can follow its target in
/// speech, 2.5-15 ms at a time, without dropping or repeating whole frames.
///
/// The period is found as WebRTC's NetEq finds it: the normalised autocorrelation of a copy
/// decimated to 4 kHz over lags of 10-60 samples there (2.5-15 ms), then refined at 48 kHz around
/// the chosen lag. The first good peak is taken (the period, not a multiple of it). The audio is
/// changed only when the normalised cross-correlation of the two periods to be merged reaches
/// `threshold` (0.9 by default, NetEq's): noise, transients and silence are left exactly as they
/// were.
///
/// The result starts with the input's first sample and ends with its last, so it joins what was
/// played before and what comes after without a step. Each cross-faded sample is a convex
/// combination of two input samples, so it stays within Int16 and no louder than they are.
///
/// Bounded and allocation-free per call: the analysis looks at the first 30 ms of the input at most
/// (the rest is copied), in buffers allocated once by `init`. Nothing carries over from one call to
/// the next and nothing depends on time. One instance belongs to one thread (the media thread).
public final class TimeStretch {
    /// What a call did.
    public struct Outcome: Sendable, Equatable {
        /// Samples written to the output.
        public var count: Int
        /// Samples removed (accelerate) or inserted (preemptive expand); 0 when the input was left as it was.
        public var change: Int
        /// The normalised correlation of the two periods that were (or would have been) merged; 0 when none was measured.
        public var correlation: Double
    }

    /// The shortest pitch period looked for: 2.5 ms (400 Hz).
    public static let minimumPeriod = 120
    /// The longest pitch period looked for: 15 ms (67 Hz).
    public static let maximumPeriod = 720
    /// Input samples the analysis looks at: two of the longest periods (30 ms).
    public static let analysisLength = 2 * maximumPeriod
    /// The input length below which nothing is ever changed: two of the shortest periods (5 ms).
    public static let minimumInput = 2 * minimumPeriod

    static let decimation = 12  // 48 kHz to 4 kHz
    static let minimumLag = minimumPeriod / decimation  // 10 at 4 kHz
    static let maximumLag = maximumPeriod / decimation  // 60 at 4 kHz
    /// A segment with an RMS below one step of Int16 is silence: left alone.
    static let silenceMeanSquare: Int64 = 1

    /// The normalised correlation the merged periods must reach.
    public let threshold: Double

    private let decimated: UnsafeMutableBufferPointer<Int64>  // box sums of 12 samples
    private let lagCorrelation: UnsafeMutableBufferPointer<Double>  // by lag at 4 kHz

    /// `threshold` is clamped to 0...1; 0.9 is NetEq's for normal playout, 0.5 its "fast" mode
    /// when far above the target.
    public init(threshold: Double = 0.9) {
        self.threshold = threshold.isNaN ? 0.9 : min(1, max(0, threshold))
        decimated = .allocate(capacity: Self.analysisLength / Self.decimation)
        decimated.initialize(repeating: 0)
        lagCorrelation = .allocate(capacity: Self.maximumLag + 2)
        lagCorrelation.initialize(repeating: 0)
    }

    deinit {
        decimated.deallocate()
        lagCorrelation.deallocate()
    }

    /// Writes `input` less one pitch period into `output` (which must not overlap it), or `input`
    /// unchanged when it is not periodic enough. `output` needs `input.count` samples; when it has
    /// fewer, nothing is written (`count` 0).
    public func accelerate(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Int16>) -> Outcome {
        guard output.count >= input.count else { return Outcome(count: 0, change: 0, correlation: 0) }
        let (period, correlation) = findPeriod(input)
        guard period > 0, correlation >= threshold else {
            copy(input, from: 0, count: input.count, into: output, at: 0)
            return Outcome(count: input.count, change: 0, correlation: correlation)
        }
        // The first period fades out into the second; what follows the second is kept.
        crossFade(from: input, at: 0, into: input, at: period, length: period, output: output, at: 0)
        copy(input, from: 2 * period, count: input.count - 2 * period, into: output, at: period)
        return Outcome(count: input.count - period, change: period, correlation: correlation)
    }

    /// Writes `input` plus one pitch period into `output` (which must not overlap it), or `input`
    /// unchanged when it is not periodic enough. `output` needs `input.count` samples, and
    /// `input.count + maximumPeriod` to be sure of room for the longer result; when it lacks room for
    /// the longer result the input is copied unchanged, and when it lacks room even for that nothing
    /// is written (`count` 0).
    public func preemptiveExpand(_ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Int16>) -> Outcome {
        guard output.count >= input.count else { return Outcome(count: 0, change: 0, correlation: 0) }
        let (period, correlation) = findPeriod(input)
        guard period > 0, correlation >= threshold, output.count >= input.count + period else {
            copy(input, from: 0, count: input.count, into: output, at: 0)
            return Outcome(count: input.count, change: 0, correlation: correlation)
        }
        // The first period, then the second fading into a repeat of the first, then the rest from the second on.
        copy(input, from: 0, count: period, into: output, at: 0)
        crossFade(from: input, at: period, into: input, at: 0, length: period, output: output, at: period)
        copy(input, from: period, count: input.count - period, into: output, at: 2 * period)
        return Outcome(count: input.count + period, change: period, correlation: correlation)
    }

    // MARK: Pitch

    /// The pitch period at the start of `input` in samples (0 when there is none to find) and the
    /// normalised correlation of its first two periods.
    private func findPeriod(_ input: UnsafeBufferPointer<Int16>) -> (period: Int, correlation: Double) {
        let n = min(input.count, Self.analysisLength)
        guard n >= Self.minimumInput, let x = input.baseAddress else { return (0, 0) }
        var energy: Int64 = 0
        for i in 0..<n { energy += Int64(x[i]) * Int64(x[i]) }
        guard energy > Self.silenceMeanSquare * Int64(n) else { return (0, 0) }

        // Coarse: normalised autocorrelation at 4 kHz over a fixed window.
        let m = n / Self.decimation
        for j in 0..<m {
            var sum: Int64 = 0
            for k in 0..<Self.decimation { sum += Int64(x[j * Self.decimation + k]) }
            decimated[j] = sum
        }
        let highestLag = min(Self.maximumLag, m / 2)
        guard highestLag >= Self.minimumLag else { return (0, 0) }
        let window = m - highestLag
        var best = -Double.infinity
        for lag in Self.minimumLag...highestLag {
            let c = normalisedCorrelation(decimated, 0, lag, window)
            lagCorrelation[lag] = c
            best = max(best, c)
        }
        guard best > 0 else { return (0, 0) }
        // The first peak close to the best is the period; later ones are its multiples.
        var chosen = Self.minimumLag
        for lag in Self.minimumLag...highestLag {
            let c = lagCorrelation[lag]
            let rising = lag == Self.minimumLag || c >= lagCorrelation[lag - 1]
            let falling = lag == highestLag || c >= lagCorrelation[lag + 1]
            if rising && falling && c >= 0.9 * best {
                chosen = lag
                break
            }
        }

        // Fine: at 48 kHz around the coarse lag, on exactly the two periods that would be merged.
        let lowest = max(Self.minimumPeriod, chosen * Self.decimation - Self.decimation)
        let highest = min(Self.maximumPeriod, n / 2, chosen * Self.decimation + Self.decimation)
        guard lowest <= highest else { return (0, 0) }
        var period = 0
        var correlation = -Double.infinity
        for candidate in lowest...highest {
            let c = normalisedCorrelation(x, candidate)
            if c > correlation {
                correlation = c
                period = candidate
            }
        }
        return (period, max(0, correlation))
    }

    /// Normalised cross-correlation of `y[a..<a+length]` and `y[b..<b+length]` (0 when either is silent).
    private func normalisedCorrelation(_ y: UnsafeMutableBufferPointer<Int64>, _ a: Int, _ b: Int, _ length: Int) -> Double {
        var cross = 0.0
        var energyA = 0.0
        var energyB = 0.0
        for i in 0..<length {
            let u = Double(y[a + i])
            let v = Double(y[b + i])
            cross += u * v
            energyA += u * u
            energyB += v * v
        }
        return ratio(cross, energyA, energyB)
    }

    /// Normalised cross-correlation of the first `period` samples of `x` with the next `period`.
    private func normalisedCorrelation(_ x: UnsafePointer<Int16>, _ period: Int) -> Double {
        var cross: Int64 = 0
        var energyA: Int64 = 0
        var energyB: Int64 = 0
        for i in 0..<period {
            let u = Int64(x[i])
            let v = Int64(x[period + i])
            cross += u * v
            energyA += u * u
            energyB += v * v
        }
        return ratio(Double(cross), Double(energyA), Double(energyB))
    }

    private func ratio(_ cross: Double, _ energyA: Double, _ energyB: Double) -> Double {
        let denominator = (energyA * energyB).squareRoot()
        guard denominator > 0, denominator.isFinite else { return 0 }
        return cross / denominator
    }

    // MARK: Samples

    /// `output[at + i]` = `a[i]` fading out linearly while `b[i]` fades in, for `i` in `0..<length`;
    /// the first sample is `a`'s own and the weights are convex, so the result stays within Int16.
    private func crossFade(from a: UnsafeBufferPointer<Int16>, at aStart: Int, into b: UnsafeBufferPointer<Int16>, at bStart: Int,
                           length: Int, output: UnsafeMutableBufferPointer<Int16>, at outStart: Int) {
        let half = length / 2
        for i in 0..<length {
            let mixed = Int(a[aStart + i]) * (length - i) + Int(b[bStart + i]) * i
            let rounded = (mixed >= 0 ? mixed + half : mixed - half) / length
            output[outStart + i] = Int16(clamping: rounded)
        }
    }

    private func copy(_ input: UnsafeBufferPointer<Int16>, from start: Int, count: Int,
                      into output: UnsafeMutableBufferPointer<Int16>, at outStart: Int) {
        guard count > 0 else { return }
        for i in 0..<count { output[outStart + i] = input[start + i] }
    }
}
