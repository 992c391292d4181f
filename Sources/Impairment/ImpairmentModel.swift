#if canImport(Glibc)
import Glibc
#endif

/// A small seeded generator (SplitMix64): the same seed gives the same impairments.
public struct SeededRandom: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    public mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

    /// Normal with the given mean and standard deviation (Box-Muller).
    public mutating func normal(mean: Double, sigma: Double) -> Double {
        let u1 = max(uniform(), 1e-12)
        let u2 = uniform()
        return mean + sigma * (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// What happens to packets on an impaired path: loss (random, or in bursts with a Gilbert-Elliott
/// model), delay with jitter (normal, so packets overtake each other), duplication.
public struct ImpairmentProfile: Sendable, Equatable {
    /// Long-run fraction of packets lost, 0...1.
    public var loss = 0.0
    /// Mean length of a loss burst in packets (1: independent losses).
    public var meanBurst = 1.0
    public var delayMilliseconds = 0.0
    /// Standard deviation of the delay.
    public var jitterMilliseconds = 0.0
    /// Fraction of packets delivered twice.
    public var duplicate = 0.0

    public init(loss: Double = 0, meanBurst: Double = 1, delayMilliseconds: Double = 0, jitterMilliseconds: Double = 0, duplicate: Double = 0) {
        self.loss = loss
        self.meanBurst = meanBurst
        self.delayMilliseconds = delayMilliseconds
        self.jitterMilliseconds = jitterMilliseconds
        self.duplicate = duplicate
    }

    public var isClean: Bool { loss == 0 && delayMilliseconds == 0 && jitterMilliseconds == 0 && duplicate == 0 }
}

/// Decides the fate of each packet of one direction of one flow.
public struct ImpairmentModel: Sendable {
    public let profile: ImpairmentProfile
    private var random: SeededRandom
    private var inBurst = false

    public init(profile: ImpairmentProfile, seed: UInt64) {
        self.profile = profile
        random = SeededRandom(seed: seed)
    }

    /// Delays (milliseconds from now) at which to deliver the packet: empty if lost, two if duplicated.
    public mutating func fate() -> [Double] {
        if lost() { return [] }
        var delays = [delay()]
        if profile.duplicate > 0 && random.uniform() < profile.duplicate { delays.append(delay()) }
        return delays
    }

    private mutating func lost() -> Bool {
        let p = profile.loss
        guard p > 0 else { return false }
        if profile.meanBurst <= 1 { return random.uniform() < p }
        // Gilbert-Elliott: every packet in the bad state is lost. Leaving it has probability 1/b,
        // entering it p / (b (1 - p)), so the long-run loss is p with bursts of mean length b.
        if inBurst {
            if random.uniform() < 1 / profile.meanBurst { inBurst = false }
        } else if random.uniform() < p / (profile.meanBurst * (1 - p)) {
            inBurst = true
        }
        return inBurst
    }

    private mutating func delay() -> Double {
        max(0, profile.jitterMilliseconds > 0
            ? random.normal(mean: profile.delayMilliseconds, sigma: profile.jitterMilliseconds)
            : profile.delayMilliseconds)
    }
}
