import Scheduler

/// When the bridge calls the halls it dials out to (`sip.dialOut`): pure bookkeeping on time passed in (milliseconds),
/// no sockets; `SIPFrontEnd+DialOut.swift` carries out what it decides.
///
/// A site is wanted while one of its meetings is reserved (setup window included) and not over. A wanted site with no
/// session and no call in progress is dialled; at most ``Limits/maxDialling`` calls ring at once (the rest wait for a
/// later step, in site order) and a site has at most one call. A call that fails, or a session that ends while the
/// site is still wanted, is tried again after a backoff: ``Limits/firstRetryMilliseconds`` doubling up to
/// ``Limits/maxRetryMilliseconds``, each delay moved by up to ±``Limits/jitter`` of itself (so that halls that
/// dropped together are not all called again in the same instant). A call that lasted
/// ``Limits/stableMilliseconds`` starts the backoff afresh.
struct SIPDialPlan {
    struct Limits {
        var maxDialling = 8
        var firstRetryMilliseconds: Int64 = 5_000
        var maxRetryMilliseconds: Int64 = 60_000
        var jitter = 0.2
        var stableMilliseconds: Int64 = 60_000
        /// A call that neither failed nor was answered in this long counts as failed (the caller gives calls up
        /// sooner, after the ring time; this keeps a lost report from holding the site and a ringing slot forever).
        var staleDiallingMilliseconds: Int64 = 330_000
    }

    /// One call to place.
    struct Dial: Hashable {
        let site: Int
        let meeting: MeetingID
        /// 1 for the first call of a meeting, then one more for each retry.
        let attempt: Int
    }

    enum State: Hashable {
        /// A call is ringing (placed at `since`).
        case dialling(since: Int64)
        /// The site has a session (this bridge's call or one of its own).
        case connected(since: Int64)
        /// The next call goes out at `at`.
        case waiting(until: Int64)
    }

    private struct Entry {
        var meeting: MeetingID
        var state: State
        var failures = 0
        var attempts = 0
    }

    let limits: Limits
    /// A number in [-1, 1] for the jitter (injected: tests pass a fixed one).
    private let random: () -> Double
    private var entries: [Int: Entry] = [:]

    init(limits: Limits = Limits(), random: @escaping () -> Double = { Double.random(in: -1...1) }) {
        self.limits = limits
        self.random = random
    }

    func state(of site: Int) -> State? { entries[site]?.state }

    /// How many calls ring now.
    var dialling: Int { entries.values.filter { if case .dialling = $0.state { true } else { false } }.count }

    /// One step: `wanted` maps each dial-out site to the meeting it should be in now; `connected` holds the sites that
    /// have a session. Returns the calls to place now (each is then ``dialling``: report how it ends with
    /// ``failed(site:now:)`` or ``answered(site:now:)``), and the sites no longer wanted whose call still rings
    /// (to give up).
    mutating func step(now: Int64, wanted: [Int: MeetingID], connected: Set<Int>) -> (dial: [Dial], abandon: [Int]) {
        var abandon: [Int] = []
        for (site, entry) in entries where wanted[site] == nil {
            if case .dialling = entry.state { abandon.append(site) }
            entries[site] = nil
        }
        var dials: [Dial] = []
        var ringing = dialling
        for site in wanted.keys.sorted() {
            let meeting = wanted[site]!
            var entry = entries[site] ?? Entry(meeting: meeting, state: .waiting(until: now))
            if entry.meeting != meeting {  // the next meeting: a fresh start
                entry = Entry(meeting: meeting, state: entry.state)
                if case .waiting = entry.state { entry.state = .waiting(until: now) }
            }
            switch entry.state {
            case .connected(let since):
                if !connected.contains(site) {  // dropped: try again after a backoff
                    if now - since >= limits.stableMilliseconds { entry.failures = 0 }
                    entry.failures += 1
                    entry.state = .waiting(until: now + delay(afterFailures: entry.failures))
                }
            case .waiting(let until):
                if connected.contains(site) {
                    entry.state = .connected(since: now)
                } else if now >= until, ringing < limits.maxDialling {
                    entry.attempts += 1
                    entry.state = .dialling(since: now)
                    ringing += 1
                    dials.append(Dial(site: site, meeting: meeting, attempt: entry.attempts))
                }
            case .dialling(let since):
                if now - since >= limits.staleDiallingMilliseconds {  // never reported: counted as failed
                    entry.failures += 1
                    entry.state = .waiting(until: now + delay(afterFailures: entry.failures))
                    ringing -= 1
                }
            }
            entries[site] = entry
        }
        return (dials, abandon)
    }

    /// The call to `site` failed (refused, unanswered, or answered with what cannot be used): the next one waits.
    /// Returns the wait in milliseconds.
    @discardableResult
    mutating func failed(site: Int, now: Int64) -> Int64 {
        guard var entry = entries[site] else { return 0 }
        entry.failures += 1
        let wait = delay(afterFailures: entry.failures)
        entry.state = .waiting(until: now + wait)
        entries[site] = entry
        return wait
    }

    /// The call to `site` was answered and admitted.
    mutating func answered(site: Int, now: Int64) {
        entries[site]?.state = .connected(since: now)
    }

    /// The backoff after `failures` failures in a row, jitter included.
    private func delay(afterFailures failures: Int) -> Int64 {
        var base = limits.firstRetryMilliseconds
        for _ in 1..<max(1, min(failures, 16)) where base < limits.maxRetryMilliseconds { base *= 2 }
        base = min(base, limits.maxRetryMilliseconds)
        let jittered = Double(base) * (1 + limits.jitter * max(-1, min(1, random())))
        return max(0, Int64(jittered))
    }
}
