import CivilTime
import SiteDirectory

/// Every booking, in memory: built by applying journal records in order, queried by time and site.
///
/// It keeps per meeting only what checks and queries need (times, site sets, host, status) in a
/// compact ``Slot``; titles, organisers and cascade links stay in the journal bytes it read and are
/// decoded only when a ``Meeting`` is asked for. Years of bookings load in a fraction of a second.
public struct Schedule: Sendable {
    /// The longest a meeting may last.
    public static let maxDuration: Int64 = 24 * 3600
    /// The longest setup window (settings allow up to 240 minutes).
    public static let maxSetup: Int64 = 240 * 60

    /// What the schedule keeps for one meeting.
    struct Slot: Sendable {
        let id: MeetingID
        var start: Timestamp
        var end: Timestamp
        var sites: SiteSet
        var displaced: SiteSet
        /// Index into `bookings`.
        let booking: Int32
        let occurrence: UInt16
        var revisions: UInt16
        var status: Meeting.Status
        let host: UInt8
        let level: SiteLevel
        let setupSeconds: Int32

        var reservedFrom: Timestamp { start - Int64(setupSeconds) }
        var isActive: Bool { status == .scheduled && !sites.isEmpty }
    }

    /// One booking record: shared by its occurrences; its text is decoded on demand.
    struct Booking: Sendable {
        let firstID: MeetingID
        let occurrenceCount: UInt16
        let bookedAt: Timestamp
        /// Where the record's body lies: chunk index, offset, length.
        let chunk: Int32
        let offset: Int32
        let length: Int32
    }

    public let directory: SiteDirectory
    private(set) var slots: [Slot] = []
    private var bookings: [Booking] = []
    /// The journal bytes read so far (record bodies are decoded from them on demand).
    private var chunks: [[UInt8]] = []
    private var notices: [MeetingID: [Meeting.Notice]] = [:]
    /// Meeting ids ordered by start time.
    private var byStart: [MeetingID] = []
    private var needsSort = false
    /// Directory index by official numeric code (-1: none): loading 100,000 bookings looks codes
    /// up millions of times, and a flat table is many times faster than hashing.
    private let indexByCode: [Int16]

    public init(directory: SiteDirectory) {
        self.directory = directory
        var table = [Int16](repeating: -1, count: Int(directory.sites.map(\.numericCode).max() ?? 0) + 1)
        for site in directory.sites { table[Int(site.numericCode)] = Int16(site.index) }
        indexByCode = table
    }

    /// Number of meetings ever booked (every status).
    public var count: Int { slots.count }
    public var nextID: MeetingID { MeetingID(slots.count + 1) }

    func slot(_ id: MeetingID) -> Slot? {
        guard id >= 1, Int(id) <= slots.count else { return nil }
        return slots[Int(id) - 1]
    }

    public func meeting(_ id: MeetingID) -> Meeting? {
        slot(id).map(materialize)
    }

    /// Every meeting, materialized (for small stores and tools; queries are cheaper).
    public var allMeetings: [Meeting] { slots.map(materialize) }

    // MARK: Applying journal bytes

    /// Applies the records framed in `bytes` (read from the journal at file offset `base`),
    /// keeping the bytes for later decoding. Call ``sortIfNeeded()`` afterwards.
    mutating func ingest(
        _ bytes: [UInt8], base: Int, source: String,
        scan: ([UInt8], Int, (Int, UInt8, Range<Int>) throws(StoreError) -> Void) throws(StoreError) -> Int
    ) throws(StoreError) -> Int {
        let chunk = Int32(chunks.count)
        chunks.append(bytes)
        let expected = slots.count + bytes.count / 200
        slots.reserveCapacity(expected)
        byStart.reserveCapacity(expected)
        let records = try scan(bytes, base) { (offset, type, body) throws(StoreError) in
            try apply(type: type, chunk: chunk, body: body, offset: offset, source: source)
        }
        if records == 0 { chunks.removeLast() }
        return records
    }

    /// Applies one record given as a value (a batch's trial, tests).
    mutating func apply(_ record: JournalRecord) throws(StoreError) {
        let body = RecordWriter.encode(record)
        chunks.append(body)
        try apply(type: record.typeByte, chunk: Int32(chunks.count - 1), body: 0..<body.count, offset: 0, source: "record")
        sortIfNeeded()
    }

