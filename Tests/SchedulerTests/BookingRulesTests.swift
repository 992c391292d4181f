import CivilTime
import Foundation
import Testing
@testable import Scheduler

@Suite("Booking rules")
struct BookingRulesTests {
    @Test func aBookingIsStoredWithItsCascadePathsAndSurvivesAReload() throws {
        let path = temporaryDirectory()
        let store = try makeStore(path)
        let booked = try store.book(request("Giao ban tuần", host: "vinh-phuc", scope: ["district:song-lo", "trung-nhi"],
                                            "2026-12-01 08:00", "2026-12-01 10:00"))
        #expect(booked.count == 1)
        let m = booked[0]
        #expect(m.id == 1 && m.title == "Giao ban tuần" && m.level == .province)
        #expect(m.sites.count == 1 + 18 + 1)  // host, Sông Lô and its 17 units, Trưng Nhị
        #expect(store.schedule.cascadePath(m, to: site("trung-nhi").index).map(\.id) == ["vinh-phuc", "phuc-yen", "trung-nhi"])
        #expect(m.links.first { $0.site == site("trung-nhi").index }?.upstream == site("phuc-yen").index)

        let reopened = try makeStore(path)
        let again = try #require(reopened.schedule.meeting(1))
        #expect(again.title == m.title && again.sites == m.sites && again.start == m.start && again.end == m.end)
        #expect(again.organiser == "VP UBND tỉnh" && again.scope == "district:song-lo,trung-nhi")
    }

    @Test func meetingsTouchingAtTheEdgeWithTheSetupWindowBothFit() throws {
        let store = try makeStore()
        try store.book(request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 10:00"))
        // B's setup window starts at 10:00, exactly when A ends.
        try store.book(request("B", host: "song-lo", scope: ["communes"], "2026-12-01 10:15", "2026-12-01 11:00"))
        // C's setup window (10:55) overlaps B by five minutes.
        #expect(throws: SchedulingError.self) {
            try store.book(request("C", host: "song-lo", scope: ["communes"], "2026-12-01 11:10", "2026-12-01 12:00"))
        }
        // Other sites at the same time are fine.
        try store.book(request("D", host: "yen-lac", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 12:00"))
    }

    @Test func theSetupWindowIsConfigurable() throws {
        let store = try makeStore(setupMinutes: 30)
        try store.book(request("A", host: "tam-dao", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 10:00"))
        #expect(throws: SchedulingError.self) {
            try store.book(request("B", host: "tam-dao", scope: ["communes"], "2026-12-01 10:15", "2026-12-01 11:00"))
        }
        try store.book(request("B", host: "tam-dao", scope: ["communes"], "2026-12-01 10:30", "2026-12-01 11:00"))
    }

    @Test func aRefusedBookingNamesEveryConflictAndWritesNothing() throws {
        let path = temporaryDirectory()
        let store = try makeStore(path)
        try store.book(request("Họp huyện", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 10:00",
                               organiser: "VP huyện Sông Lô"))
        try store.book(request("Họp xã", host: "tam-duong", scope: ["hop-hoa"], "2026-12-01 09:00", "2026-12-01 11:00"))
        let before = journalSize(path)
        let error = try #require(refusal {
            try store.book(request("Hội nghị", host: "vinh-phuc", scope: ["district:song-lo", "hop-hoa", "tam-duong"],
                                   "2026-12-01 09:30", "2026-12-01 11:00"))
        })
        #expect(error.kind == .conflict)
        #expect(Set(error.conflicts.map(\.meeting)) == [1, 2])
        let text = error.description
        #expect(text.contains("#1 \"Họp huyện\" (district, host song-lo"))
        #expect(text.contains("#2 \"Họp xã\""))
        #expect(text.contains("hop-hoa"))
        #expect(text.contains("--preempt would displace them"))
        #expect(journalSize(path) == before)
        #expect(store.schedule.count == 2)
    }

    @Test func capacityHoldsAtTheInstantThreeMeetingsOverlap() throws {
        let store = try makeStore(capacity: 40)
        // 18 + 14 ports; 13 more would make 45 > 40 only while all three overlap (09:45-10:00 with setup).
        try store.book(request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 10:00"))   // 18
        try store.book(request("B", host: "binh-xuyen", scope: ["communes"], "2026-12-01 09:00", "2026-12-01 11:00"))  // 14
        let error = try #require(refusal {
            try store.book(request("C", host: "tam-duong", scope: ["communes"], "2026-12-01 10:00", "2026-12-01 11:00"))  // 14
        })
        #expect(error.kind == .conflict)
        #expect(Set(error.conflicts.map(\.meeting)) == [1, 2])
        #expect(error.description.contains("would need 46 bridge ports at 2026-12-01 09:45 (capacity 40)"))
        // Starting 15 minutes later its setup window begins when A ends: 14 + 14 = 28.
        try store.book(request("C", host: "tam-duong", scope: ["communes"], "2026-12-01 10:15", "2026-12-01 11:00"))
    }

    @Test func aMeetingLargerThanTheBridgeIsInvalid() throws {
        let store = try makeStore(capacity: 100)
        #expect(throws: SchedulingError.self) {
            try store.book(request("Toàn tỉnh", host: "vinh-phuc", scope: ["all"], "2026-12-01 08:00", "2026-12-01 10:00"))
        }
    }

    @Test("bad requests are refused with one clear line", arguments: [
        ("", "2026-12-01 08:00", "2026-12-01 09:00", "the title is empty"),
        (String(repeating: "x", count: 201), "2026-12-01 08:00", "2026-12-01 09:00", "the title has 201 characters; at most 200"),
        ("T", "2026-12-01 09:00", "2026-12-01 09:00", "the end is not after the start"),
        ("T", "2026-12-01 09:00", "2026-12-01 08:00", "the end is not after the start"),
        ("T", "2026-12-01 08:00", "2026-12-02 08:01", "the meeting lasts 24h1m; at most 24h"),
        ("T", "2026-11-29 08:00", "2026-11-29 09:00", "the meeting would be over before now (2026-11-30 07:00)"),
    ])
    func badRequests(title: String, start: String, end: String, message: String) throws {
        let store = try makeStore()
        let error = try #require(refusal { try store.book(request(title, host: "song-lo", scope: ["communes"], start, end)) })
        #expect(error.kind == .invalid)
        #expect(error.description == message)
    }
}

@Suite("Batches")
struct BatchTests {
    @Test func aBatchBooksAllOrNothing() throws {
        let path = temporaryDirectory()
        let store = try makeStore(path)
        let before = journalSize(path)
        let clash = try #require(refusal {
            try store.bookAll([
                try request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"),
                try request("B", host: "yen-lac", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"),
                try request("C", host: "song-lo", scope: ["lang-cong"], "2026-12-01 08:30", "2026-12-01 09:30"),
            ])
        })
        #expect(clash.kind == .conflict)
        #expect(journalSize(path) == before)
        #expect(store.schedule.count == 0)
        let booked = try store.bookAll([
            try request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"),
            try request("B", host: "yen-lac", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00"),
        ])
        #expect(booked.map { $0.map(\.id) } == [[1], [2]])
        #expect(try makeStore(path).schedule.count == 2)
    }
}
