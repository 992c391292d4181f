#if canImport(Glibc)
import Glibc
#endif
import Admission
import CivilTime
import Scheduler
import Transport

/// The schedule follower: every 250 ms reads what was appended to the journal, sends the 5- and
/// 1-minute warnings and extensions, ends sessions whose meeting is over or cancelled, whose key
/// was revoked or rotated, or that the media thread reported lost.
final class ScheduleFollower: @unchecked Sendable {
    private unowned let bridge: BridgeServer
    /// The keys directory's stamp when the keys were last checked (touched only by this thread).
    private var lastKeysStamp: Int64 = -1

    init(bridge: BridgeServer) { self.bridge = bridge }

    func run() {
        while bridge.isRunning {
            usleep(250_000)
            step(now: Timestamp(wallClock().seconds))
        }
    }

    private func step(now: Timestamp) {
        let sessions = bridge.sessions
        for event in bridge.mailbox.events.withLock({ events -> [MediaEvent] in defer { events.removeAll() }; return events }) {
            // Only the session that was lost: the site may have joined again since the report.
            if case .lost(let site, _, let ssrc) = event, let lost = sessions.all.first(where: { $0.site.index == site && $0.ssrcs.siteAudio == ssrc }) {
                sessions.end(site: site, session: lost, reason: "lost")
            }
        }
        let admitted = sessions.all
        let meetings = bridge.store.withLock { store -> [MeetingID: Meeting] in
            _ = try? store.refresh()
            var found: [MeetingID: Meeting] = [:]
            for s in admitted where found[s.meeting] == nil { found[s.meeting] = store.schedule.meeting(s.meeting) }
            return found
        }
        for s in admitted {
            guard let m = meetings[s.meeting], m.status == .scheduled, m.sites.contains(s.site.index) else {
                sessions.end(site: s.site.index, session: s, reason: "cancelled")
                continue
            }
            if now >= m.end {
                sessions.end(site: s.site.index, session: s, reason: "meeting-over")
                continue
            }
            if m.end != s.knownEnd {
                s.knownEnd = m.end
                s.warnedAt = s.warnedAt.filter { Int64($0) * 60 >= m.end - now }
                s.send(["type": "extended", "end": iso(m.end)])
            }
            // The 5- and 1-minute warnings; a site that joins later than a mark gets one warning with the minutes
            // really left (rounded up), not "5 minutes" with 3:49 to go.
            let left = m.end - now
            let due = [5, 1].filter { left <= Int64($0) * 60 && !s.warnedAt.contains($0) }
            if let mark = due.min() {
                s.warnedAt.formUnion(due)
                let minutes = min(mark, Int((left + 59) / 60))
                s.send(["type": "warning", "minutesLeft": minutes, "end": iso(m.end)])
                Log.info("end-warning", ["site": s.site.id, "meeting": s.meeting, "minutes": minutes])
            }
        }
        // A revoked or rotated key ends the session. Keys change only by replacing or removing
        // files, which changes the directory: read them again only then. The table is read after
        // the stamp, so a session admitted before a change is in it (admission checks the key
        // under the table's lock).
        // A key that cannot be read just now (out of descriptors under a flood, a file others can read)
        // is not a revocation: its session stays, and the keys are read again next round.
        let stamp = keysDirectoryStamp()
        if stamp != lastKeysStamp {
            var allRead = true
            for s in sessions.all where !s.cascadeLink {
                let current: SiteKey?
                do { current = try bridge.keys.key(for: s.site.id) } catch {
                    allRead = false
                    continue
                }
                if current?.generation != s.generation { sessions.end(site: s.site.index, session: s, reason: "revoked") }
            }
            if allRead { lastKeysStamp = stamp }
        }
    }

    /// The keys directory's modification time in nanoseconds (0 if it is missing).
    private func keysDirectoryStamp() -> Int64 {
        var st = stat()
        guard stat(bridge.keys.directory, &st) == 0 else { return 0 }
        return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }
}
