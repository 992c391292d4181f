import Foundation
import Testing
@testable import Scheduler

/// What a power loss leaves at the end of the journal (a tail of zeros where the file was extended
/// but its data never reached the disk, a record cut short) is repaired; damage before the end is
/// reported with its byte offset, and what is before it can still be read.
@Suite("Booking journal after a power loss")
struct PowerLossTests {
    static let page = 4096

    func journalPath(_ dir: String) -> String { dir + "/" + ScheduleStore.journalName }

    func journalBytes(_ dir: String) throws -> [UInt8] {
        try [UInt8](Data(contentsOf: URL(fileURLWithPath: journalPath(dir))))
    }

    func write(_ bytes: [UInt8], to dir: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: journalPath(dir)))
    }

    func append(_ bytes: [UInt8], to dir: String) throws {
        try write(try journalBytes(dir) + bytes, to: dir)
    }

    func bookA(_ store: ScheduleStore) throws {
        try store.book(request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"))
    }

    func bookB(_ store: ScheduleStore) throws {
        try store.book(request("B", host: "yen-lac", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"))
    }

    func bookC(_ store: ScheduleStore) throws {
        try store.book(request("C", host: "tam-dao", scope: ["communes"], "2026-12-02 08:00", "2026-12-02 09:00"))
    }

    /// The journal of A then B, written without a fault: what a repaired journal must become.
    func cleanJournalOfAB() throws -> [UInt8] {
        let dir = temporaryDirectory()
        let store = try makeStore(dir)
        try bookA(store)
        try bookB(store)
        return try journalBytes(dir)
    }

    /// Books A, damages the tail with `tail`, reopens, books B: the journal must be exactly the clean one.
    func expectRepaired(tail: (_ afterA: [UInt8]) -> [UInt8], _ comment: Comment) throws {
        let dir = temporaryDirectory()
        try bookA(try makeStore(dir))
        let afterA = try journalBytes(dir)
        try append(tail(afterA), to: dir)

        let reopened = try makeStore(dir)
        #expect(reopened.schedule.allMeetings.map(\.title) == ["A"], comment)
        // Opening took the lock and cut the tail off, and says so.
        #expect(try journalBytes(dir) == afterA, comment)
        let repair = try #require(reopened.repair, comment)
        #expect(repair.hasPrefix("repaired \(journalPath(dir)): cut off \(tail(afterA).count) "), comment)
        #expect(repair.contains(" after byte \(afterA.count), left by a write cut short"), comment)
        #expect(try makeStore(dir).repair == nil, "nothing left to repair; \(comment)")
        try bookB(reopened)
        #expect(try makeStore(dir).schedule.allMeetings.map(\.title) == ["A", "B"], comment)
        #expect(try journalBytes(dir) == (try cleanJournalOfAB()), "the damaged tail is cut off before B; \(comment)")
    }

    @Test(arguments: [1, 8, 9, 10, 100, page, 3 * page + 5])
    func aTailOfZerosIsCutOffByTheNextWriter(zeros: Int) throws {
        try expectRepaired(tail: { _ in [UInt8](repeating: 0, count: zeros) }, "\(zeros) zeros")
    }

    @Test func zerosUpToThePageBoundaryAndAWholePageMoreAreCutOff() throws {
        try expectRepaired(tail: { afterA in
            [UInt8](repeating: 0, count: Self.page - afterA.count % Self.page + Self.page)
        }, "zeros to the end of the page and one page more")
    }

    /// B's record as the clean journal has it.
    func recordB() throws -> [UInt8] {
        let dir = temporaryDirectory()
        try bookA(try makeStore(dir))
        let a = try journalBytes(dir).count
        return Array(try cleanJournalOfAB()[a...])
    }

    @Test func aRecordWhoseLengthIsWrittenButBodyIsZerosIsCutOff() throws {
        let b = try recordB()
        // The length and the first bytes reached the disk, the rest of the record did not.
        let torn = Array(b.prefix(12)) + [UInt8](repeating: 0, count: b.count - 12)
        try expectRepaired(tail: { _ in torn }, "torn record, nothing after it")
        // ... and the file was extended to the end of its page with zeros.
        try expectRepaired(tail: { afterA in
            torn + [UInt8](repeating: 0, count: Self.page - (afterA.count + torn.count) % Self.page)
        }, "torn record, then zeros to the end of the page")
    }

    @Test func aTornTailLeftByACrashedWriterIsScannedOnceNotOnEveryRefresh() throws {
        let dir = temporaryDirectory()
        let follower = try makeStore(dir)
        try bookA(follower)
        let b = try recordB()
        // A writer in another process died halfway through B: its length and first bytes are on disk.
        let torn = Array(b.prefix(12)) + [UInt8](repeating: 0, count: b.count - 12)
        try append(torn, to: dir)
        let before = follower.scans
        for _ in 0..<200 { #expect(try !follower.refresh()) }
        #expect(follower.scans - before <= 1, "an unchanged torn tail was scanned \(follower.scans - before) times in 200 refreshes")
        #expect(follower.schedule.allMeetings.map(\.title) == ["A"])
        // The next writer cuts the tail and appends B, exactly as long as the torn tail: the file's
        // size is unchanged, and the follower still sees B.
        try bookB(try makeStore(dir))
        #expect(try journalBytes(dir).count == (try cleanJournalOfAB()).count)
        #expect(try follower.refresh())
        #expect(follower.schedule.allMeetings.map(\.title) == ["A", "B"])
    }

    @Test func aRecordCutShortInItsLengthFieldIsCutOff() throws {
        let b = try recordB()
        for cut in 1..<4 { try expectRepaired(tail: { _ in Array(b.prefix(cut)) }, "\(cut) bytes of the length") }
        // A length field that was never written properly claims more than any record may hold.
        try expectRepaired(tail: { _ in [0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3] + [UInt8](repeating: 0, count: 40) },
                           "a length of 4 GiB at the end")
    }

    @Test func anEmptyFileOrAHeaderThatNeverReachedTheDiskBecomesAnEmptyStore() throws {
        let header = BookingJournal.header
        let cases: [(String, [UInt8])] = [
            ("empty", []),
            ("half a header", Array(header.prefix(7))),
            ("a header of zeros", [UInt8](repeating: 0, count: header.count)),
            ("a page of zeros", [UInt8](repeating: 0, count: Self.page)),
            ("half a header then zeros", Array(header.prefix(5)) + [UInt8](repeating: 0, count: 100)),
        ]
        for (name, bytes) in cases {
            let dir = temporaryDirectory()
            try write(bytes, to: dir)
            let store = try makeStore(dir)
            #expect(store.schedule.count == 0, "\(name)")
            #expect((store.repair != nil) == !bytes.isEmpty, "\(name): \(store.repair ?? "no repair")")
            try bookA(store)
            try bookB(store)
            #expect(try journalBytes(dir) == (try cleanJournalOfAB()), "\(name)")
        }
    }

    /// A, B and C booked; `damage` applied to the bytes; the offset where B's record starts.
    func damagedJournalOfABC(_ damage: (inout [UInt8], _ offsetOfB: Int) -> Void) throws -> (dir: String, offsetOfB: Int) {
        let dir = temporaryDirectory()
        let store = try makeStore(dir)
        try bookA(store)
        let offsetOfB = journalSize(dir)
        try bookB(store)
        try bookC(store)
        var bytes = try journalBytes(dir)
        damage(&bytes, offsetOfB)
        try write(bytes, to: dir)
        return (dir, offsetOfB)
    }

    func damageMessage(_ dir: String, at offset: Int, _ reason: String, before: Int, after: Int) -> String {
        let path = journalPath(dir)
        return "\(path) is damaged at byte \(offset) (\(reason)): \(before == 1 ? "the record" : "the \(before) records") before it "
            + "\(before == 1 ? "is" : "are") intact and can be read; \(after) intact \(after == 1 ? "record" : "records") after it "
            + "\(after == 1 ? "is" : "are") not read; no change is accepted until it is repaired "
            + "(keep a copy, then 'truncate -s \(offset) \(path)' keeps only what is before the damage)"
    }

    @Test func aDamagedRecordInTheMiddleIsReportedWithItsOffset() throws {
        let (dir, b) = try damagedJournalOfABC { bytes, b in bytes[b + 12] ^= 0x5A }
        #expect(throws: StoreError(damageMessage(dir, at: b, "checksum mismatch", before: 1, after: 1))) {
            try makeStore(dir)
        }
    }

    @Test func aDamagedLengthInTheMiddleIsReportedNotTakenForATornEnd() throws {
        // B's length now claims more than the file holds: C after it must not be cut off as a torn tail.
        let (dir, b) = try damagedJournalOfABC { bytes, b in bytes[b + 2] = 0x7F }
        let before = try journalBytes(dir)
        #expect(throws: StoreError.self) { try makeStore(dir) }
        #expect(throws: StoreError(damageMessage(dir, at: b, "the record claims \(0x7F0000 + Int(before[b]) + Int(before[b + 1]) << 8) bytes, more than the file holds", before: 1, after: 1))) {
            try makeStore(dir)
        }
        #expect(try journalBytes(dir) == before, "nothing is cut off")
    }

    @Test func zerosInTheMiddleAreDamageNotATornEnd() throws {
        // A page of B lost, C intact after it.
        let (dir, b) = try damagedJournalOfABC { bytes, b in
            let c = b + (try! recordB()).count
            for i in b..<c { bytes[i] = 0 }
        }
        let before = try journalBytes(dir)
        #expect(throws: StoreError(damageMessage(dir, at: b, "checksum mismatch", before: 1, after: 1))) {
            try makeStore(dir)
        }
        #expect(try journalBytes(dir) == before, "nothing is cut off")
    }

    @Test func aDamagedStoreOpenedForReadingShowsWhatIsBeforeTheDamageAndRefusesChanges() throws {
        let (dir, b) = try damagedJournalOfABC { bytes, b in bytes[b + 12] ^= 0x5A }
        let before = try journalBytes(dir)
        let store = try ScheduleStore(dataDirectory: dir, directory: directory,
                                      rules: ScheduleRules(capacity: 160, setupSeconds: 900, maxOccurrences: 366),
                                      clock: FixedClock(testNow), allowingDamage: true)
        let message = damageMessage(dir, at: b, "checksum mismatch", before: 1, after: 1)
        #expect(store.schedule.allMeetings.map(\.title) == ["A"])
        #expect(store.damage == StoreError(message))
        #expect(try !store.refresh())
        let refused = try #require(refusal { try bookB(store) })
        #expect(refused.kind == .store)
        #expect(refused.description.contains(message), "\(refused.description)")
        #expect(refusal { try store.cancel(1, wholeSeries: false, by: "VP") }?.kind == .store)
        #expect(try journalBytes(dir) == before, "nothing is written or cut off")
    }
}
