#if canImport(Glibc)
import Glibc
#endif
import CivilTime
import SiteDirectory

/// The source of "now": injected so the scheduler is tested without sleeping.
public protocol Clock: Sendable {
    func now() -> Timestamp
}

public struct SystemClock: Clock {
    public init() {}
    public func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(ts.tv_sec)
    }
}

public struct FixedClock: Clock {
    public let instant: Timestamp
    public init(_ instant: Timestamp) { self.instant = instant }
    public func now() -> Timestamp { instant }
}

/// What a secretariat asks for.
public struct BookingRequest: Sendable {
    public var title: String
    public var organiser: String
    public var host: Site
    /// The resolved scope (``Scope/resolve(_:host:in:)``), host included.
    public var sites: [Site]
    /// The selectors as entered, kept with the booking.
    public var scopeText: String
    public var start: Timestamp
    public var end: Timestamp
    public var recurrence: Recurrence?
    public var preempt: Bool
    /// The upstream MCU's `sip:` address (`--cascade-up`): the bridge calls it as one participant, booked as the
    /// host's upstream site (its parent in the directory), so it takes one bridge port like any site.
    public var cascadeUp: String? = nil

    public init(title: String, organiser: String, host: Site, sites: [Site], scopeText: String,
                start: Timestamp, end: Timestamp, recurrence: Recurrence? = nil, preempt: Bool = false) {
        self.title = title
        self.organiser = organiser
        self.host = host
        self.sites = sites
        self.scopeText = scopeText
        self.start = start
        self.end = end
        self.recurrence = recurrence
        self.preempt = preempt
    }
}

/// Rules of the schedule that come from settings.
public struct ScheduleRules: Sendable {
    public var capacity: Int
    public var setupSeconds: Int64
    public var maxOccurrences: Int
    /// The zone in which recurrence dates are laid out and messages written (Vietnam).
    public var zone: ZoneOffset

    public init(capacity: Int, setupSeconds: Int64, maxOccurrences: Int, zone: ZoneOffset = .vietnam) {
        self.capacity = capacity
        self.setupSeconds = setupSeconds
        self.maxOccurrences = maxOccurrences
        self.zone = zone
    }
}

/// The durable schedule: the booking journal in a data directory and the schedule built from it.
///
/// Every change takes the journal's lock, first reads what other processes appended, checks the
/// change against that, appends it and syncs it to disk before returning: a change that returns
/// is on disk, and of two processes that want the same site exactly one succeeds.
///
/// After a crash or power loss the journal may end in what a write cut short left (a partial
/// record, zeros): opening the store cuts that off and says so in ``repair``. Damage before the end
/// (a record that does not check, with intact records after it) is never cut off: opening throws
/// a ``StoreError`` naming its byte offset, or, with `allowingDamage`, opens with the records
/// before it, sets ``damage`` and refuses every change.
public final class ScheduleStore {
    public static let journalName = "bookings.journal"

    public let rules: ScheduleRules
    public private(set) var schedule: Schedule
    /// Damage before the end of the journal (only when opened `allowingDamage`): the message names
    /// its offset and what is still read. Changes are refused while it is there.
    public private(set) var damage: StoreError?
    /// What this store last repaired in the journal (a torn tail cut off, a header that never
    /// reached the disk), for the user to be told; nil if nothing needed repair.
    public private(set) var repair: String?
    private let journal: BookingJournal
    private let clock: any Clock
    private let allowingDamage: Bool
    /// Where the records read so far end.
    private var readEnd: Int = 0
    /// How many records have been read.
    private var records = 0
    /// What follows `readEnd` as last read: a torn tail, or damage.
    private var tail: BookingJournal.Tail?
    /// The file's size when `tail` was read: a damaged journal is read again only when it changes.
    private var tailFileSize = 0
    /// A torn tail's bytes as last read: it is scanned again only when the size or these change
    /// (the next writer cuts it and may append a record exactly as long).
    private var tornBytes: [UInt8] = []
    /// Journal scans done by ``refresh()`` (for tests: an unchanged tail is not scanned again).
    private(set) var scans = 0

