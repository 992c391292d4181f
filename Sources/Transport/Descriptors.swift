#if canImport(Glibc)
import Glibc
#endif

/// The process's limit on open descriptors (`RLIMIT_NOFILE`).
public enum DescriptorLimit {
    /// Raises the soft limit to the hard limit (every connection costs a descriptor).
    /// - Returns: the soft limit in force afterwards.
    @discardableResult
    public static func raise() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(limit.rlim_cur)
    }
}

extension DescriptorLimit {
    /// The soft limit in force.
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return -1 }
        return limit.rlim_cur == rlim_t.max ? Int.max : Int(limit.rlim_cur)
    }
}

/// Trouble in an accept loop, reported once per episode rather than once per failure: the first
/// failure after a quiet spell starts an episode (log it); the episode ends once accepts have not
/// failed for ``quietNanoseconds`` (log how many failed). Time is passed in (monotonic nanoseconds).
public struct AcceptTrouble: Sendable {
    public let quietNanoseconds: Int64
    private var failures = 0
    private var lastFailure: Int64 = 0

    public init(quietNanoseconds: Int64 = 10_000_000_000) { self.quietNanoseconds = quietNanoseconds }

    /// Whether an episode is going on.
    public var troubled: Bool { failures > 0 }

    /// Counts a failed accept. - Returns: true for the first failure of an episode.
    public mutating func failed(now: Int64) -> Bool {
        lastFailure = now
        failures += 1
        return failures == 1
    }

    /// Ends the episode if it has been quiet long enough. - Returns: how many accepts failed in it.
    public mutating func ended(now: Int64) -> Int? {
        guard failures > 0, now - lastFailure >= quietNanoseconds else { return nil }
        defer { failures = 0 }
        return failures
    }

    /// Whether `error` means the process or system ran out of descriptors (`EMFILE`, `ENFILE`).
    public static func isOutOfDescriptors(_ error: SocketError) -> Bool { error.code == EMFILE || error.code == ENFILE }

    /// How long to wait before the next accept after a failure: long enough not to spin, short enough
    /// that a join waits little once the trouble passes.
    public static let backoffNanoseconds: Int64 = 50_000_000
}
