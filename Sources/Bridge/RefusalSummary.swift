/// Refusals of unauthenticated peers, counted and summarised so that a flood of bad joins cannot
/// flood the log: per reason, the first refusal after a quiet period is logged as it happens; the
/// ones after it are counted, and when the window (a minute) ends one line gives their count and a
/// few sample addresses. A reason's lines are therefore at least a window apart. Time is passed in
/// (monotonic nanoseconds), so the behaviour over hours is tested without sleeping.
struct RefusalSummary {
    /// What to log.
    struct Line: Equatable, Sendable {
        var reason: String
        /// Refusals this line stands for: 1 for a refusal logged as it happens.
        var count: Int
        /// The refused peer's address (one for a single refusal, up to ``RefusalSummary/samples`` distinct hosts for a summary).
        var peers: [String]
        /// The site the peer named, for a single refusal.
        var site: String?
        /// Seconds the summary covers (nil for a single refusal).
        var seconds: Int?
    }

    private struct Window {
        var start: Int64
        var count = 0
        var peers: [String] = []
    }

    let windowNanoseconds: Int64
    let samples: Int
    private var windows: [String: Window] = [:]
    /// Refusal reasons with a window open.
    var count: Int { windows.count }

    init(windowNanoseconds: Int64 = 60_000_000_000, samples: Int = 5) {
        self.windowNanoseconds = windowNanoseconds
        self.samples = samples
    }

    /// Counts one refusal.
    /// - Returns: the line to log now (the first of a quiet reason), or nil when it is counted for the summary.
    mutating func refused(reason: String, peer: String, site: String?, now: Int64) -> Line? {
        var lines: [Line] = []
        close(reason, now: now, into: &lines)
        guard var window = windows[reason] else {
            windows[reason] = Window(start: now)
            return Line(reason: reason, count: 1, peers: [peer], site: site, seconds: nil)
        }
        window.count += 1
        let host = Self.host(of: peer)
        if window.peers.count < samples && !window.peers.contains(host) { window.peers.append(host) }
        windows[reason] = window
        return lines.first  // a window that just closed has its summary to give as well: never both counted and lost
    }

    /// The summaries of windows that have ended by `now` (call it about once a second).
    mutating func due(now: Int64) -> [Line] {
        var lines: [Line] = []
        for reason in windows.keys.sorted() { close(reason, now: now, into: &lines) }
        return lines
    }

    /// Every count not yet reported (at shutdown).
    mutating func flush(now: Int64) -> [Line] {
        var lines: [Line] = []
        for reason in windows.keys.sorted() {
            guard let window = windows[reason], window.count > 0 else { continue }
            lines.append(Line(reason: reason, count: window.count, peers: window.peers, site: nil,
                              seconds: Int((now - window.start + 999_999_999) / 1_000_000_000)))
        }
        windows.removeAll()
        return lines
    }

    /// Ends `reason`'s window if its time is up: a summary if anything was counted (and a new window
    /// starts, so a steady flood gives one line a window); otherwise the reason is quiet again.
    private mutating func close(_ reason: String, now: Int64, into lines: inout [Line]) {
        guard let window = windows[reason], now - window.start >= windowNanoseconds else { return }
        if window.count == 0 {
            windows[reason] = nil
            return
        }
        lines.append(Line(reason: reason, count: window.count, peers: window.peers, site: nil,
                          seconds: Int(windowNanoseconds / 1_000_000_000)))
        windows[reason] = Window(start: window.start + windowNanoseconds * ((now - window.start) / windowNanoseconds))
    }

    /// The host part of `address:port` or `[v6]:port`.
    static func host(of address: String) -> String {
        if address.hasPrefix("["), let end = address.firstIndex(of: "]") { return String(address[address.index(after: address.startIndex)..<end]) }
        if let colon = address.lastIndex(of: ":"), address.firstIndex(of: ":") == colon { return String(address[..<colon]) }
        return address
    }
}
