/// One site's decoded audio between its decoder and the mixer: a FIFO of samples from which the
/// mixer takes exactly one 20 ms frame (960 samples) a tick, while the audio still waiting is
/// shortened or lengthened by one pitch period (`TimeStretch`) so that the site's playout delay
/// follows its target in speech, not only in pauses.
///
/// The owner (the media thread) decodes a frame into it whenever `needsFrame(level:target:)` says
/// so, before `play`, and tells both the site's whole playout delay (`level`: what its jitter buffer
/// holds plus `buffered` here, in samples) and the target delay. As NetEq does, the decision follows
/// a filtered level, not the instant one (which moves by whole packets with every arrival): the
/// delay is shed when the filtered level reaches the high limit (a frame above the target) and
/// built up when it falls under the low limit (three quarters of the target, or 85 ms under it); each change is subtracted from the filtered level at once, so one
/// excursion is not corrected twice. At most one adjustment per 50 ms of audio played. Fixed
/// capacity, allocated once; no allocation per call; no clock.
public final class SitePlayout {
    public static let frameSamples = 960
    /// Room for what a tick can leave waiting (less than a frame), one decoded frame, the analysis
    /// span a stretch wants (30 ms), and one inserted period.
    public static let capacity = 2 * frameSamples + TimeStretch.analysisLength + TimeStretch.maximumPeriod
    /// What must wait before accelerating: a whole frame besides the longest period removed.
    static let accelerationMinimum = frameSamples + TimeStretch.maximumPeriod
    /// Samples played between two adjustments at least (50 ms).
    public static let adjustmentSpacing = 2_400

    /// Decoded samples waiting to be played.
    public private(set) var buffered = 0
    /// webrtc-stats' removedSamplesForAcceleration.
    public private(set) var removedSamplesForAcceleration = 0
    /// webrtc-stats' insertedSamplesForDeceleration.
    public private(set) var insertedSamplesForDeceleration = 0
    /// Whether the waiting audio is stretched at all; false: a plain FIFO (the owner's setting).
    public var stretching = true
    /// The filtered playout delay (samples) the decisions follow; nil until the first `play`.
    public private(set) var filteredLevel: Double?

    private let stretch: TimeStretch
    private let samples: UnsafeMutableBufferPointer<Int16>
    private let scratch: UnsafeMutableBufferPointer<Int16>
    private var playedSinceAdjustment = SitePlayout.adjustmentSpacing

    public init(threshold: Double = 0.9) {
        stretch = TimeStretch(threshold: threshold)
        samples = .allocate(capacity: Self.capacity)
        samples.initialize(repeating: 0)
        scratch = .allocate(capacity: Self.capacity)
        scratch.initialize(repeating: 0)
    }

    deinit {
        samples.deallocate()
        scratch.deallocate()
    }

    /// The limits around `target` (samples): shed delay at or above `high`, build it below `low`.
    /// NetEq sheds from the target up; here a frame above it, because every change in speech costs
    /// a little (PESQ-WB measures about 0.025 for each), and the jitter buffer sheds a frame in pauses for free.
    static func limits(target: Int) -> (low: Int, high: Int) {
        let low = max(target * 3 / 4, target - 85 * 48)
        return (low, target + 20 * 48)
    }

    /// How fast the filtered level follows the instant one, per 20 ms frame (NetEq's factors: a
    /// time constant of about 1-2.5 s, shorter for a small target, which reacts to less).
    static func smoothing(target: Int) -> Double {
        switch target / frameSamples {
        case ...1: 251.0 / 256
        case 2...3: 252.0 / 256
        case 4...7: 253.0 / 256
        default: 254.0 / 256
        }
    }

    private func wantsToShed(target: Int) -> Bool {
        guard stretching, let filtered = filteredLevel else { return false }
        return filtered >= Double(Self.limits(target: target).high)
    }

    /// Whether a decoded frame should be appended before `play`: when less than a frame is waiting,
    /// or when delay is to be shed now and too little is waiting for a whole frame to remain after
    /// removing the longest period (taking a frame early from the jitter buffer moves delay here;
    /// it adds none).
    public func needsFrame(target: Int) -> Bool {
        if buffered < Self.frameSamples { return true }
        return playedSinceAdjustment >= Self.adjustmentSpacing && wantsToShed(target: target)
            && buffered < Self.accelerationMinimum
    }

    /// Forgets what is waiting (the site stopped being decoded; its decoder starts afresh) and the
    /// filtered level. The counters stay: they are the site's totals.
    public func reset() {
        buffered = 0
        filteredLevel = nil
        playedSinceAdjustment = Self.adjustmentSpacing
    }

    /// Appends decoded samples; returns false and appends nothing when they would not fit.
    @discardableResult
    public func append(_ frame: UnsafeBufferPointer<Int16>) -> Bool {
        guard frame.count <= Self.capacity - TimeStretch.maximumPeriod - buffered else { return false }
        for i in 0..<frame.count { samples[buffered + i] = frame[i] }
        buffered += frame.count
        return true
    }

    /// Writes the next 960 samples into `output` (zeros past what is waiting), first removing or
    /// inserting one pitch period in the waiting audio when the filtered delay is beyond its limits.
    /// - Parameters:
    ///   - level: the site's whole playout delay now, in samples: what its jitter buffer holds plus `buffered`.
    ///   - target: the delay it should have, in samples (the jitter buffer's target).
    public func play(into output: UnsafeMutableBufferPointer<Int16>, level: Int, target: Int) {
        let a = Self.smoothing(target: target)
        filteredLevel = filteredLevel.map { a * $0 + (1 - a) * Double(level) } ?? Double(level)
        let (low, _) = Self.limits(target: target)
        if stretching, playedSinceAdjustment >= Self.adjustmentSpacing, let filtered = filteredLevel {
            // Accelerating removes up to the longest period: only with enough waiting that a whole frame remains.
            let accelerate = wantsToShed(target: target) && buffered >= Self.accelerationMinimum
            let expand = filtered < Double(low) && buffered >= TimeStretch.minimumInput
            if accelerate || expand {
                let waiting = UnsafeBufferPointer(rebasing: samples[0..<buffered])
                let outcome = accelerate ? stretch.accelerate(waiting, into: scratch) : stretch.preemptiveExpand(waiting, into: scratch)
                if outcome.change > 0, outcome.count <= Self.capacity {
                    for i in 0..<outcome.count { samples[i] = scratch[i] }
                    buffered = outcome.count
                    if accelerate {
                        removedSamplesForAcceleration += outcome.change
                        filteredLevel = filtered - Double(outcome.change)
                    } else {
                        insertedSamplesForDeceleration += outcome.change
                        filteredLevel = filtered + Double(outcome.change)
                    }
                    playedSinceAdjustment = 0
                }
            }
        }
        let count = min(output.count, Self.frameSamples)
        let played = min(count, buffered)
        for i in 0..<played { output[i] = samples[i] }
        for i in played..<count { output[i] = 0 }
        // What is left moves to the front (at most the capacity; bounded).
        for i in 0..<(buffered - played) { samples[i] = samples[played + i] }
        buffered -= played
        playedSinceAdjustment = min(Self.adjustmentSpacing, playedSinceAdjustment + played)
    }
}
