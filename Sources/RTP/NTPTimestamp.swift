/// A 64-bit NTP timestamp (RFC 5905): seconds since 1900-01-01 and a 32-bit binary fraction.
public struct NTPTimestamp: Hashable, Sendable, Comparable {
    /// Seconds from 1900-01-01 to 1970-01-01.
    public static let unixEpochOffset: UInt64 = 2_208_988_800

    public var seconds: UInt32
    public var fraction: UInt32

    public init(seconds: UInt32, fraction: UInt32) {
        self.seconds = seconds
        self.fraction = fraction
    }

    /// The NTP time of a wall-clock instant given as Unix seconds and nanoseconds.
    public init(unixSeconds: Int64, nanoseconds: UInt32) {
        seconds = UInt32(truncatingIfNeeded: UInt64(bitPattern: unixSeconds &+ Int64(Self.unixEpochOffset)))
        fraction = UInt32((UInt64(nanoseconds) << 32) / 1_000_000_000)
    }

    /// The 64-bit value (seconds in the high half).
    public var rawValue: UInt64 { UInt64(seconds) << 32 | UInt64(fraction) }

    /// The middle 32 bits (16.16 fixed point), as carried in the LSR field of report blocks.
    public var compact: UInt32 { (seconds << 16) | (fraction >> 16) }

    public static func < (lhs: NTPTimestamp, rhs: NTPTimestamp) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// Compact NTP (16.16 fixed-point seconds) helpers for RTCP delay and round-trip fields.
public enum CompactNTP {
    /// Units per second of the compact form.
    public static let unitsPerSecond: Double = 65536

    /// A duration in compact units (saturating at the 32-bit maximum).
    public static func units(nanoseconds: UInt64) -> UInt32 {
        let units = (nanoseconds << 16) / 1_000_000_000
        return UInt32(min(units, UInt64(UInt32.max)))
    }

    public static func seconds(_ units: UInt32) -> Double { Double(units) / unitsPerSecond }

    /// Round-trip time from a report block received at `arrival` (compact NTP of the local clock):
    /// A - LSR - DLSR (RFC 3550 §6.4.1). Nil when the report carries no SR reference or the
    /// figures are inconsistent (negative result).
    public static func roundTrip(arrival: UInt32, lastSenderReport: UInt32, delaySinceLastSenderReport: UInt32) -> UInt32? {
        guard lastSenderReport != 0 else { return nil }
        let sinceSR = arrival &- lastSenderReport
        guard sinceSR >= delaySinceLastSenderReport, sinceSR < 0x8000_0000 else { return nil }
        return sinceSR - delaySinceLastSenderReport
    }
}
