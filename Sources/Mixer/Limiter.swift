/// Keeps a mix from clipping: the gain drops at once to fit a frame's peak under the ceiling and
/// recovers slowly, ramped sample by sample so that changes do not click. Allocation-free.
public struct Limiter: Sendable {
    public static let ceiling: Int32 = 29_000  // about -1 dBFS
    /// Gain recovery per frame towards 1.
    static let release = 0.05
    public private(set) var gain = 1.0

    public init() {}

    /// Writes `sum` (possibly beyond 16 bits) into `output` at the limited gain.
    public mutating func process(_ sum: UnsafeBufferPointer<Int32>, into output: UnsafeMutableBufferPointer<Int16>) {
        var peak: Int32 = 0
        for s in sum { peak = max(peak, s.magnitude > UInt32(Int32.max) ? Int32.max : Int32(s.magnitude)) }
        let needed = peak > Self.ceiling ? Double(Self.ceiling) / Double(peak) : 1.0
        let target = min(needed, gain + Self.release * (1 - gain))
        let start = gain
        let step = (target - start) / Double(sum.count)
        var g = start
        for i in 0..<sum.count {
            g += step
            // A falling gain applies at once (never more than fits); a rising one ramps.
            let applied = min(g, needed)
            let value = Double(sum[i]) * applied
            output[i] = Int16(max(-32768, min(32767, value.rounded())))
        }
        gain = target
    }
}
