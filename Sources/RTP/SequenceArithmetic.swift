/// Comparisons of 16-bit RTP sequence numbers and 32-bit timestamps across wrap-around.
///
/// `a` is newer than `b` when the forward distance from `b` to `a` is less than half the space,
/// so sequence 0 is newer than 65535 and 5 is older than 65530 + 20.
public enum Wrapping {
    /// Signed distance from sequence `b` forward to `a`: positive when `a` is newer.
    @inlinable
    public static func sequenceDistance(from b: UInt16, to a: UInt16) -> Int {
        Int(Int16(bitPattern: a &- b))
    }

    @inlinable
    public static func isNewerSequence(_ a: UInt16, than b: UInt16) -> Bool {
        sequenceDistance(from: b, to: a) > 0
    }

    /// Signed distance from timestamp `b` forward to `a`: positive when `a` is later.
    @inlinable
    public static func timestampDistance(from b: UInt32, to a: UInt32) -> Int64 {
        Int64(Int32(bitPattern: a &- b))
    }

    @inlinable
    public static func isLaterTimestamp(_ a: UInt32, than b: UInt32) -> Bool {
        timestampDistance(from: b, to: a) > 0
    }
}