    /// Opens (creating if needed) the store in `dataDirectory`, loads it and cuts off a torn tail.
    /// - Parameter allowingDamage: open a journal damaged before its end with the records before the
    ///   damage (see ``damage``) instead of throwing.
    /// - Throws: ``StoreError`` if the store cannot be created or read, or (unless `allowingDamage`) is damaged.
    public init(dataDirectory: String, directory: SiteDirectory, rules: ScheduleRules, clock: any Clock = SystemClock(),
                allowingDamage: Bool = false) throws(StoreError) {
        if mkdir(dataDirectory, 0o750) == 0 {
            try BookingJournal.syncDirectory(containing: dataDirectory)
        } else if errno != EEXIST {
            throw StoreError("cannot create the data directory \(dataDirectory): \(String(cString: strerror(errno)))")
        }
        journal = try BookingJournal(path: dataDirectory + "/" + Self.journalName)
        try Self.requireDirectory(directory, of: dataDirectory, journalSize: try journal.size())
        repair = journal.headerRepair
        schedule = Schedule(directory: directory)
        self.rules = rules
        self.clock = clock
        self.allowingDamage = allowingDamage
        try journal.withExclusiveLock { () throws(StoreError) in
            try refresh()
            try cutTornTail()
        }
    }

    /// Reads what other processes appended since the last read.
    /// - Returns: whether anything changed (the bridge polls this to follow the schedule live).
    /// - Throws: ``StoreError`` if the journal cannot be read or (unless opened `allowingDamage`) is damaged.
    @discardableResult
    public func refresh() throws(StoreError) -> Bool {
        let size = try journal.size()
        if size < readEnd {  // cut back (a torn tail repaired, or the file replaced): reload
            schedule = Schedule(directory: schedule.directory)
            readEnd = 0
            records = 0
            tail = nil
            damage = nil
        }
        if case .damaged = tail, size == tailFileSize { return false }
        guard size > readEnd || readEnd == 0 else {
            tail = nil
            return false
        }
        let bytes = try journal.read(from: readEnd)
        // A torn tail left by a writer that died, with no writer since: nothing to scan again.
        if case .torn = tail, size == tailFileSize, bytes == tornBytes { return false }
        scans += 1
        var scan = BookingJournal.Scan(end: readEnd)
        let added = try schedule.ingest(bytes, base: readEnd, source: journal.path) { (bytes, base, body) throws(StoreError) in
            scan = try journal.scan(bytes, base: base, body)
            return scan.records
        }
        schedule.sortIfNeeded()
        let readEndBefore = readEnd
        readEnd = scan.end
        records += added
        tail = scan.tail
        tailFileSize = size
        if case .torn = scan.tail { tornBytes = Array(bytes[(scan.end - readEndBefore)...]) } else { tornBytes = [] }
        if case .damaged(let d) = scan.tail {
            let error = StoreError(Self.damageMessage(path: journal.path, d, recordsBefore: records))
            guard allowingDamage else { throw error }
            damage = error
        } else {
            damage = nil
        }
        return added > 0
    }

    static func damageMessage(path: String, _ d: BookingJournal.Damage, recordsBefore before: Int) -> String {
        let intactBefore = switch before {
        case 0: "there is no record before it"
        case 1: "the record before it is intact and can be read"
        default: "the \(before) records before it are intact and can be read"
        }
        let after = d.recordsAfter == 1 ? "1 intact record after it is" : "\(d.recordsAfter) intact records after it are"
        return "\(path) is damaged at byte \(d.offset) (\(d.reason)): \(intactBefore); \(after) not read; "
            + "no change is accepted until it is repaired "
            + "(keep a copy, then 'truncate -s \(d.offset) \(path)' keeps only what is before the damage)"
    }

    /// Cuts off a torn tail found by the last read (call with the journal's lock held) and records the repair.
    private func cutTornTail() throws(StoreError) {
        guard case .torn(let bytes, let zeros) = tail else { return }
        try journal.cut(at: readEnd)
        tail = nil
        let what = zeros ? "\(bytes) zero bytes" : "\(bytes) bytes that hold no complete record"
        repair = "repaired \(journal.path): cut off \(what) after byte \(readEnd), left by a write cut short "
            + "(a crash or power loss before it was confirmed); "
            + (records == 1 ? "the record before them is intact" : "the \(records) records before them are intact")
    }

    /// Runs a check-and-append under the journal lock, after catching up with other writers.
    private func locked<T>(_ body: () throws(SchedulingError) -> T) throws(SchedulingError) -> T {
        let result: Result<T, SchedulingError>
        do {
            result = try journal.withExclusiveLock { () throws(StoreError) -> Result<T, SchedulingError> in
                try refresh()
                if let damage { throw damage }
                do throws(SchedulingError) { return .success(try body()) } catch { return .failure(error) }
            }
        } catch {
            throw SchedulingError(.store, [error.message])
        }
        return try result.get()
    }

    // MARK: Changes

    /// Books a meeting (every occurrence, for a recurring booking).
    /// - Returns: the booked meetings.
    /// - Throws: ``SchedulingError``; nothing is written then.
    @discardableResult
    public func book(_ request: BookingRequest) throws(SchedulingError) -> [Meeting] {
        try bookAll([request])[0]
    }