    private mutating func apply(type: UInt8, chunk: Int32, body: Range<Int>, offset: Int, source: String) throws(StoreError) {
        do throws(StoreError) {
            let bytes = chunks[Int(chunk)]
            let result: Result<Void, StoreError> = bytes.withUnsafeBytes { raw in
                let view = UnsafeRawBufferPointer(rebasing: raw[body])
                do throws(StoreError) {
                    switch type {
                    case 1: try applyBooking(view, chunk: chunk, offset: body.lowerBound)
                    case 2, 3:
                        let decoded: JournalRecord?
                        do { decoded = try RecordReader.decode(type: type, body: view) } catch {
                            throw StoreError("has fields that do not fit its length")
                        }
                        try applyChange(decoded!)
                    default: throw StoreError("has unknown type \(type) (written by a newer vcbridge?)")
                    }
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            try result.get()
        } catch {
            throw StoreError("\(source): the record at byte \(offset) \(error.message)")
        }
    }

    /// Reads a booking's fixed fields and site sets without building its strings.
    private mutating func applyBooking(_ body: UnsafeRawBufferPointer, chunk: Int32, offset: Int) throws(StoreError) {
        var r = RecordReader(body)
        func field<T>(_ read: (inout RecordReader) throws(RecordReader.Truncated) -> T) throws(StoreError) -> T {
            do { return try read(&r) } catch { throw StoreError("has fields that do not fit its length") }
        }
        let firstID = try field { (r) throws(RecordReader.Truncated) in try r.u32() }
        guard firstID == nextID else { throw StoreError("books meeting #\(firstID) but the next id is #\(nextID)") }
        let bookedAt = try field { (r) throws(RecordReader.Truncated) in try r.i64() }
        try field { (r) throws(RecordReader.Truncated) in try r.skipString(); try r.skipString() }  // organiser, title
        let host = try index(ofCode: try field { (r) throws(RecordReader.Truncated) in try r.u32() })
        let setup = try field { (r) throws(RecordReader.Truncated) in try r.i64() }
        guard setup >= 0, setup <= Self.maxSetup else { throw StoreError("has a setup window of \(setup) s") }
        try field { (r) throws(RecordReader.Truncated) in try r.skipString(); try r.skipString() }  // scope, rule
        var sites = SiteSet()
        for _ in 0..<Int(try field { (r) throws(RecordReader.Truncated) in try r.u16() }) {
            let (site, upstream) = try field { (r) throws(RecordReader.Truncated) in (try r.u32(), try r.u32()) }
            sites.insert(try index(ofCode: site))
            _ = try index(ofCode: upstream)
        }
        let occurrenceCount = Int(try field { (r) throws(RecordReader.Truncated) in try r.u16() })
        guard occurrenceCount >= 1 else { throw StoreError("books no occurrence") }
        let booking = Int32(bookings.count)
        bookings.append(Booking(firstID: firstID, occurrenceCount: UInt16(occurrenceCount), bookedAt: bookedAt,
                                chunk: chunk, offset: Int32(offset), length: Int32(body.count)))
        let level = directory.sites[host].level
        for i in 0..<occurrenceCount {
            let (start, end) = try field { (r) throws(RecordReader.Truncated) in (try r.i64(), try r.i64()) }
            guard end > start else { throw StoreError("gives an occurrence an end before its start") }
            let id = firstID + MeetingID(i)
            slots.append(Slot(id: id, start: start, end: end, sites: sites, displaced: SiteSet(), booking: booking,
                              occurrence: UInt16(i), revisions: 0, status: .scheduled, host: UInt8(host),
                              level: level, setupSeconds: Int32(setup)))
            if let last = byStart.last, slots[Int(last) - 1].start > start { needsSort = true }
            byStart.append(id)
        }
        let displacements = try field { (r) throws(RecordReader.Truncated) in try r.displacements() }
        while r.offset < body.count {  // extensions (tag, length-prefixed bytes), read when a Meeting is made
            try field { (r) throws(RecordReader.Truncated) in _ = try r.u8(); try r.skipString() }
        }
        try applyDisplacements(displacements, by: firstID, at: bookedAt)
    }

    private mutating func applyChange(_ record: JournalRecord) throws(StoreError) {
        switch record {
        case .book:
            preconditionFailure("bookings are applied from their bytes")
        case .reschedule(let r):
            guard let s = slot(r.id) else { throw StoreError("moves meeting #\(r.id), which does not exist") }
            guard r.end > r.start else { throw StoreError("gives meeting #\(r.id) an end before its start") }
            slots[Int(r.id) - 1].start = r.start
            slots[Int(r.id) - 1].end = r.end
            slots[Int(r.id) - 1].revisions &+= 1
            if s.start != r.start { needsSort = true }
            try applyDisplacements(r.displacements, by: r.id, at: r.at)
        case .cancel(let c):
            for id in c.ids {
                guard slot(id) != nil else { throw StoreError("cancels meeting #\(id), which does not exist") }
                slots[Int(id) - 1].status = .cancelled
            }
        }
    }

    private mutating func applyDisplacements(
        _ list: [JournalRecord.Displacement], by: MeetingID, at: Timestamp
    ) throws(StoreError) {
        for d in list {
            guard var victim = slot(d.victim) else {
                throw StoreError("displaces meeting #\(d.victim), which does not exist")
            }
            var taken = SiteSet()
            for code in d.siteCodes { taken.insert(try index(ofCode: code)) }
            let whole = d.whole || taken.contains(Int(victim.host))
            if whole { taken = victim.sites }
            victim.displaced = victim.displaced.union(taken)
            victim.sites = victim.sites.subtracting(taken)
            if whole { victim.status = .displaced }
            slots[Int(d.victim) - 1] = victim
            notices[d.victim, default: []].append(.init(at: at, by: by, sites: taken, whole: whole))
        }
    }

    /// Restores the start-time order of the index after records changed it.
    mutating func sortIfNeeded() {
        guard needsSort else { return }
        slots.withUnsafeBufferPointer { s in
            byStart.sort { a, b in
                let sa = s[Int(a) - 1].start
                let sb = s[Int(b) - 1].start
                return sa != sb ? sa < sb : a < b
            }
        }
        needsSort = false
    }

    private func index(ofCode code: UInt32) throws(StoreError) -> Int {
        guard code < indexByCode.count, indexByCode[Int(code)] >= 0 else {
            throw StoreError("names site code \(code), which is not in the site directory")
        }
        return Int(indexByCode[Int(code)])
    }

    // MARK: Materializing

    /// The full meeting: the slot's live state with the booking's text decoded from the journal bytes.
    private func materialize(_ slot: Slot) -> Meeting {
        let b = bookings[Int(slot.booking)]
        let bytes = chunks[Int(b.chunk)]
        let record = bytes.withUnsafeBytes { raw in
            try? RecordReader.decode(type: 1, body: UnsafeRawBufferPointer(rebasing: raw[Int(b.offset)..<Int(b.offset + b.length)]))
        }
        // The bytes were validated when applied, so decoding cannot fail here.
        guard case .book(let booking)? = record else { preconditionFailure("booking record no longer decodes") }
        let links = booking.links.map { link in
            Meeting.Link(site: Int(indexByCode[Int(link.site)]), upstream: Int(indexByCode[Int(link.upstream)]))
        }
        return Meeting(
            id: slot.id, seriesID: b.firstID, occurrence: Int(slot.occurrence), occurrenceCount: Int(b.occurrenceCount),
            title: booking.title, organiser: booking.organiser, host: Int(slot.host), level: slot.level, start: slot.start,
            end: slot.end, setupSeconds: Int64(slot.setupSeconds), links: links, sites: slot.sites, displaced: slot.displaced,
            status: slot.status, scope: booking.scope, rule: booking.rule, bookedAt: b.bookedAt,
            notices: notices[slot.id] ?? [], revisions: Int(slot.revisions), cascadeUp: booking.cascadeUp)
    }

    func bookedAt(_ slot: Slot) -> Timestamp { bookings[Int(slot.booking)].bookedAt }

    // MARK: Queries

    /// Meetings (any status) whose reserved time, setup window included, overlaps [from, to).
    public func meetings(reservedDuring from: Timestamp, _ to: Timestamp) -> [Meeting] {
        var result: [Meeting] = []
        forEachSlot(reservedDuring: from, to) { result.append(materialize($0)) }
        return result
    }

    /// Calls `body` for each meeting whose reserved time overlaps [from, to), in start order.
    func forEachSlot(reservedDuring from: Timestamp, _ to: Timestamp, _ body: (Slot) -> Void) {
        // Any meeting reserved during the window starts after from - maxDuration and before to + maxSetup.
        let earliest = from - Self.maxDuration
        var low = 0
        var high = byStart.count
        while low < high {
            let mid = (low + high) / 2
            if slots[Int(byStart[mid]) - 1].start < earliest { low = mid + 1 } else { high = mid }
        }
        var i = low
        while i < byStart.count {
            let s = slots[Int(byStart[i]) - 1]
            if s.start >= to + Self.maxSetup { break }
            if s.reservedFrom < to && s.end > from { body(s) }
            i += 1
        }
    }

    /// The meetings a site takes part in (or was displaced from) during [from, to), in start order.
    public func agenda(site: Int, from: Timestamp, to: Timestamp) -> [Meeting] {
        var result: [Meeting] = []
        forEachSlot(reservedDuring: from, to) { s in
            if s.start < to && (s.sites.contains(site) || s.displaced.contains(site)) { result.append(materialize(s)) }
        }
        return result
    }

    /// Meetings in progress or in their setup window at `instant` (for the bridge).
    public func active(at instant: Timestamp) -> [Meeting] {
        var result: [Meeting] = []
        forEachSlot(reservedDuring: instant, instant + 1) { s in if s.isActive { result.append(materialize(s)) } }
        return result
    }

    /// Meetings that a higher-level meeting displaced (whole or in part), from `from` on.
    public func displacedMeetings(from: Timestamp) -> [Meeting] {
        notices.keys.sorted().compactMap { id in
            guard let s = slot(id), s.end > from else { return nil }
            return materialize(s)
        }
    }

    /// The chain of sites from the meeting's host down to `site` (host first).
    public func cascadePath(_ meeting: Meeting, to site: Int) -> [Site] {
        let chain = directory.ancestry(of: directory[site])
        guard let hostIndex = chain.firstIndex(where: { $0.index == meeting.host }) else { return [directory[site]] }
        return Array(chain[hostIndex...])
    }
}
