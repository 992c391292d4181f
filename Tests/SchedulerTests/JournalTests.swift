import Foundation
import Testing
@testable import Scheduler

@Suite("Booking journal")
struct JournalTests {
    func journalPath(_ dir: String) -> String { dir + "/" + ScheduleStore.journalName }

    func append(_ bytes: [UInt8], to path: String) throws {
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(bytes))
        try handle.close()
    }

    @Test func recordsRoundTripThroughTheBinaryForm() throws {
        let records: [JournalRecord] = [
            .book(.init(firstID: 7, bookedAt: 1_800_000_000, organiser: "VP tỉnh", title: "Hội nghị trực tuyến", hostCode: 26,
                        setupSeconds: 900, scope: "province,-tam-son", rule: "FREQ=WEEKLY;COUNT=2",
                        links: [(26, 26), (253, 26), (8824, 253)],
                        occurrences: [(1_800_000_000, 1_800_007_200), (1_800_604_800, 1_800_612_000)],
                        displacements: [.init(victim: 3, whole: false, siteCodes: [8824]), .init(victim: 4, whole: true, siteCodes: [])])),
            .reschedule(.init(id: 7, start: 5, end: 10, at: 3, by: "x", displacements: [])),
            .cancel(.init(ids: [7, 8], at: 99, by: "VP", reason: "hoãn")),
        ]
        for record in records {
            let body = RecordWriter.encode(record)
            let decoded = try body.withUnsafeBytes { try RecordReader.decode(type: record.typeByte, body: $0) }
            #expect(decoded == record)
            // Every truncation of the body is an error, not a trap.
            for cut in 0..<body.count {
                let short = Array(body.prefix(cut))
                #expect(throws: RecordReader.Truncated.self) {
                    try short.withUnsafeBytes { try RecordReader.decode(type: record.typeByte, body: $0) }
                }
            }
        }
        #expect(CRC32.checksum(UnsafeRawBufferPointer(start: nil, count: 0)) == 0)
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32.checksum($0) } == 0xCBF4_3926)
    }

    @Test func aTornLastRecordIsIgnoredThenCutOffByTheNextWriter() throws {
        let dir = temporaryDirectory()
        let store = try makeStore(dir)
        try store.book(request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"))
        let good = journalSize(dir)
        // A crash in the middle of writing the next record: a length and part of a body.
        try append([200, 0, 0, 0, 1, 9, 9, 9], to: journalPath(dir))

        let reopened = try makeStore(dir)
        #expect(reopened.schedule.count == 1)
        try reopened.book(request("B", host: "yen-lac", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"))
        #expect(try makeStore(dir).schedule.allMeetings.map(\.title) == ["A", "B"])
        #expect(journalSize(dir) > good)
    }

    @Test func damageBeforeTheEndIsReportedNotSkipped() throws {
        let dir = temporaryDirectory()
        let store = try makeStore(dir)
        try store.book(request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"))
        try store.book(request("B", host: "yen-lac", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"))
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: journalPath(dir))))
        let headerLength = BookingJournal.header.count
        bytes[headerLength + 12] ^= 0xFF  // inside the first record
        try Data(bytes).write(to: URL(fileURLWithPath: journalPath(dir)))
        let path = journalPath(dir)
        #expect(throws: StoreError("\(path) is damaged at byte \(headerLength) (checksum mismatch): there is no record before it; "
            + "1 intact record after it is not read; no change is accepted until it is repaired "
            + "(keep a copy, then 'truncate -s \(headerLength) \(path)' keeps only what is before the damage)")) {
            try makeStore(dir)
        }
    }

    @Test func aFileThatIsNotAStoreIsNamed() throws {
        let dir = temporaryDirectory()
        try "hello\n".write(toFile: journalPath(dir), atomically: true, encoding: .utf8)
        #expect(throws: StoreError("\(journalPath(dir)) is not a vcbridge booking store (its header is wrong)")) {
            try makeStore(dir)
        }
    }

    @Test func aSecondWriterSeesTheFirstBeforeItDecides() throws {
        let dir = temporaryDirectory()
        let a = try makeStore(dir)
        let b = try makeStore(dir)  // loaded before a books anything
        try a.book(request("A", host: "song-lo", scope: ["lang-cong"], "2026-12-01 08:00", "2026-12-01 09:00"))
        let error = try #require(refusal {
            try b.book(request("B", host: "song-lo", scope: ["lang-cong"], "2026-12-01 08:30", "2026-12-01 09:30"))
        })
        #expect(error.kind == .conflict)
        // And a reader follows new bookings with refresh(), as the running bridge does.
        try a.book(request("C", host: "yen-lac", scope: ["communes"], "2026-12-02 08:00", "2026-12-02 09:00"))
        #expect(try b.refresh())
        #expect(b.schedule.allMeetings.map(\.title) == ["A", "C"])
        #expect(try !b.refresh())
    }

    @Test func queriesFindMeetingsByTimeAndSite() throws {
        let store = try makeStore()
        try store.book(request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"))
        try store.book(request("B", host: "vinh-phuc", scope: ["district:yen-lac"], "2026-12-02 08:00", "2026-12-02 09:00"))
        try store.book(request("C", host: "song-lo", scope: ["lang-cong"], "2026-12-03 08:00", "2026-12-03 09:00"))
        let langCong = site("lang-cong").index
        #expect(store.schedule.agenda(site: langCong, from: at("2026-11-30"), to: at("2026-12-07")).map(\.title) == ["A", "C"])
        #expect(store.schedule.agenda(site: langCong, from: at("2026-12-02"), to: at("2026-12-07")).map(\.title) == ["C"])
        // In its setup window a meeting is active for the bridge.
        #expect(store.schedule.active(at: at("2026-12-02 07:50")).map(\.title) == ["B"])
        #expect(store.schedule.active(at: at("2026-12-02 07:40")).isEmpty)
        #expect(store.schedule.active(at: at("2026-12-02 09:00")).isEmpty)
    }
}
