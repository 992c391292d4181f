import CivilTime
import SiteDirectory

/// Why a booking, move or extension was refused. Nothing is written when this is thrown.
public struct SchedulingError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        /// The request itself is wrong (a usage error: exit 64).
        case invalid
        /// It collides with other meetings or the bridge's capacity.
        case conflict
        /// The meeting to change does not exist or cannot be changed.
        case notFound
        /// The booking store could not be read or written.
        case store
    }

    public let kind: Kind
    /// Lines naming what is wrong; for a conflict, every conflicting meeting and site.
    public let lines: [String]
    /// The conflicting meetings, for scripts.
    public let conflicts: [Conflict]

    init(_ kind: Kind, _ lines: [String], conflicts: [Conflict] = []) {
        self.kind = kind
        self.lines = lines
        self.conflicts = conflicts
    }

    static func invalid(_ line: String) -> SchedulingError { .init(.invalid, [line]) }

    public var description: String { lines.joined(separator: "\n") }
}

/// One clash found by a check.
public struct Conflict: Sendable, Equatable {
    public enum Reason: Sendable, Equatable {
        /// These sites are already in the other meeting at that time (setup windows included).
        case sites(SiteSet)
        /// Together they would need `needed` bridge ports at `instant`; the bridge has `capacity`.
        case capacity(instant: Timestamp, needed: Int, capacity: Int)
    }

    public let meeting: MeetingID
    /// The start of the requested occurrence that clashes.
    public let occurrenceStart: Timestamp
    public let reason: Reason
    /// Whether the other meeting is of a lower level, so `--preempt` could displace it.
    public let canPreempt: Bool
}

/// What a planned change takes from lower-level meetings.
struct DisplacementPlan {
    var taken: [MeetingID: SiteSet] = [:]
    var whole: Set<MeetingID> = []

    func remaining(of m: Schedule.Slot) -> Int {
        if whole.contains(m.id) { return 0 }
        return m.sites.subtracting(taken[m.id] ?? SiteSet()).count
    }
}

extension Schedule {
    /// Checks `occurrences` (each reserving `sites` from `start - setup` to `end`) against every
    /// other meeting and the bridge capacity, and plans what preemption would displace.
    /// With `strict`, every other meeting counts as blocking (a free-slot search). `link` is the site the change's
    /// upstream link is booked as (`--cascade-up`), named in a refusal that is about it.
    /// - Throws: ``SchedulingError`` naming every conflict when the change cannot be made.
    func plan(
        occurrences: [(start: Timestamp, end: Timestamp)], sites: SiteSet, host: Int, level: SiteLevel,
        setup: Int64, excluding: Set<MeetingID>, preempt: Bool, capacity: Int, zone: ZoneOffset, strict: Bool = false,
        link: Int? = nil
    ) throws(SchedulingError) -> [JournalRecord.Displacement] {
        guard sites.count <= capacity else {
            throw .invalid("the meeting needs \(sites.count) bridge ports but the bridge carries at most \(capacity)")
        }
        // Occurrences of one booking must not overlap each other.
        let ordered = occurrences.sorted { $0.start < $1.start }
        for (a, b) in zip(ordered, ordered.dropFirst()) where b.start - setup < a.end {
            throw .invalid("the occurrences on \(LocalDateTime(a.start, in: zone).date) and "
                + "\(LocalDateTime(b.start, in: zone).date) overlap (setup window included)")
        }

        var conflicts: [Conflict] = []
        var plan = DisplacementPlan()
        for occurrence in occurrences {
            let from = occurrence.start - setup
            forEachSlot(reservedDuring: from, occurrence.end) { m in
                guard m.isActive, !excluding.contains(m.id) else { return }
                let shared = m.sites.intersection(sites)
                guard !shared.isEmpty else { return }
                let lower = !strict && level.outranks(m.level)
                conflicts.append(Conflict(meeting: m.id, occurrenceStart: occurrence.start, reason: .sites(shared),
                                          canPreempt: lower))
                if lower {
                    if shared.contains(Int(m.host)) {
                        plan.whole.insert(m.id)
                    } else {
                        plan.taken[m.id] = (plan.taken[m.id] ?? SiteSet()).union(shared)
                        if m.sites.subtracting(plan.taken[m.id]!).isEmpty { plan.whole.insert(m.id) }
                    }
                }
            }
        }
        let blocking = conflicts.filter { !$0.canPreempt }
        if !blocking.isEmpty || (!conflicts.isEmpty && !preempt) {
            throw refusal(conflicts, zone: zone, link: link, preemptHint: blocking.isEmpty)
        }

        // Capacity at every instant of every occurrence, after the planned displacements.
        for occurrence in occurrences {
            while true {
                let peak = peakLoad(from: occurrence.start - setup, to: occurrence.end, excluding: excluding, plan: plan)
                if peak.load + sites.count <= capacity { break }
                let candidates = peak.meetings
                    .filter { !strict && level.outranks($0.level) && !plan.whole.contains($0.id) }
                    .sorted { ($0.level.rawValue, bookedAt($0), $0.id) > ($1.level.rawValue, bookedAt($1), $1.id) }
                if preempt, let victim = candidates.first {
                    plan.whole.insert(victim.id)
                    continue
                }
                let needed = peak.load + sites.count
                let capacityConflicts = peak.meetings.map {
                    Conflict(meeting: $0.id, occurrenceStart: occurrence.start,
                             reason: .capacity(instant: peak.instant, needed: needed, capacity: capacity),
                             canPreempt: level.outranks($0.level))
                }
                throw refusal(conflicts + capacityConflicts, zone: zone, link: link,
                              preemptHint: !preempt && capacityConflicts.contains { $0.canPreempt })
            }
        }

        return plan.whole.sorted().map { .init(victim: $0, whole: true, siteCodes: []) }
            + plan.taken.keys.filter { !plan.whole.contains($0) }.sorted().map { id in
                .init(victim: id, whole: false,
                      siteCodes: plan.taken[id]!.map { directory[$0].numericCode })
            }
    }

