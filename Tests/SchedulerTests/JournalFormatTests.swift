import CivilTime
import Foundation
import Testing
@testable import Scheduler

/// The journal's format version: every older format is read by a newer vcbridge, a newer one is refused by name.
@Suite("journal format")
struct JournalFormatTests {
    /// A journal written by vcbridge's journal format 1 (the format of 2026-12-01, by the CLI of that day):
    /// four weekly meetings (#2 moved, #4 cancelled), #5 with an upstream MCU (extended), #6 displaced whole by #7.
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Journals/\(name)")
        return Array(try Data(contentsOf: url))
    }

    static func dataDirectory(with journal: [UInt8]) throws -> String {
        let path = temporaryDirectory()
        try Data(journal).write(to: URL(fileURLWithPath: path + "/" + ScheduleStore.journalName))
        return path
    }

    @Test func aFormat1JournalLoadsWithEveryMeetingAsWritten() throws {
        let bytes = try Self.fixture("format-1.journal")
        #expect(bytes.starts(with: Array("VCBRIDGE-BOOKINGS 1\n".utf8)))
        let path = try Self.dataDirectory(with: bytes)
        let store = try makeStore(path)
        #expect(store.repair == nil && store.damage == nil)
        let meetings = store.schedule.allMeetings
        #expect(meetings.map(\.id) == [1, 2, 3, 4, 5, 6, 7])
        #expect(meetings.map(\.status) == [.scheduled, .scheduled, .scheduled, .cancelled, .scheduled, .displaced, .scheduled])
        #expect(meetings[0].title == "Giao ban tuần" && meetings[0].occurrenceCount == 4 && meetings[0].rule == "FREQ=WEEKLY;COUNT=4")
        #expect(meetings[0].start == at("2026-12-01 08:00") && meetings[0].end == at("2026-12-01 10:00"))
        #expect(meetings[1].start == at("2026-12-08 14:00"), "the move of #2")
        #expect(meetings[4].title == "Họp huyện Sông Lô" && meetings[4].cascadeUp == "sip:mcu@10.0.0.1:5060")
        #expect(meetings[4].end == at("2026-12-02 16:00"), "the extension of #5")
        #expect(meetings[6].sites.count == 147 && meetings[6].organiser == "VP UBND tỉnh")
        // Read, never rewritten: the file is as the older version left it.
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + ScheduleStore.journalName))) == bytes)
        // And it takes new bookings in the format this version writes.
        try makeStore(path).book(request("Sau nâng cấp", host: "song-lo", scope: ["lang-cong"], "2026-12-04 08:00", "2026-12-04 09:00"))
        #expect(try makeStore(path).schedule.count == 8)
    }

    @Test func aJournalFromANewerFormatIsRefusedNamingItsVersion() throws {
        var bytes = try Self.fixture("format-1.journal")
        let header = Array("VCBRIDGE-BOOKINGS 1\n".utf8)
        bytes.replaceSubrange(0..<header.count, with: Array("VCBRIDGE-BOOKINGS 2\n".utf8))
        let path = try Self.dataDirectory(with: bytes)
        #expect {
            try makeStore(path)
        } throws: { error in
            let message = (error as? StoreError)?.message ?? ""
            return message.contains("written by a newer vcbridge in journal format 2") && message.contains("reads formats 1 to 1")
        }
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path + "/" + ScheduleStore.journalName))) == bytes, "left untouched")
        // A backup or a check of it says the same and changes nothing.
        #expect(ScheduleStore.check(dataDirectory: path, directory: directory).problems.first?.contains("journal format 2") == true)
    }

    @Test func aHeaderThatNamesNoFormatIsNotAStore() throws {
        let path = try Self.dataDirectory(with: Array("VCBRIDGE-BOOKINGS x\n".utf8))
        #expect {
            try makeStore(path)
        } throws: { error in
            (error as? StoreError)?.message.contains("is not a vcbridge booking store") == true
        }
    }
}
