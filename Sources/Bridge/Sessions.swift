import Admission
import KeyDerivation
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
    /// The native join's signalling connection (notices go there); nil for a WebRTC peer, whose
    /// session is named by ``token`` (its URL, a capability: only the site that joined knows it).
    let connection: TCPConnection?
    let token: String?
    /// The link to an upstream MCU (a meeting booked with `--cascade-up`), admitted as the host's upstream site: it
    /// holds no key of this bridge's, so no revocation ends it; the meeting's end and cancellation do.
    let cascadeLink: Bool
    /// The session's SSRCs, drawn by the table as it registers the session (distinct from each
    /// other and from every other session's).
    let ssrcs: SessionSSRCs
    let sendLock = Mutex(())
    /// A WebRTC session's notices (JSON lines with the time they were given), latest last, at most
    /// ``maximumNotices``: its page reads them, having no connection to be told on.
    private let kept = Mutex<[String]>([])
    static let maximumNotices = 10
    /// Touched only by the schedule follower.
    var warnedAt: Set<Int> = []
    var knownEnd: Timestamp

    init(site: Site, meeting: MeetingID, generation: Int, connection: TCPConnection?, token: String? = nil, end: Timestamp,
         ssrcs: SessionSSRCs, cascadeLink: Bool = false) {
        self.token = token
        self.cascadeLink = cascadeLink
        self.site = site
        self.ssrcs = ssrcs
        self.meeting = meeting
        self.generation = generation
        self.connection = connection
        knownEnd = end
    }

    func send(_ message: [String: Any]) {
        guard let connection else {
            var notice = message
            notice["at"] = iso(Timestamp(wallClock().seconds))
            let line = JoinProtocol.encode(notice)
            kept.withLock { $0 = Array(($0 + [line]).suffix(Self.maximumNotices)) }
            return
        }
        let line = JoinProtocol.encode(message)
        sendLock.withLock { _ in try? connection.send(line: line) }
    }

    /// The notices kept for a WebRTC session, oldest first.
    func notices() -> [[String: Any]] { kept.withLock { $0 }.compactMap(JoinProtocol.decode) }
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
    var count: Int { sessions.withLock { $0.count } }

    /// The WebRTC session with this token.
    /// The session a WebRTC token names; the token (a capability) is compared in constant time with every session's.
    func session(token: String) -> Admitted? {
        let wanted = Array(token.utf8)
        return sessions.withLock { table in
            var found: Admitted? = nil
            for session in table.values {
                guard let own = session.token else { continue }
                if HMACSHA256.constantTimeEqual(Array(own.utf8), wanted) { found = session }
            }
            return found
        }
    }

    /// Whether `session` is still its site's current one.
    func isCurrent(_ session: Admitted) -> Bool { sessions.withLock { $0[session.site.index] === session } }

    enum Admission {
        /// Registered; the site's previous session, if any, to be told it was replaced.
        case admitted(Admitted, replaced: Admitted?)
        /// The key the site proved is no longer its key.
        case keyChanged
    }

    /// Registers the session `make` builds as its site's current one, if `keyStillValid` (called
    /// under the table's lock, so that a revocation pass, which reads the table after the keys
    /// changed, cannot miss it). Its SSRCs are drawn here: none shared with another session (the
    /// media port tells sites apart by SSRC) nor between its own streams.
    func admit(keyStillValid: () -> Bool, make: (SessionSSRCs) -> Admitted) -> Admission {
        sessions.withLock { sessions -> Admission in
            guard keyStillValid() else { return .keyChanged }
            let session = make(SessionSSRCs.draw(avoiding: Set(sessions.values.flatMap(\.ssrcs.all))))
            let old = sessions[session.site.index]
            sessions[session.site.index] = session
            return .admitted(session, replaced: old)
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
        removed.connection?.shutdownBoth()
        Log.info("session-ended", ["site": removed.site.id, "meeting": removed.meeting, "reason": reason])
    }
}
