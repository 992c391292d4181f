/// When a site that lost the bridge tries to join again: exponential backoff with full jitter.
///
/// Attempt n (from 0) waits a uniformly random time in [0, min(cap, base x 2^n)], so when the bridge
/// comes back the sites that lost it arrive spread over that window rather than in one burst, and none
/// waits longer than `cap` between attempts. A successful join resets the schedule. Time and randomness
/// are passed in: `now` is monotonic nanoseconds, the generator is the caller's (seeded in tests).
public struct RejoinBackoff: Sendable {
    /// The first attempt's window, nanoseconds.
    public let base: Int64
    /// The longest wait between two attempts, nanoseconds.
    public let cap: Int64
    /// Failed attempts since the last successful join (or since the bridge was lost).
    public private(set) var failures = 0
    /// When the next attempt is due (monotonic nanoseconds), nil while joined.
    public private(set) var nextAttemptAt: Int64?

    /// 250 ms doubling to a 4 s cap: with a 4 s cap the last wait before a bridge that is back ends at most 4 s
    /// after it listens, which leaves a join's round trips inside 5 s.
    public static let defaultBase: Int64 = 250_000_000
    public static let defaultCap: Int64 = 4_000_000_000

    public init(base: Int64 = RejoinBackoff.defaultBase, cap: Int64 = RejoinBackoff.defaultCap) {
        precondition(base > 0 && cap >= base, "RejoinBackoff needs 0 < base <= cap")
        self.base = base
        self.cap = cap
    }

    /// The window of the attempt after `failures` failures: base x 2^failures, capped (never overflows).
    public func window(afterFailures failures: Int) -> Int64 {
        var window = base
        var n = 0
        while n < failures && window < cap {
            window = window > cap / 2 ? cap : window * 2
            n += 1
        }
        return min(window, cap)
    }

    /// The bridge was lost at `now`: the first attempt is scheduled within the base window.
    public mutating func lost<R: RandomNumberGenerator>(at now: Int64, using random: inout R) {
        failures = 0
        nextAttemptAt = now + Int64.random(in: 0...window(afterFailures: 0), using: &random)
    }

    /// An attempt made at `now` failed: the next one is scheduled within a window twice as long (up to the cap).
    /// - Returns: when the next attempt is due.
    @discardableResult
    public mutating func failed<R: RandomNumberGenerator>(at now: Int64, using random: inout R) -> Int64 {
        failures = failures == Int.max ? failures : failures + 1
        let next = now + Int64.random(in: 0...window(afterFailures: failures), using: &random)
        nextAttemptAt = next
        return next
    }

    /// Joined: nothing is scheduled until the bridge is lost again.
    public mutating func joined() {
        failures = 0
        nextAttemptAt = nil
    }

    /// Whether an attempt is due at `now`.
    public func isDue(now: Int64) -> Bool { nextAttemptAt.map { now >= $0 } ?? false }
}

/// A small seeded generator (SplitMix64) so a schedule can be replayed; production uses the system generator.
public struct SeededRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
