import Testing
@testable import CivilTime

@Suite("Civil time")
struct CivilTimeTests {
    // 2026-11-29 06:00:00 UTC = 13:00 in Vietnam.
    let now: Timestamp = 1_795_932_000

    @Test func daysRoundTripAndWeekdays() {
        for days in stride(from: -800_000, through: 800_000, by: 997) {
            #expect(CivilDate(daysSinceEpoch: days).daysSinceEpoch == days)
        }
        #expect(CivilDate(year: 1970, month: 1, day: 1)!.daysSinceEpoch == 0)
        #expect(CivilDate(year: 2026, month: 11, day: 29)!.weekday == .sunday)
        #expect(CivilDate(year: 2024, month: 2, day: 29)!.weekday == .thursday)
        #expect(CivilDate(year: 2026, month: 2, day: 28)!.adding(days: 1).description == "2026-03-01")
        #expect(CivilDate(year: 2028, month: 2, day: 28)!.adding(days: 1).description == "2028-02-29")
    }

    @Test func datesThatDoNotExistAreRefused() {
        #expect(CivilDate(year: 2026, month: 2, day: 29) == nil)
        #expect(CivilDate(year: 2000, month: 2, day: 29) != nil)
        #expect(CivilDate(year: 1900, month: 2, day: 29) == nil)
        #expect(CivilDate(year: 2026, month: 4, day: 31) == nil)
        #expect(CivilDate(year: 2026, month: 13, day: 1) == nil)
        #expect(throws: TimeParseError("the date 2026-02-30 does not exist")) { try CivilDate(parsing: "2026-02-30") }
        #expect(throws: TimeParseError("'1/12/2026' is not a date (expected YYYY-MM-DD)")) { try CivilDate(parsing: "1/12/2026") }
    }

    @Test("moments parse in Vietnam time unless a zone is given", arguments: [
        ("2026-12-01 08:00", "2026-12-01 01:00 UTC"),
        ("2026-12-01T08:00", "2026-12-01 01:00 UTC"),
        ("2026-12-01 08:00:30", "2026-12-01 01:00:30 UTC"),
        ("2026-12-01 08:00 +07:00", "2026-12-01 01:00 UTC"),
        ("2026-12-01T08:00+0700", "2026-12-01 01:00 UTC"),
        ("2026-12-01 08:00 UTC", "2026-12-01 08:00 UTC"),
        ("2026-12-01T08:00Z", "2026-12-01 08:00 UTC"),
        ("2026-12-01 08:00 -05:00", "2026-12-01 13:00 UTC"),
        ("2026-12-01", "2026-11-30 17:00 UTC"),
        ("today 14:00", "2026-11-29 07:00 UTC"),
        ("tomorrow 08:30", "2026-11-30 01:30 UTC"),
        ("now", "2026-11-29 06:00 UTC"),
    ])
    func moments(text: String, utc: String) throws {
        let t = try TimeFormat.parseMoment(text, zone: .vietnam, now: now)
        #expect(LocalDateTime(t, in: .utc).description + " UTC" == utc)
    }

    @Test("bad moments name what is wrong", arguments: [
        ("2026-02-29 08:00", "the date 2026-02-29 does not exist"),
        ("2026-12-01 25:00", "the time 25:00 does not exist"),
        ("2026-12-01 8am", "'8am' is not a time of day (expected HH:MM)"),
        ("2026-12-01 08:00 Mars", "'Mars' is not a time zone (use +07:00, Z or UTC)"),
        ("next week", "'next' is not a date (expected YYYY-MM-DD)"),
        ("", "empty time"),
    ])
    func badMoments(text: String, message: String) {
        #expect(throws: TimeParseError(message)) { try TimeFormat.parseMoment(text, zone: .vietnam, now: now) }
    }

    @Test func localTimeFormatting() throws {
        let t: Timestamp = 1_795_932_000
        #expect(LocalDateTime(t, in: .vietnam).description == "2026-11-29 13:00")
        #expect(LocalDateTime(t, in: .utc).timeText == "06:00")
        // 17:00 UTC is midnight of the next day in Vietnam.
        #expect(LocalDateTime(1_795_971_600, in: .vietnam).date.description == "2026-11-30")
        #expect(LocalDateTime(-1, in: .utc).description == "1969-12-31 23:59:59")
        #expect(ZoneOffset.vietnam.description == "+07:00")
        #expect(try ZoneOffset(parsing: "-0530").seconds == -19800)
    }

    @Test("durations", arguments: [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45min", 2700),
                                   ("1.5h", 5400), ("01:30", 5400), ("1d", 86400), ("2 h", 7200), ("30s", 30)] as [(String, Int64)])
    func durations(text: String, seconds: Int64) throws {
        #expect(try TimeFormat.parseDuration(text) == seconds)
    }

    /// Found by the `civiltime` fuzz target: a number too large for Int64 trapped instead of being refused.
    @Test func aDurationTooLongForTheClockIsRefusedNamingTheLimit() {
        let huge = "2" + String(repeating: "8", count: 29) + "S"
        #expect(throws: TimeParseError("'\(huge)' is longer than 3650 days")) { try TimeFormat.parseDuration(huge) }
        #expect(throws: TimeParseError("'3651d' is longer than 3650 days")) { try TimeFormat.parseDuration("3651d") }
        #expect(throws: TimeParseError.self) { try TimeFormat.parseDuration("1e400s") }
    }

    /// Found by the `civiltime` fuzz target: seconds whose digit carries a combining mark ("3" + U+0339) passed the
    /// digit check and trapped on the conversion.
    @Test func aClockWithADigitThatIsNotASCIIIsRefused() {
        for text in ["14:05:3\u{0339}0", "14:0\u{0663}", "\u{0661}\u{0664}:05"] {
            #expect(throws: TimeParseError("'\(text)' is not a time of day (expected HH:MM)")) { try TimeFormat.parseClock(text) }
        }
        #expect(throws: TimeParseError.self) { try TimeFormat.parseMoment("2026-12-01 14:05:3\u{0339}0", zone: .vietnam, now: 0) }
    }

    @Test func badDurations() throws {
        #expect(throws: TimeParseError.self) { try TimeFormat.parseDuration("two hours") }
        #expect(throws: TimeParseError("'w' in '2w' is not a unit (use d, h, m or s)")) { try TimeFormat.parseDuration("2w") }
        #expect(throws: TimeParseError.self) { try TimeFormat.parseDuration("90") }
        #expect(TimeFormat.durationText(5400) == "1h30m")
        #expect(try TimeFormat.parseDuration("3650d") == 3650 * 86400)
        #expect(TimeFormat.durationText(7200) == "2h")
        #expect(TimeFormat.durationText(900) == "15m")
    }

    @Test func weekdayNames() {
        #expect(Weekday(name: "MO") == .monday)
        #expect(Weekday(name: "friday") == .friday)
        #expect(Weekday(name: "Sun") == .sunday)
        #expect(Weekday(name: "funday") == nil)
    }
}
