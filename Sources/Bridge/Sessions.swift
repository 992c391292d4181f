import Admission
import CivilTime
import Scheduler
import SiteDirectory
import Synchronization
import Transport

/// A site admitted to a meeting, as the control threads track it.
final class Admitted: @unchecked Sendable {
    let site: Site
    let meeting: MeetingID
    let generation: Int
    let connection: TCPConnection
    let sendLock = Mutex(())
    /// Touched only by the schedule follower.
    var warnedAt: Set<Int> = []
    var knownEnd: Timestamp

    init(site: Site, meeting: MeetingID, generation: Int, connection: TCPConnection, end: Timestamp) {
        self.site = site
        self.meeting = meeting
        self.generation = generation
        self.connection = connection
        knownEnd = end
    }

    func send(_ message: [String: Any]) {
        let line = JoinProtocol.encode(message)
        sendLock.withLock { _ in try? connection.send(line: line) }
    }
}

/// The admitted-sites table: at most one session per site, shared by the join, schedule-follower
/// and control threads.
final class SessionTable: Sendable {
    private let sessions = Mutex<[Int: Admitted]>([:])
    private let mailbox: MediaMailbox
    private let quality: QualityMonitor

    init(mailbox: MediaMailbox, quality: QualityMonitor) {
        self.mailbox = mailbox
        self.quality = quality
    }

    var all: [Admitted] { sessions.withLock { Array($0.values) } }

    enum Admission {
        /// Registered; the site's previous session, if any, to be told it was replaced.
        case admitted(replaced: Admitted?)
        /// The key the site proved is no longer its key.
        case keyChanged
    }

    /// Registers `session` as its site's current one, if `keyStillValid` (called under the table's
    /// lock, so that a revocation pass, which reads the table after the keys changed, cannot miss it).
    func admit(_ session: Admitted, keyStillValid: () -> Bool) -> Admission {
        sessions.withLock { sessions -> Admission in
            guard keyStillValid() else { return .keyChanged }
            let old = sessions[session.site.index]
            sessions[session.site.index] = session
            return .admitted(replaced: old)
        }
    }

    /// Ends a site's session (if `session` is still its current one).
    func end(site: Int, session: Admitted? = nil, reason: String, notify: Bool = true) {
        let removed = sessions.withLock { sessions -> Admitted? in
            guard let current = sessions[site], session == nil || current === session else { return nil }
            sessions[site] = nil
            return current
        }
        guard let removed else { return }
        mailbox.post(.remove(site: site, reason: reason))
        quality.ended(site: site, meeting: removed.meeting, reason: reason)
        if notify { removed.send(["type": "ended", "reason": reason]) }
        removed.connection.shutdownBoth()
        Log.info("session-ended", ["site": removed.site.id, "meeting": removed.meeting, "reason": reason])
    }
}
