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
    /// The source sequence number the stream switched on: nothing older is forwarded or repaired.
    var firstSourceSequence: UInt16 = 0
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
    mutating func switchTo(_ site: Int, sequence: UInt16, timestamp: UInt32, now: Int64) {
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
        firstSourceSequence = sequence
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

/// Everything the router keeps about one site: as a source (limits, repair cache, keyframe
/// request throttle) and as a receiver (its two streams), with its figures.
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
    private var byteAllowance = Allowance()
    private var packetAllowance = Allowance()
    private var repairAllowance = Allowance()

    // The repair cache, allocated on the first video packet.
    private let cacheSlots: Int
    private var storage: UnsafeMutableRawBufferPointer?
    private var slotSize = 0
    private var lengths: [Int] = []
    private var sequences: [UInt16] = []
    private var arrivals: [Int64] = []

    init(presenterSSRC: UInt32, speakerSSRC: UInt32, cacheSlots: Int) {
        streams = [OutgoingStream(ssrc: presenterSSRC), OutgoingStream(ssrc: speakerSSRC)]
        self.cacheSlots = cacheSlots
    }

    deinit { storage?.deallocate() }

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

    func cache(_ packet: UnsafeRawBufferPointer, sequence: UInt16, arrival: Int64) {
        if storage == nil {
            slotSize = max(packet.count, 1500)
            storage = .allocate(byteCount: cacheSlots * slotSize, alignment: 8)
            lengths = [Int](repeating: 0, count: cacheSlots)
            sequences = [UInt16](repeating: 0, count: cacheSlots)
            arrivals = [Int64](repeating: 0, count: cacheSlots)
        }
        guard let storage, packet.count <= slotSize, let base = packet.baseAddress else { return }
        let slot = Int(sequence) & (cacheSlots - 1)
        (storage.baseAddress! + slot * slotSize).copyMemory(from: base, byteCount: packet.count)
        lengths[slot] = packet.count
        sequences[slot] = sequence
        arrivals[slot] = arrival
    }

    /// The cached packet with this sequence number, if it is still within the repair window.
    func cached(_ sequence: UInt16, now: Int64, window: Int64) -> UnsafeRawBufferPointer? {
        guard let storage else { return nil }
        let slot = Int(sequence) & (cacheSlots - 1)
        guard lengths[slot] > 0, sequences[slot] == sequence, now - arrivals[slot] <= window else { return nil }
        return UnsafeRawBufferPointer(start: storage.baseAddress! + slot * slotSize, count: lengths[slot])
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
