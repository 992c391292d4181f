#if canImport(Glibc)
import Glibc
#endif
import Transport

/// Failed join attempts, told on stderr without flooding it: the first failure at once, then at most one line per
/// ``interval`` naming the latest failure and how many more attempts (by how many sites) failed since the last line.
/// A site that retries every 250 ms while the bridge is down (or 147 of them) writes one line every 5 s, not hundreds.
/// Time is passed in (monotonic nanoseconds).
struct JoinFailureLog {
    let interval: Int64
    /// The word before each line ("endpoint", "loadtest").
    let prefix: String
    private var lastLineAt: Int64?
    private var unreported = 0
    private var unreportedSites: Set<String> = []

    init(prefix: String, interval: Int64 = 5_000_000_000) {
        self.prefix = prefix
        self.interval = interval
    }

    /// One attempt failed.
    /// - Returns: the line to write now, or nil when one was written less than ``interval`` ago (the attempt is
    ///   counted in the next line).
    mutating func failed(site: String, attempt: Int, error: String, now: Int64) -> String? {
        if let last = lastLineAt, now - last < interval {
            unreported += 1
            unreportedSites.insert(site)
            return nil
        }
        var line = "\(prefix): join attempt \(attempt) of site \(site) failed: \(error)"
        if unreported > 0 {
            line += " (and \(unreported) more failed attempt\(unreported == 1 ? "" : "s") by \(unreportedSites.count) "
                + "site\(unreportedSites.count == 1 ? "" : "s") since the last line)"
        }
        line += "; trying again with backoff until the duration ends"
        lastLineAt = now
        unreported = 0
        unreportedSites.removeAll()
        return line
    }

    /// What went wrong, in words: a refused connection is named as the bridge not running (or not listening) yet.
    static func describe(_ error: any Error, bridge: SocketAddress) -> String {
        if let socketError = error as? SocketError, socketError == .connectionRefused {
            return "nothing listens at \(bridge) (connection refused: the bridge is not running, or not listening yet)"
        }
        return "\(error)"
    }

    /// Writes a line to standard error.
    static func write(_ line: String) {
        let text = line + "\n"
        _ = text.withCString { Glibc.write(2, $0, strlen($0)) }
    }
}
