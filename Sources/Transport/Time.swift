#if canImport(Glibc)
import Glibc
#endif

/// Nanoseconds on the monotonic clock: for media timing, never for dates.
public func monotonicNanoseconds() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Int64(ts.tv_sec) * 1_000_000_000 + Int64(ts.tv_nsec)
}

/// The wall clock as Unix seconds and nanoseconds (for NTP timestamps in RTCP).
public func wallClock() -> (seconds: Int64, nanoseconds: UInt32) {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return (Int64(ts.tv_sec), UInt32(ts.tv_nsec))
}

/// Moves a value into another thread's closure when that thread becomes its only user.
public struct Handoff<T>: @unchecked Sendable {
    public let value: T
    public init(value: T) { self.value = value }
}
