import CivilTime
import Testing
@testable import Scheduler

private func date(_ text: String) -> CivilDate { try! CivilDate(parsing: text) }

@Suite("Recurrence")
struct RecurrenceTests {
    func dates(_ rule: String, from start: String, except: [String] = []) throws -> [String] {
        let r = try Recurrence(rrule: rule, exceptions: Set(except.map(date)))
        return try r.dates(from: date(start), limit: 366).map(\.description)
    }

    @Test func dailyWeekdaysAndWeekly() throws {
        #expect(try dates("FREQ=DAILY;COUNT=3", from: "2026-12-30") == ["2026-12-30", "2026-12-31", "2027-01-01"])
        // Weekdays: Friday then the next Monday.
        #expect(try dates("FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;COUNT=3", from: "2026-12-04") == ["2026-12-04", "2026-12-07", "2026-12-08"])
        #expect(try dates("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=4", from: "2026-12-01")
                == ["2026-12-02", "2026-12-07", "2026-12-09", "2026-12-14"])
        #expect(try dates("FREQ=WEEKLY;INTERVAL=2;UNTIL=20261231", from: "2026-12-01") == ["2026-12-01", "2026-12-15", "2026-12-29"])
    }

    @Test func monthlyByDayAcrossMonthEndsAndLeapDay() throws {
        // The 31st exists in only some months; the rule skips the others.
        #expect(try dates("FREQ=MONTHLY;BYMONTHDAY=31;COUNT=4", from: "2027-01-31")
                == ["2027-01-31", "2027-03-31", "2027-05-31", "2027-07-31"])
        // The 29th: February only in a leap year.
        #expect(try dates("FREQ=MONTHLY;BYMONTHDAY=29;UNTIL=20280331", from: "2027-12-29")
                == ["2027-12-29", "2028-01-29", "2028-02-29", "2028-03-29"])
        #expect(try dates("FREQ=MONTHLY;BYMONTHDAY=29;UNTIL=20270331", from: "2026-12-29")
                == ["2026-12-29", "2027-01-29", "2027-03-29"])
        // The last day of each month.
        #expect(try dates("FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=3", from: "2028-01-01") == ["2028-01-31", "2028-02-29", "2028-03-31"])
    }

    @Test func monthlyNthAndLastWeekday() throws {
        #expect(try dates("FREQ=MONTHLY;BYDAY=2MO;COUNT=3", from: "2026-12-01") == ["2026-12-14", "2027-01-11", "2027-02-08"])
        #expect(try dates("FREQ=MONTHLY;BYDAY=-1FR;COUNT=3", from: "2026-12-01") == ["2026-12-25", "2027-01-29", "2027-02-26"])
        // A 5th Monday exists only in some months.
        #expect(try dates("FREQ=MONTHLY;BYDAY=5MO;COUNT=2", from: "2026-12-01") == ["2027-03-29", "2027-05-31"])
    }

    @Test func exceptionsAreRemovedAfterCounting() throws {
        #expect(try dates("FREQ=WEEKLY;COUNT=4", from: "2026-12-01", except: ["2026-12-15"])
                == ["2026-12-01", "2026-12-08", "2026-12-22"])
    }

    @Test("rules out of bounds name the fault", arguments: [
        ("FREQ=DAILY", "the rule needs COUNT or UNTIL (at most 366 occurrences)"),
        ("FREQ=DAILY;COUNT=3;UNTIL=20270101", "the rule has both COUNT and UNTIL; give one"),
        ("FREQ=DAILY;COUNT=367", "the count must be from 1 to 366"),
        ("FREQ=DAILY;UNTIL=20281231", "the rule gives more than 366 occurrences"),
        ("FREQ=YEARLY;COUNT=2", "FREQ=YEARLY is not supported (DAILY, WEEKLY or MONTHLY)"),
        ("FREQ=WEEKLY;BYDAY=2MO;COUNT=2", "a numbered weekday (2MO) needs a monthly rule"),
        ("FREQ=MONTHLY;BYMONTHDAY=32;COUNT=2", "the day of the month 32 must be 1 to 31 or -1 to -31"),
        ("FREQ=DAILY;COUNT=2;BYHOUR=8", "BYHOUR is not supported (FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL)"),
        ("FREQ=DAILY;UNTIL=20261130", "the rule gives no occurrence"),
    ])
    func badRules(rule: String, message: String) {
        do {
            _ = try dates(rule, from: "2026-12-01")
            Issue.record("accepted \(rule)")
        } catch {
            #expect("\(error)" == message)
        }
    }

    @Test func anExceptionThatIsNoOccurrenceIsAnError() {
        #expect(throws: RecurrenceError("the excluded date 2026-12-02 is not one of the occurrences")) {
            try dates("FREQ=WEEKLY;COUNT=4", from: "2026-12-01", except: ["2026-12-02"])
        }
    }

    @Test func rruleTextRoundTrips() throws {
        for text in ["FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE;COUNT=10", "FREQ=MONTHLY;BYDAY=-1FR;UNTIL=20271231",
                     "FREQ=MONTHLY;BYMONTHDAY=15;COUNT=12"] {
            #expect(try Recurrence(rrule: text).rrule == text)
        }
    }

    @Test func everyOccurrenceIsCheckedAndEachCanBeMovedOrCancelledAlone() throws {
        let store = try makeStore()
        // Something already sits on the third Tuesday.
        try store.book(request("Họp riêng", host: "song-lo", scope: ["lang-cong"], "2026-12-15 08:30", "2026-12-15 09:00"))
        let weekly = try Recurrence(rrule: "FREQ=WEEKLY;COUNT=5")
        let clash = try #require(refusal {
            try store.book(request("Giao ban", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-01 09:00",
                                   recurrence: weekly))
        })
        #expect(clash.conflicts.map(\.occurrenceStart) == [at("2026-12-15 08:00")])
        #expect(clash.description.contains("on 2026-12-15"))

        // Without that day, the series books as 4 meetings.
        let series = try store.book(request("Giao ban", host: "song-lo", scope: ["communes"], "2026-12-01 08:00",
                                            "2026-12-01 09:00",
                                            recurrence: try Recurrence(rrule: "FREQ=WEEKLY;COUNT=5",
                                                                       exceptions: [date("2026-12-15")])))
        #expect(series.map(\.start) == ["2026-12-01", "2026-12-08", "2026-12-22", "2026-12-29"].map { at($0 + " 08:00") })
        #expect(series.allSatisfy { $0.seriesID == series[0].id && $0.rule == "FREQ=WEEKLY;COUNT=5" })

        // Move the second occurrence only; cancel the third only.
        try store.move(series[1].id, to: at("2026-12-09 14:00"), by: "VP")
        try store.cancel(series[2].id, wholeSeries: false, by: "VP")
        #expect(store.schedule.meeting(series[1].id)!.start == at("2026-12-09 14:00"))
        #expect(store.schedule.meeting(series[0].id)!.start == at("2026-12-01 08:00"))
        #expect(store.schedule.meeting(series[2].id)!.status == .cancelled)
        #expect(store.schedule.meeting(series[3].id)!.status == .scheduled)
        // Cancelling the series cancels what is left.
        let cancelled = try store.cancel(series[0].id, wholeSeries: true, by: "VP")
        #expect(cancelled.map(\.id) == [series[0].id, series[1].id, series[3].id])
    }

    @Test func aSeriesWhoseOccurrencesOverlapItselfIsRefused() throws {
        let store = try makeStore()
        let error = try #require(refusal {
            try store.book(request("Dài", host: "song-lo", scope: ["communes"], "2026-12-01 08:00", "2026-12-02 07:50",
                                   recurrence: try Recurrence(rrule: "FREQ=DAILY;COUNT=3")))
        })
        #expect(error.description == "the occurrences on 2026-12-01 and 2026-12-02 overlap (setup window included)")
    }
}
