import CivilTime
import SiteDirectory

/// Every booking, in memory: built by applying journal records in order, queried by time and site.
public struct Schedule: Sendable {
    /// The longest a meeting may last.
    public static let maxDuration: Int64 = 24 * 3600
    /// The longest setup window (settings allow up to 240 minutes).
    public static let maxSetup: Int64 = 240 * 60

    public let directory: SiteDirectory
    /// All meetings ever booked; meeting `id` is at index `id - 1`.
    public private(set) var meetings: [Meeting] = []
    /// Meeting ids ordered by start time.
    private var byStart: [MeetingID] = []
    private var needsSort = false

    public init(directory: SiteDirectory) {
        self.directory = directory
    }

    public var nextID: MeetingID { MeetingID(meetings.count + 1) }

    public func meeting(_ id: MeetingID) -> Meeting? {
        guard id >= 1, Int(id) <= meetings.count else { return nil }
        return meetings[Int(id) - 1]
    }

    // MARK: Applying records

    /// Applies records read from the journal (or just appended), in order.
    mutating func apply(_ records: [(offset: Int, record: JournalRecord)], source: String) throws(StoreError) {
        for (offset, record) in records {
            do throws(StoreError) {
                try apply(record)
            } catch {
                throw StoreError("\(source): the record at byte \(offset) \(error.message)")
            }
        }
        if needsSort { sortIndex() }
    }

    private mutating func sortIndex() {
        byStart.sort { a, b in
            let ma = meetings[Int(a) - 1]
            let mb = meetings[Int(b) - 1]
            return ma.start != mb.start ? ma.start < mb.start : a < b
        }
        needsSort = false
    }

    private func index(ofCode code: UInt32) throws(StoreError) -> Int {
        guard let site = directory.site(numericCode: code) else {
            throw StoreError("names site code \(code), which is not in the site directory")
        }
        return site.index
    }

    private mutating func apply(_ record: JournalRecord) throws(StoreError) {
        switch record {
        case .book(let b):
            guard b.firstID == nextID else {
                throw StoreError("books meeting #\(b.firstID) but the next id is #\(nextID)")
            }
            let host = try index(ofCode: b.hostCode)
            var links: [Meeting.Link] = []
            links.reserveCapacity(b.links.count)
            var sites = SiteSet()
            for link in b.links {
                let site = try index(ofCode: link.site)
                links.append(.init(site: site, upstream: try index(ofCode: link.upstream)))
                sites.insert(site)
            }
            for (i, occurrence) in b.occurrences.enumerated() {
                let id = b.firstID + MeetingID(i)
                meetings.append(Meeting(
                    id: id, seriesID: b.firstID, occurrence: i, occurrenceCount: b.occurrences.count, title: b.title,
                    organiser: b.organiser, host: host, level: directory[host].level, start: occurrence.start,
                    end: occurrence.end, setupSeconds: b.setupSeconds, links: links, sites: sites, displaced: SiteSet(),
                    status: .scheduled, scope: b.scope, rule: b.rule, bookedAt: b.bookedAt, notices: [], revisions: 0))
                if let last = byStart.last, meetings[Int(last) - 1].start > occurrence.start { needsSort = true }
                byStart.append(id)
            }
            try applyDisplacements(b.displacements, by: b.firstID, at: b.bookedAt)
        case .reschedule(let r):
            guard let m = meeting(r.id) else { throw StoreError("moves meeting #\(r.id), which does not exist") }
            guard r.end > r.start else { throw StoreError("gives meeting #\(r.id) an end before its start") }
            meetings[Int(r.id) - 1].start = r.start
            meetings[Int(r.id) - 1].end = r.end
            meetings[Int(r.id) - 1].revisions += 1
            if m.start != r.start { needsSort = true }
            try applyDisplacements(r.displacements, by: r.id, at: r.at)
        case .cancel(let c):
            for id in c.ids {
                guard meeting(id) != nil else { throw StoreError("cancels meeting #\(id), which does not exist") }
                meetings[Int(id) - 1].status = .cancelled
            }
        }
    }

    private mutating func applyDisplacements(
        _ list: [JournalRecord.Displacement], by: MeetingID, at: Timestamp
    ) throws(StoreError) {
        for d in list {
            guard let victim = meeting(d.victim) else {
                throw StoreError("displaces meeting #\(d.victim), which does not exist")
            }
            var taken = SiteSet()
            for code in d.siteCodes { taken.insert(try index(ofCode: code)) }
            let whole = d.whole || taken.contains(victim.host)
            if whole { taken = victim.sites }
            var m = victim
            m.displaced = m.displaced.union(taken)
            m.sites = m.sites.subtracting(taken)
            if whole { m.status = .displaced }
            m.notices.append(.init(at: at, by: by, sites: taken, whole: whole))
            meetings[Int(d.victim) - 1] = m
        }
    }

    // MARK: Queries

    /// Meetings (any status) whose reserved time, setup window included, overlaps [from, to).
    public func meetings(reservedDuring from: Timestamp, _ to: Timestamp) -> [Meeting] {
        var result: [Meeting] = []
        forEachMeeting(reservedDuring: from, to) { result.append($0) }
        return result
    }

    /// Calls `body` for each meeting whose reserved time overlaps [from, to), in start order.
    func forEachMeeting(reservedDuring from: Timestamp, _ to: Timestamp, _ body: (Meeting) -> Void) {
        // Any meeting reserved during the window starts after from - maxDuration and before to + maxSetup.
        let earliest = from - Self.maxDuration
        var low = 0
        var high = byStart.count
        while low < high {
            let mid = (low + high) / 2
            if meetings[Int(byStart[mid]) - 1].start < earliest { low = mid + 1 } else { high = mid }
        }
        var i = low
        while i < byStart.count {
            let m = meetings[Int(byStart[i]) - 1]
            if m.start >= to + Self.maxSetup { break }
            if m.reservedFrom < to && m.end > from { body(m) }
            i += 1
        }
    }

    /// The meetings a site takes part in (or was displaced from) during [from, to), in start order.
    public func agenda(site: Int, from: Timestamp, to: Timestamp) -> [Meeting] {
        var result: [Meeting] = []
        forEachMeeting(reservedDuring: from, to) { m in
            if m.start < to && (m.sites.contains(site) || m.displaced.contains(site)) { result.append(m) }
        }
        return result
    }

    /// Meetings in progress or in their setup window at `instant` (for the bridge).
    public func active(at instant: Timestamp) -> [Meeting] {
        meetings(reservedDuring: instant, instant + 1).filter(\.isActive)
    }

    /// The chain of sites from the meeting's host down to `site` (host first).
    public func cascadePath(_ meeting: Meeting, to site: Int) -> [Site] {
        let chain = directory.ancestry(of: directory[site])
        guard let hostIndex = chain.firstIndex(where: { $0.index == meeting.host }) else { return [directory[site]] }
        return Array(chain[hostIndex...])
    }
}
