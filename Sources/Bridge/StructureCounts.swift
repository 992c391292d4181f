import Synchronization

/// How many entries each per-site and per-peer table of the bridge holds, so a long meeting with sites coming and
/// going can show that nothing grows without bound (`vcbridge status --json`: `structures`; `Scripts/soak.sh`).
/// Each table is counted by the thread that owns it, at most once a second, and read by the control socket.
final class StructureCounts: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    private let due = Mutex<[String: Int64]>([:])

    /// Whether `owner` should count its tables now (once a second each).
    func isDue(_ owner: String, now: Int64) -> Bool {
        due.withLock { due in
            guard now >= due[owner, default: 0] else { return false }
            due[owner] = now + 1_000_000_000
            return true
        }
    }

    func publish(_ values: KeyValuePairs<String, Int>) {
        counts.withLock { counts in for (name, value) in values { counts[name] = value } }
    }

    var snapshot: [String: Int] { counts.withLock { $0 } }
}
