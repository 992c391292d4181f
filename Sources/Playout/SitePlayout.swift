/// One site's decoded audio between its decoder and the mixer: a FIFO of samples from which the
/// mixer takes exactly one 20 ms frame (960 samples) a tick, while the audio still waiting is
/// shortened or lengthened by one pitch period (`TimeStretch`) so that the site's playout delay
/// follows its target in speech, not only in pauses.
///
/// The owner (the media thread) decodes a frame into it whenever `needsFrame(delayError:)` says so, before
/// `play`, and tells `play` how far the site's whole playout delay (what its jitter buffer holds
/// plus `buffered` here) is from the target. At most one adjustment is made per 50 ms of audio
/// played (NetEq's pace). Fixed capacity, allocated once; no allocation per call; no clock.
public final class SitePlayout {
    public static let frameSamples = 960
    /// Room for what a tick can leave waiting (less than a frame), one decoded frame, the analysis
    /// span a stretch wants (30 ms), and one inserted period.
    public static let capacity = 2 * frameSamples + TimeStretch.analysisLength + TimeStretch.maximumPeriod
    /// The delay error (in samples) beyond which the waiting audio is stretched: half a frame, 10 ms.
    public static let tolerance = frameSamples / 2
    /// Samples played between two adjustments at least (50 ms).
    public static let adjustmentSpacing = 2_400

    /// Decoded samples waiting to be played.
    public private(set) var buffered = 0
    /// webrtc-stats' removedSamplesForAcceleration.
    public private(set) var removedSamplesForAcceleration = 0
    /// webrtc-stats' insertedSamplesForDeceleration.
    public private(set) var insertedSamplesForDeceleration = 0

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

    /// Whether a decoded frame should be appended before `play` with this `delayError`: when less
    /// than a frame is waiting, or when the delay is to be shed now and less than the 30 ms a stretch
    /// analyses is waiting (taking a frame early from the jitter buffer moves delay here; it adds none).
    public func needsFrame(delayError: Int) -> Bool {
        if buffered < Self.frameSamples { return true }
        return delayError > Self.tolerance && playedSinceAdjustment >= Self.adjustmentSpacing
            && buffered < TimeStretch.analysisLength
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
    /// inserting one pitch period in the waiting audio when `delayError` (the site's playout delay
    /// minus its target, in samples) is beyond `tolerance` and the last adjustment was 50 ms ago or more.
    public func play(into output: UnsafeMutableBufferPointer<Int16>, delayError: Int) {
        if playedSinceAdjustment >= Self.adjustmentSpacing, abs(delayError) > Self.tolerance {
            let waiting = UnsafeBufferPointer(rebasing: samples[0..<buffered])
            let outcome = delayError > 0 ? stretch.accelerate(waiting, into: scratch)
                                         : stretch.preemptiveExpand(waiting, into: scratch)
            if outcome.change > 0, outcome.count <= Self.capacity {
                for i in 0..<outcome.count { samples[i] = scratch[i] }
                buffered = outcome.count
                if delayError > 0 { removedSamplesForAcceleration += outcome.change } else { insertedSamplesForDeceleration += outcome.change }
                playedSinceAdjustment = 0
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
