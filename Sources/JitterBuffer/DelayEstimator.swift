/// Estimates the playout delay a stream needs, after WebRTC NetEq's approach: each packet's delay
/// relative to the fastest packet of the last two seconds (so clock drift moves the baseline
/// instead of inflating the estimate), a histogram of those delays that slowly forgets, and a
/// target at its 95th percentile plus one frame.
///
/// Allocation-free after `init`. Times are milliseconds on the caller's clock.
struct DelayEstimator {
    static let bucketMilliseconds = 5
    static let bucketCount = 200  // up to one second
    /// Weight kept per packet: about a 30 s memory at 50 packets/s, so the target falls slowly.
    static let forgetFactor = 0.9993
    static let windowMilliseconds: Int64 = 2000

    private var histogram = [Double](repeating: 0, count: bucketCount)
    private var total = 0.0
    /// Recent (arrival, transit) pairs for the 2 s minimum; a fixed ring.
    private var recentArrival = [Int64](repeating: 0, count: 128)
    private var recentTransit = [Int64](repeating: 0, count: 128)
    private var recentCount = 0
    private var recentNext = 0
    private(set) var lastRelativeDelay: Int64 = 0

    /// Records a packet that arrived at `arrival` carrying media time `mediaMilliseconds`.
    mutating func record(arrival: Int64, mediaMilliseconds: Int64) {
        let transit = arrival - mediaMilliseconds
        recentArrival[recentNext] = arrival
        recentTransit[recentNext] = transit
        recentNext = (recentNext + 1) % recentArrival.count
        recentCount = min(recentCount + 1, recentArrival.count)
        var fastest = transit
        for i in 0..<recentCount where arrival - recentArrival[i] <= Self.windowMilliseconds {
            fastest = min(fastest, recentTransit[i])
        }
        let relative = max(0, transit - fastest)
        lastRelativeDelay = relative
        for i in 0..<Self.bucketCount { histogram[i] *= Self.forgetFactor }
        total = total * Self.forgetFactor + 1
        histogram[min(Self.bucketCount - 1, Int(relative) / Self.bucketMilliseconds)] += 1
    }

    /// The delay below which `quantile` of packets arrived, in milliseconds (bucket upper edge).
    func delay(atQuantile quantile: Double) -> Int64 {
        guard total > 0 else { return 0 }
        var sum = 0.0
        for i in 0..<Self.bucketCount {
            sum += histogram[i]
            if sum >= quantile * total { return Int64((i + 1) * Self.bucketMilliseconds) }
        }
        return Int64(Self.bucketCount * Self.bucketMilliseconds)
    }

    /// Forgets everything (a new source).
    mutating func reset() {
        for i in 0..<Self.bucketCount { histogram[i] = 0 }
        total = 0
        recentCount = 0
        recentNext = 0
        lastRelativeDelay = 0
    }
}