    /// The most bridge ports in use at any instant of [from, to), and the meetings holding them then.
    private func peakLoad(
        from: Timestamp, to: Timestamp, excluding: Set<MeetingID>, plan: DisplacementPlan
    ) -> (load: Int, instant: Timestamp, meetings: [Slot]) {
        var events: [(time: Timestamp, delta: Int)] = []
        var involved: [Slot] = []
        forEachSlot(reservedDuring: from, to) { m in
            guard m.isActive, !excluding.contains(m.id) else { return }
            let ports = plan.remaining(of: m)
            guard ports > 0 else { return }
            involved.append(m)
            events.append((max(m.reservedFrom, from), ports))
            events.append((min(m.end, to), -ports))
        }
        events.sort { $0.time != $1.time ? $0.time < $1.time : $0.delta < $1.delta }
        var load = 0
        var peak = (load: 0, instant: from)
        for e in events {
            load += e.delta
            if load > peak.load { peak = (load, e.time) }
        }
        let atPeak = involved.filter { max($0.reservedFrom, from) <= peak.instant && min($0.end, to) > peak.instant }
        return (peak.load, peak.instant, atPeak)
    }

    private func refusal(_ conflicts: [Conflict], zone: ZoneOffset, link: Int? = nil, preemptHint: Bool) -> SchedulingError {
        var lines = ["refused: conflicts with \(Set(conflicts.map(\.meeting)).count) meeting(s); nothing was booked"]
        for c in conflicts {
            guard let m = meeting(c.meeting) else { continue }
            let when = LocalDateTime(c.occurrenceStart, in: zone)
            let header = "  #\(m.id) \"\(m.title)\" (\(m.level), host \(directory[m.host].id), "
                + "\(LocalDateTime(m.start, in: zone))-\(LocalDateTime(m.end, in: zone).timeText))"
            switch c.reason {
            case .sites(let shared):
                let names = shared.map { directory[$0].id }
                lines.append(header + " already has \(names.count) of the sites on \(when.date): "
                    + names.joined(separator: ", "))
                // A cascade link is booked as the host's upstream site, and the bridge holds one session per site:
                // say so, as the secretariat did not name that site itself.
                if let address = m.cascadeUp, let theirs = m.cascadeSite(in: directory), shared.contains(theirs.index) {
                    lines.append("    \(theirs.id) is the upstream link of #\(m.id) (cascade up to \(address))" + (link == theirs.index
                        ? " and would be this booking's too: the bridge carries one session per site, so one meeting at a time can cascade up as \(theirs.id)"
                        : ": its own room cannot be in another meeting then"))
                } else if let link, shared.contains(link) {
                    lines.append("    \(directory[link].id) would be this booking's upstream link (--cascade-up), and #\(m.id) has "
                        + "its own room then: the bridge carries one session per site")
                }
            case .capacity(let instant, let needed, let capacity):
                lines.append(header + " is among the meetings that would need \(needed) bridge ports at "
                    + "\(LocalDateTime(instant, in: zone)) (capacity \(capacity))")
            }
        }
        if preemptHint {
            lines.append("every conflicting meeting is of a lower level: --preempt would displace them")
        }
        return SchedulingError(.conflict, lines, conflicts: conflicts)
    }
}
