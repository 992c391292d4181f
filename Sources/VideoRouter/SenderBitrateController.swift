#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bitrate the bridge asks one site's camera to keep under (REMB), from the loss on that
/// camera's video: a loss-based controller in the manner of Google Congestion Control's
/// (draft-ietf-rmcat-gcc-02 §6), updated about once a second.
///
/// - loss above 10 %: the rate is cut to rate × (1 − 0.5 × loss);
/// - loss below 2 %: the rate grows by 8 % a second (scaled to the time since the last update);
/// - in between: the rate holds;
/// - never above `cap` (the site's allowance, as set up for its session), never below `floor`.
///
/// Which loss: ``senderLoss(uplink:receivers:)``. Time is passed in (monotonic nanoseconds), so
/// hours can be simulated in a test; nothing here allocates.
public struct SenderBitrateController: Sendable, Equatable {
    /// No camera is asked to go below this. Under about 150 kb/s VP8 cannot keep a recognisable
    /// 320×240 picture at 15 frames a second, and a stream that thin carries so few packets a
    /// second (about 15 of 1,200 bytes) that one second's loss fraction becomes too coarse to act on.
    public static let floorBitsPerSecond = 150_000
    /// Loss above which the rate is cut, and below which it grows (GCC's 10 % and 2 %).
    public static let decreaseAbove = 0.10
    public static let increaseBelow = 0.02
    /// Growth a second on a clean link.
    public static let growthPerSecond = 1.08
    /// One update never counts more than this much time of growth: a pause in updates (no video
    /// for a while) is not a licence to jump to the cap at once.
    static let longestStepNanoseconds: Int64 = 2_000_000_000

    public let cap: Int
    public let floor: Int
    /// The rate last returned, in bits per second.
    public private(set) var bitsPerSecond: Int
    private var rate: Double
    private var updatedAt: Int64

    /// Starts at the cap (the rate REMB asked for before loss was taken into account).
    /// - Parameters:
    ///   - cap: the most the camera may send, bits per second.
    ///   - floor: the least it is asked for (lowered to `cap` if the cap is below it).
    ///   - now: the time of creation, monotonic nanoseconds.
    public init(cap: Int, floor: Int = floorBitsPerSecond, now: Int64) {
        self.cap = max(1, cap)
        self.floor = min(max(1, floor), self.cap)
        rate = Double(self.cap)
        bitsPerSecond = self.cap
        updatedAt = now
    }

    /// Takes the loss seen on the camera's video since the last update and returns the rate to ask for.
    /// - Parameters:
    ///   - loss: fraction lost, 0...1 (values outside are clamped); nil when nothing was measured
    ///     (no video came): the rate holds.
    ///   - now: monotonic nanoseconds.
    /// - Returns: the new rate, bits per second, within `floor...cap`.
    public mutating func update(loss: Double?, now: Int64) -> Int {
        let elapsed = min(Self.longestStepNanoseconds, max(0, now - updatedAt))
        updatedAt = max(updatedAt, now)
        if let loss {
            let loss = min(1, max(0, loss.isNaN ? 0 : loss))
            if loss > Self.decreaseAbove {
                rate *= 1 - 0.5 * loss
            } else if loss < Self.increaseBelow {
                rate *= pow(Self.growthPerSecond, Double(elapsed) / 1e9)
            }
        }
        rate = min(Double(cap), max(Double(floor), rate))
        bitsPerSecond = Int(rate.rounded())
        return bitsPerSecond
    }

    /// The loss a sender's rate follows: the larger of the loss on its uplink (what the bridge saw
    /// missing from the camera's stream) and the median of what the receivers showing that camera
    /// report. One receiver's bad downlink then does not throttle the camera for everyone, while a
    /// bad uplink, which every receiver suffers, always does. With an even number of reports the
    /// lower of the two middle ones is taken: when half the receivers are fine, the camera is not
    /// slowed for the other half.
    /// - Parameters:
    ///   - uplink: fraction lost on the way from the site to the bridge, nil if not measured.
    ///   - receivers: the receivers' reported fractions lost (sorted in place).
    /// - Returns: nil if nothing was measured at all.
    public static func senderLoss(uplink: Double?, receivers: inout [Double]) -> Double? {
        guard !receivers.isEmpty else { return uplink }
        // Insertion sort: at most two reports per receiver, and unlike `sort()` it allocates nothing.
        for i in receivers.indices.dropFirst() {
            let value = receivers[i]
            var j = i
            while j > 0 && receivers[j - 1] > value {
                receivers[j] = receivers[j - 1]
                j -= 1
            }
            receivers[j] = value
        }
        let median = receivers[(receivers.count - 1) / 2]
        return max(uplink ?? 0, median)
    }
}
