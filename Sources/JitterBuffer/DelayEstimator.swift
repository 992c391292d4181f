/// Estimates the playout delay a stream needs, after WebRTC NetEq's approach: each packet's delay
/// relative to the fastest packet of the last two seconds (so clock drift moves the baseline
/// instead of inflating the estimate), a histogram of those delays that slowly forgets, and a
/// target at a high quantile of it (the 97th by default) plus one frame.
///
/// O(1) per packet: forgetting is done by weighting each new packet more (1/scale) instead of
/// shrinking every bucket, and the two-second minimum is kept in a monotonic queue.
/// Allocation-free after `init`. Times are milliseconds on the caller's clock.
struct DelayEstimator {
    static let bucketMilliseconds = 5
    static let bucketCount = 200  // up to one second
    /// Weight kept per packet: about a 30 s memory at 50 packets/s, so the target falls slowly.
    static let forgetFactor = 0.9993
    static let windowMilliseconds: Int64 = 2000
    static let queueCapacity = 256

    private var histogram = [Double](repeating: 0, count: bucketCount)
    private var total = 0.0
    /// The weight of the newest packet relative to the histogram's stored values.
    private var weight = 1.0
    /// Monotonic queue of (arrival, transit), transit increasing: its front is the window's minimum.
    private var queueArrival = [Int64](repeating: 0, count: queueCapacity)
    private var queueTransit = [Int64](repeating: 0, count: queueCapacity)
    private var head = 0
    private var count = 0
    private(set) var lastRelativeDelay: Int64 = 0

    /// Records a packet that arrived at `arrival` carrying media time `mediaMilliseconds`.
    mutating func record(arrival: Int64, mediaMilliseconds: Int64) {
        let transit = arrival - mediaMilliseconds
        // Drop entries that left the window, and those no smaller than the new one.
        while count > 0 && arrival - queueArrival[head] > Self.windowMilliseconds {
            head = (head + 1) % Self.queueCapacity
            count -= 1
        }
        while count > 0 && queueTransit[(head + count - 1) % Self.queueCapacity] >= transit { count -= 1 }
        if count == Self.queueCapacity {  // full of rising values: forget the oldest
            head = (head + 1) % Self.queueCapacity
            count -= 1
        }
        let tail = (head + count) % Self.queueCapacity
        queueArrival[tail] = arrival
        queueTransit[tail] = transit
        count += 1
        let relative = max(0, transit - queueTransit[head])
        lastRelativeDelay = relative

        weight /= Self.forgetFactor
        if weight > 1e100 {  // rescale before the weights overflow
            histogram.withUnsafeMutableBufferPointer { h in for i in h.indices { h[i] /= weight } }
            total /= weight
            weight = 1
        }
        total += weight
        histogram[min(Self.bucketCount - 1, Int(relative) / Self.bucketMilliseconds)] += weight
    }

    /// The delay below which `quantile` of packets arrived, in milliseconds (bucket upper edge).
    func delay(atQuantile quantile: Double) -> Int64 {
        guard total > 0 else { return 0 }
        let wanted = quantile * total
        return histogram.withUnsafeBufferPointer { h in
            var sum = 0.0
            for i in 0..<Self.bucketCount {
                sum += h[i]
                if sum >= wanted { return Int64((i + 1) * Self.bucketMilliseconds) }
            }
            return Int64(Self.bucketCount * Self.bucketMilliseconds)
        }
    }

    /// Forgets everything (a new source).
    mutating func reset() {
        for i in 0..<Self.bucketCount { histogram[i] = 0 }
        total = 0
        weight = 1
        head = 0
        count = 0
        lastRelativeDelay = 0
    }
}
