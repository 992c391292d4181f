@testable import CivilTime
@testable import Scheduler

/// Times, dates, zones, durations and recurrence rules as secretariats type them (meeting book/move options).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCivilTime(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = text(UnsafeRawBufferPointer(start: data, count: size))
    let now: Timestamp = 1_796_083_200  // 2026-12-01T00:00Z
    if let date = try? CivilDate(parsing: input) {
        require((try? CivilDate(parsing: date.description)) == date, "CivilDate parse(describe(x)) != x")
    }
    if let zone = try? ZoneOffset(parsing: input) {
        require((try? ZoneOffset(parsing: zone.description)) == zone, "ZoneOffset parse(describe(x)) != x")
    }
    for zone in [ZoneOffset.vietnam, .utc] {
        do { _ = try TimeFormat.parseMoment(input, zone: zone, now: now) } catch { requireNamed(error, "parseMoment") }
    }
    if let clock = try? TimeFormat.parseClock(input) {
        require((0..<1440).contains(clock.minuteOfDay) && (0..<60).contains(clock.second), "clock out of range")
    }
    if let seconds = try? TimeFormat.parseDuration(input) { require(seconds >= 0, "a negative duration") }
    do {
        let rule = try Recurrence(rrule: input)
        let again = try Recurrence(rrule: rule.rrule)
        require(again == rule, "Recurrence parse(rrule(x)) != x")
        _ = try? rule.dates(from: CivilDate(parsing: "2026-12-01"), limit: 50)
    } catch {
        requireNamed(error, "Recurrence")
    }
    return 0
}