    /// Books several meetings as one change: all of them, each checked against everything booked
    /// before it (the batch included), or none. One disk sync for the whole batch.
    @discardableResult
    public func bookAll(_ requests: [BookingRequest]) throws(SchedulingError) -> [[Meeting]] {
        let prepared = try requests.map { (r) throws(SchedulingError) in try prepare(r) }
        return try locked { () throws(SchedulingError) -> [[Meeting]] in
            let records = try plan(prepared)
            try store(records)
            return records.map { record in
                guard case .book(let b) = record else { return [] }
                return (0..<b.occurrences.count).map { schedule.meeting(b.firstID + MeetingID($0))! }
            }
        }
    }

    /// The records for a batch, each planned against the schedule plus the batch before it.
    /// A trial copy of the schedule is made only for a batch of more than one booking, and it is
    /// gone before the records are stored, so a single booking never copies the schedule.
    private func plan(
        _ prepared: [(BookingRequest, [(start: Timestamp, end: Timestamp)], String, String)]
    ) throws(SchedulingError) -> [JournalRecord] {
        var records: [JournalRecord] = []
        var trial: Schedule? = nil
        for (i, (request, occurrences, title, organiser)) in prepared.enumerated() {
            let base = trial ?? schedule
            let displacements = try base.plan(
                occurrences: occurrences, sites: SiteSet(request.sites.map(\.index)), host: request.host.index,
                level: request.host.level, setup: rules.setupSeconds, excluding: [], preempt: request.preempt,
                capacity: rules.capacity, zone: rules.zone,
                link: request.cascadeUp == nil ? nil : base.directory.parent(of: request.host)?.index)
            let record = JournalRecord.book(.init(
                firstID: base.nextID, bookedAt: clock.now(), organiser: organiser, title: title,
                hostCode: request.host.numericCode, setupSeconds: rules.setupSeconds, scope: request.scopeText,
                rule: request.recurrence?.rrule ?? "", links: links(request), occurrences: occurrences,
                displacements: displacements, cascadeUp: request.cascadeUp))
            records.append(record)
            if i < prepared.count - 1 {
                if trial == nil { trial = schedule }
                do throws(StoreError) {
                    try trial!.apply(record)
                } catch {
                    throw SchedulingError(.store, [error.message])
                }
            }
        }
        return records
    }

    /// Validates a request and lays out its occurrences (no lock needed).
    private func prepare(_ request: BookingRequest) throws(SchedulingError)
        -> (BookingRequest, [(start: Timestamp, end: Timestamp)], String, String)
    {
        let title = request.title.trimmingCharacters()
        guard !title.isEmpty else { throw .invalid("the title is empty") }
        guard title.count <= 200 else { throw .invalid("the title has \(title.count) characters; at most 200") }
        guard !title.contains(where: { $0.isNewline }) else { throw .invalid("the title must be one line") }
        let organiser = request.organiser.trimmingCharacters()
        guard !organiser.isEmpty, organiser.count <= 100 else { throw .invalid("the organiser must be 1 to 100 characters") }
        let duration = request.end - request.start
        guard duration > 0 else { throw .invalid("the end is not after the start") }
        guard duration <= Schedule.maxDuration else {
            throw .invalid("the meeting lasts \(TimeFormat.durationText(duration)); at most 24h")
        }
        guard request.sites.contains(where: { $0.index == request.host.index }) else {
            throw .invalid("the scope must include the host")
        }
        var request = request
        if let cascadeUp = request.cascadeUp {
            let lowered = cascadeUp.lowercased()
            guard lowered.hasPrefix("sip:") || lowered.hasPrefix("sips:"), cascadeUp.count <= 256,
                  !cascadeUp.unicodeScalars.contains(where: { $0.value <= 32 || $0.value == 127 }) else {
                throw .invalid("the upstream MCU's address must be a sip: URI of at most 256 characters without spaces")
            }
            guard let upstream = schedule.directory.parent(of: request.host) else {
                throw .invalid("the host \(request.host.id) has no level above it to cascade up to")
            }
            if !request.sites.contains(where: { $0.index == upstream.index }) { request.sites.insert(upstream, at: 1) }
        }
        let zone = rules.zone
        var occurrences: [(start: Timestamp, end: Timestamp)] = [(request.start, request.end)]
        if let rule = request.recurrence {
            let first = LocalDateTime(request.start, in: zone)
            let dates: [CivilDate]
            do {
                dates = try rule.dates(from: first.date, limit: rules.maxOccurrences)
            } catch {
                throw .invalid("recurrence: \(error.message)")
            }
            occurrences = dates.map { date in
                let start = LocalDateTime(date: date, minuteOfDay: first.minuteOfDay, second: first.second).timestamp(in: zone)
                return (start, start + duration)
            }
        }
        let now = clock.now()
        guard let last = occurrences.last, last.end > now else {
            throw .invalid("the meeting would be over before now (\(LocalDateTime(now, in: zone)))")
        }
        return (request, occurrences, title, organiser)
    }

