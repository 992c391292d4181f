import Testing
@testable import Scheduler

@Suite("Priority between levels")
struct PreemptionTests {
    @Test func aHigherLevelPreemptsOnlyWhenAskedAndTheDisplacedSitesAreNoticed() throws {
        let store = try makeStore()
        let district = try store.book(request("Giao ban huyện", host: "song-lo", scope: ["communes"],
                                              "2026-12-01 08:00", "2026-12-01 10:00", organiser: "VP huyện Sông Lô"))[0]
        // Without --preempt: refused.
        let refused = try #require(refusal {
            try store.book(request("Hội nghị tỉnh", host: "vinh-phuc", scope: ["lang-cong", "tam-son"],
                                   "2026-12-01 09:00", "2026-12-01 11:00"))
        })
        #expect(refused.conflicts.allSatisfy { $0.canPreempt })
        // With it: the two communes leave the district meeting, which goes on with the rest.
        let province = try store.book(request("Hội nghị tỉnh", host: "vinh-phuc", scope: ["lang-cong", "tam-son"],
                                              "2026-12-01 09:00", "2026-12-01 11:00", preempt: true))[0]
        let after = try #require(store.schedule.meeting(district.id))
        #expect(after.status == .scheduled)
        #expect(Set(siteIDs(after.displaced)) == ["lang-cong", "tam-son"])
        #expect(after.sites.count == district.sites.count - 2)
        #expect(after.notices.count == 1)
        #expect(after.notices[0].by == province.id && !after.notices[0].whole)
        // The freed sites are the province's now.
        #expect(throws: SchedulingError.self) {
            try store.book(request("Khác", host: "song-lo", scope: ["lang-cong"], "2026-12-01 09:30", "2026-12-01 10:00"))
        }
    }

    @Test func takingTheHostDisplacesTheWholeMeeting() throws {
        let store = try makeStore()
        try store.book(request("Họp huyện", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 10:00"))
        try store.book(request("Trung ương", host: "central", scope: ["districts"], "2026-12-01 09:00", "2026-12-01 10:00",
                               preempt: true))
        let displaced = try #require(store.schedule.meeting(1))
        #expect(displaced.status == .displaced)
        #expect(!displaced.isActive)
        #expect(displaced.notices.first?.whole == true)
        // Its communes are free again for others.
        try store.book(request("Xã", host: "song-lo", scope: ["lang-cong"], "2026-12-01 12:00", "2026-12-01 13:00"))
    }

    @Test func equalOrHigherLevelsAreAlwaysRefused() throws {
        let store = try makeStore()
        try store.book(request("Tỉnh A", host: "vinh-phuc", scope: ["district:yen-lac"], "2026-12-01 08:00", "2026-12-01 10:00"))
        let same = try #require(refusal {
            try store.book(request("Tỉnh B", host: "vinh-phuc", scope: ["district:yen-lac"], "2026-12-01 09:00",
                                   "2026-12-01 10:00", preempt: true))
        })
        #expect(same.kind == .conflict && same.conflicts.allSatisfy { !$0.canPreempt })
        #expect(!same.description.contains("--preempt"))
        let lower = try #require(refusal {
            try store.book(request("Huyện", host: "yen-lac", scope: ["communes"], "2026-12-01 09:00", "2026-12-01 10:00",
                                   preempt: true))
        })
        #expect(lower.kind == .conflict)
        #expect(store.schedule.count == 1)
    }

    @Test func capacityPreemptionDisplacesLowerMeetingsLatestBookedFirst() throws {
        let store = try makeStore(capacity: 39)
        try store.book(request("A", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 10:00"))      // 18
        try store.book(request("B", host: "binh-xuyen", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 10:00"))   // 14
        // A province meeting of 8 sites (province + 7 districts) does not fit beside 32 ports...
        #expect(refusal {
            try store.book(request("P", host: "vinh-phuc", scope: ["districts", "-song-lo", "-binh-xuyen"],
                                   "2026-12-01 09:00", "2026-12-01 09:30"))
        }?.kind == .conflict)
        // ...and with --preempt it displaces the most recently booked lower meeting, B, and nothing more.
        try store.book(request("P", host: "vinh-phuc", scope: ["districts", "-song-lo", "-binh-xuyen"],
                               "2026-12-01 09:00", "2026-12-01 09:30", preempt: true))
        #expect(store.schedule.meeting(1)!.status == .scheduled)
        #expect(store.schedule.meeting(2)!.status == .displaced)
    }
}
