/// One receiver stream's rewriting state: which source it shows and how that source's sequence
/// numbers and timestamps map onto the stream's.
struct OutgoingStream {
    let ssrc: UInt32
    var source: Int?
    /// The source a switch waits for (its keyframe), and since when.
    var pending: Int?
    var pendingSince: Int64 = 0
    var sequenceDelta: UInt16 = 0
    var timestampDelta: UInt32 = 0
    /// The source's extended sequence number (``SiteState/extendSequence(_:)``) of the packet the
    /// stream switched on: nothing older is forwarded. Extended, so the comparison holds across any
    /// number of wraps of the 16-bit numbers.
    var firstSourceSequence: Int64 = 0
    private var started = false
    private var highestSequence: UInt16
    private var lastTimestamp: UInt32
    private var lastSentAt: Int64 = 0

    init(ssrc: UInt32) {
        self.ssrc = ssrc
        highestSequence = UInt16(truncatingIfNeeded: ssrc >> 7)
        lastTimestamp = ssrc &* 2_654_435_761
    }

    /// Maps the source onto the stream so its first packet follows the last one sent without a gap,
    /// and its timestamp moves on by the wall-clock time since then (at least one tick).
    mutating func switchTo(_ site: Int, sequence: UInt16, extendedSequence: Int64, timestamp: UInt32, now: Int64) {
        let nextSequence = highestSequence &+ 1
        var nextTimestamp = lastTimestamp &+ 1
        if started {
            let elapsed = max(1, min(Int64(90_000 * 10), (now - lastSentAt) * 9 / 100_000))
            nextTimestamp = lastTimestamp &+ UInt32(elapsed)
        }
        source = site
        pending = nil
        sequenceDelta = nextSequence &- sequence
        timestampDelta = nextTimestamp &- timestamp
        firstSourceSequence = extendedSequence
    }

    /// The stream's sequence number and timestamp for a source packet (recording the newest sent).
    mutating func outgoing(sequence: UInt16, timestamp: UInt32, now: Int64) -> (UInt16, UInt32) {
        let outSequence = sequence &+ sequenceDelta
        let outTimestamp = timestamp &+ timestampDelta
        if !started || Int16(bitPattern: outSequence &- highestSequence) > 0 {
            highestSequence = outSequence
            lastTimestamp = outTimestamp
            lastSentAt = now
            started = true
        }
        return (outSequence, outTimestamp)
    }
}

/// Everything the router keeps about one site: as a source (limits, sequence extension, keyframe
/// request throttle) and as a receiver (its two streams and what was sent on them, for repairs),
/// with its figures.
final class SiteState {
    var streams: [OutgoingStream]
    var statistics = VideoSiteStatistics()

    // As a source.
    var lastVideoAt: Int64?
    var hasTimestamp = false
    var lastTimestamp: UInt32 = 0
    var sawKeyframe = false
    var lastKeyframeTimestamp: UInt32 = 0
    var lastRequestAt: Int64 = .min / 2
    var requestPending = false
    var keyframeSinceRequest = false
    var lastKeyframeAt: Int64 = .min / 2
    var pendingFIR = false
    /// The highest extended sequence number the site has sent (nil before its first video packet).
    private var highestSequence: Int64?
    private var byteAllowance = Allowance()
    private var packetAllowance = Allowance()
    private var repairAllowance = Allowance()

    /// As a receiver: its packets as sent, for repairs (allocated with the first one).
    var sent: SentPacketCache?

    init(presenterSSRC: UInt32, speakerSSRC: UInt32) {
        streams = [OutgoingStream(ssrc: presenterSSRC), OutgoingStream(ssrc: speakerSSRC)]
    }

    /// The 16-bit sequence number of a packet the site sent, extended to 64 bits from the highest so
    /// far (RFC 3550 A.1): later packets compare as later however many times the numbers wrapped.
    func extendSequence(_ sequence: UInt16) -> Int64 {
        guard let highest = highestSequence else {
            highestSequence = Int64(sequence) + 0x1_0000  // room below for packets reordered before it
            return highestSequence!
        }
        // A step of exactly half the space counts forward, as libsrtp2 estimates the index.
        let step = Int64(Int16(bitPattern: sequence &- UInt16(truncatingIfNeeded: highest)))
        let extended = highest + (step == -32_768 ? 32_768 : step)
        if extended > highest { highestSequence = extended }
        return extended
    }

    func kind(ofSSRC ssrc: UInt32) -> VideoStreamKind? {
        if streams[0].ssrc == ssrc { return .presenter }
        if streams[1].ssrc == ssrc { return .speaker }
        return nil
    }

    /// Whether a packet of `bytes` the site sends is within its byte and packet allowances (taken if so).
    func admit(bytes: Int, now: Int64, policy: VideoPolicy) -> Bool {
        byteAllowance.refill(rate: Double(policy.maximumBitsPerSecond) / 8, now: now)
        packetAllowance.refill(rate: Double(policy.maximumPacketsPerSecond), now: now)
        guard byteAllowance.tokens >= Double(bytes), packetAllowance.tokens >= 1 else { return false }
        byteAllowance.tokens -= Double(bytes)
        packetAllowance.tokens -= 1
        return true
    }

    /// Whether one more packet may be sent again to this receiver in answer to its NACKs (taken if so).
    func admitRepair(now: Int64, policy: VideoPolicy) -> Bool {
        repairAllowance.refill(rate: Double(policy.maximumRepairsPerSecond), now: now)
        guard repairAllowance.tokens >= 1 else { return false }
        repairAllowance.tokens -= 1
        return true
    }
}

/// A token bucket that holds at most one second of its rate (full at first use).
struct Allowance {
    var tokens = 0.0
    private var refilledAt: Int64? = nil

    mutating func refill(rate: Double, now: Int64) {
        tokens = refilledAt.map { min(rate, tokens + Double(max(0, now - $0)) / 1e9 * rate) } ?? rate
        refilledAt = now
    }
}