    /// Every site with the site its media cascades through (the host's is itself).
    private func links(_ request: BookingRequest) -> [(site: UInt32, upstream: UInt32)] {
        request.sites.map { site in
            let upstream = site.index == request.host.index || site.index == schedule.directory.parent(of: request.host)?.index
                ? site : (schedule.directory.parent(of: site) ?? site)
            return (site: site.numericCode, upstream: upstream.numericCode)
        }
    }

    /// Moves one meeting (one occurrence of a series) to a new start, keeping its length.
    @discardableResult
    public func move(_ id: MeetingID, to start: Timestamp, by: String, preempt: Bool = false) throws(SchedulingError) -> Meeting {
        try reschedule(id, by: by, preempt: preempt) { m in (start, start + (m.end - m.start)) }
    }

    /// Extends one meeting by `seconds`; refused if that would conflict with anything.
    @discardableResult
    public func extend(_ id: MeetingID, by seconds: Int64, organiser: String) throws(SchedulingError) -> Meeting {
        guard seconds > 0 else { throw .invalid("an extension must be longer than zero") }
        return try reschedule(id, by: organiser, preempt: false) { m in (m.start, m.end + seconds) }
    }

    private func reschedule(
        _ id: MeetingID, by: String, preempt: Bool, _ times: (Meeting) -> (Timestamp, Timestamp)
    ) throws(SchedulingError) -> Meeting {
        try locked { () throws(SchedulingError) -> Meeting in
            guard let m = schedule.meeting(id) else { throw SchedulingError(.notFound, ["no meeting #\(id)"]) }
            guard m.status == .scheduled else { throw SchedulingError(.notFound, ["meeting #\(id) is \(m.status)"]) }
            let (start, end) = times(m)
            guard end - start <= Schedule.maxDuration else {
                throw .invalid("meeting #\(id) would last \(TimeFormat.durationText(end - start)); at most 24h")
            }
            let now = clock.now()
            guard m.end > now else { throw .invalid("meeting #\(id) is already over") }
            guard end > now else { throw .invalid("meeting #\(id) would be over before now") }
            let displacements = try schedule.plan(
                occurrences: [(start, end)], sites: m.sites, host: m.host, level: m.level, setup: m.setupSeconds,
                excluding: [id], preempt: preempt, capacity: rules.capacity, zone: rules.zone,
                link: m.cascadeSite(in: schedule.directory)?.index)
            try store([.reschedule(.init(id: id, start: start, end: end, at: now, by: by, displacements: displacements))])
            return schedule.meeting(id)!
        }
    }

    /// Cancels meetings (one, or every remaining occurrence of a series).
    @discardableResult
    public func cancel(_ id: MeetingID, wholeSeries: Bool, by: String, reason: String = "") throws(SchedulingError) -> [Meeting] {
        try locked { () throws(SchedulingError) -> [Meeting] in
            guard let m = schedule.meeting(id) else { throw SchedulingError(.notFound, ["no meeting #\(id)"]) }
            let now = clock.now()
            let ids: [MeetingID]
            if wholeSeries {
                ids = (0..<m.occurrenceCount).map { m.seriesID + MeetingID($0) }
                    .filter { schedule.meeting($0)!.status == .scheduled && schedule.meeting($0)!.end > now }
                guard !ids.isEmpty else { throw SchedulingError(.notFound, ["series #\(m.seriesID) has no occurrence left to cancel"]) }
            } else {
                guard m.status == .scheduled else { throw SchedulingError(.notFound, ["meeting #\(id) is already \(m.status)"]) }
                ids = [id]
            }
            try store([.cancel(.init(ids: ids, at: now, by: by, reason: reason))])
            return ids.map { schedule.meeting($0)! }
        }
    }

    private func store(_ records: [JournalRecord]) throws(SchedulingError) {
        do throws(StoreError) {
            try cutTornTail()
            try journal.append(records, at: readEnd)
            // Read back what was written: the same path every other process takes.
            try refresh()
        } catch {
            throw SchedulingError(.store, [error.message])
        }
    }
}
