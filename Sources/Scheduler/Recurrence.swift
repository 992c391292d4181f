import CivilTime

/// A recurrence rule: the RFC 5545 RRULE subset that calendar programs share
/// (FREQ daily/weekly/monthly, INTERVAL, BYDAY with ±n, BYMONTHDAY, COUNT or UNTIL) plus EXDATE.
public struct Recurrence: Hashable, Sendable {
    public enum Frequency: String, Sendable { case daily = "DAILY", weekly = "WEEKLY", monthly = "MONTHLY" }

    /// A weekday, with an ordinal for monthly rules: (2, monday) is the 2nd Monday, (-1, friday) the last Friday.
    public struct Day: Hashable, Sendable {
        public var ordinal: Int?
        public var weekday: Weekday
        public init(_ weekday: Weekday, ordinal: Int? = nil) {
            self.weekday = weekday
            self.ordinal = ordinal
        }
    }

    public enum End: Hashable, Sendable {
        case count(Int)
        /// Inclusive: the last date an occurrence may fall on.
        case until(CivilDate)
    }

    public var frequency: Frequency
    public var interval: Int
    public var byDay: [Day]
    public var byMonthDay: [Int]
    public var end: End
    public var exceptions: Set<CivilDate>

    public init(frequency: Frequency, interval: Int = 1, byDay: [Day] = [], byMonthDay: [Int] = [],
                end: End, exceptions: Set<CivilDate> = []) throws(RecurrenceError) {
        self.frequency = frequency
        self.interval = interval
        self.byDay = byDay
        self.byMonthDay = byMonthDay
        self.end = end
        self.exceptions = exceptions
        try validate()
    }

    private func validate() throws(RecurrenceError) {
        guard (1...366).contains(interval) else { throw RecurrenceError("the interval must be from 1 to 366") }
        if case .count(let n) = end, !(1...366).contains(n) {
            throw RecurrenceError("the count must be from 1 to 366")
        }
        for day in byDay {
            if let n = day.ordinal {
                guard frequency == .monthly else {
                    throw RecurrenceError("a numbered weekday (\(n)\(day.weekday.iCalendarName)) needs a monthly rule")
                }
                guard n != 0, (-5...5).contains(n) else {
                    throw RecurrenceError("the weekday number \(n) must be 1 to 5 or -1 to -5 (last)")
                }
            }
        }
        for d in byMonthDay where d == 0 || !(-31...31).contains(d) {
            throw RecurrenceError("the day of the month \(d) must be 1 to 31 or -1 to -31")
        }
        if !byMonthDay.isEmpty && frequency != .monthly {
            throw RecurrenceError("a day of the month needs a monthly rule")
        }
    }

    /// Parses an RRULE value ("FREQ=WEEKLY;BYDAY=MO,WE;COUNT=10"), with optional EXDATE dates.
    public init(rrule: String, exceptions: Set<CivilDate> = []) throws(RecurrenceError) {
        var frequency: Frequency?
        var interval = 1
        var byDay: [Day] = []
        var byMonthDay: [Int] = []
        var count: Int?
        var until: CivilDate?
        let text = rrule.hasPrefix("RRULE:") ? String(rrule.dropFirst(6)) : rrule
        for part in text.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { throw RecurrenceError("'\(part)' in the rule is not NAME=VALUE") }
            let value = pair[1]
            switch pair[0].uppercased() {
            case "FREQ":
                guard let f = Frequency(rawValue: value.uppercased()) else {
                    throw RecurrenceError("FREQ=\(value) is not supported (DAILY, WEEKLY or MONTHLY)")
                }
                frequency = f
            case "INTERVAL":
                guard let n = Int(value) else { throw RecurrenceError("INTERVAL=\(value) is not a number") }
                interval = n
            case "COUNT":
                guard let n = Int(value) else { throw RecurrenceError("COUNT=\(value) is not a number") }
                count = n
            case "UNTIL":
                let digits = value.prefix(8)
                guard digits.count == 8, let y = Int(digits.prefix(4)), let m = Int(digits.dropFirst(4).prefix(2)),
                      let d = Int(digits.suffix(2)), let date = CivilDate(year: y, month: m, day: d)
                else { throw RecurrenceError("UNTIL=\(value) is not a date (YYYYMMDD)") }
                until = date
            case "BYDAY":
                for item in value.split(separator: ",") {
                    let name = String(item.suffix(2))
                    let number = item.dropLast(2)
                    guard let weekday = Weekday(name: name) else { throw RecurrenceError("BYDAY=\(item) is not a weekday") }
                    if number.isEmpty {
                        byDay.append(Day(weekday))
                    } else {
                        guard let n = Int(number.hasPrefix("+") ? number.dropFirst() : number) else {
                            throw RecurrenceError("BYDAY=\(item) has a bad number")
                        }
                        byDay.append(Day(weekday, ordinal: n))
                    }
                }
            case "BYMONTHDAY":
                for item in value.split(separator: ",") {
                    guard let n = Int(item) else { throw RecurrenceError("BYMONTHDAY=\(item) is not a number") }
                    byMonthDay.append(n)
                }
            case "WKST":
                guard value.uppercased() == "MO" else { throw RecurrenceError("only WKST=MO is supported") }
            default:
                throw RecurrenceError("\(pair[0]) is not supported (FREQ, INTERVAL, BYDAY, BYMONTHDAY, COUNT, UNTIL)")
            }
        }
        guard let frequency else { throw RecurrenceError("the rule needs FREQ") }
        let end: End
        switch (count, until) {
        case (let c?, nil): end = .count(c)
        case (nil, let u?): end = .until(u)
        case (nil, nil): throw RecurrenceError("the rule needs COUNT or UNTIL (at most 366 occurrences)")
        case (_?, _?): throw RecurrenceError("the rule has both COUNT and UNTIL; give one")
        }
        try self.init(frequency: frequency, interval: interval, byDay: byDay, byMonthDay: byMonthDay,
                      end: end, exceptions: exceptions)
    }

    /// The RRULE value, e.g. "FREQ=MONTHLY;BYDAY=2MO;COUNT=12".
    public var rrule: String {
        var parts = ["FREQ=\(frequency.rawValue)"]
        if interval != 1 { parts.append("INTERVAL=\(interval)") }
        if !byDay.isEmpty {
            parts.append("BYDAY=" + byDay.map { ($0.ordinal.map(String.init) ?? "") + $0.weekday.iCalendarName }
                .joined(separator: ","))
        }
        if !byMonthDay.isEmpty { parts.append("BYMONTHDAY=" + byMonthDay.map(String.init).joined(separator: ",")) }
        switch end {
        case .count(let n): parts.append("COUNT=\(n)")
        case .until(let d): parts.append("UNTIL=" + d.description.replacingDashes())
        }
        return parts.joined(separator: ";")
    }

    /// The dates of the occurrences on or after `start`, in order, without the exceptions.
    /// - Parameter limit: the most occurrences allowed (settings' maxOccurrences).
    /// - Throws: ``RecurrenceError`` when the rule yields more than `limit` or no occurrence,
    ///   or an exception is not one of its dates.
    public func dates(from start: CivilDate, limit: Int) throws(RecurrenceError) -> [CivilDate] {
        var generated: [CivilDate] = []
        var period = 0
        let maxPeriods = 100 * 366  // a rule that produces nothing in a century is an error
        func accept(_ date: CivilDate) -> Bool {  // false when the rule has ended
            if case .until(let last) = end, date > last { return false }
            if case .count(let n) = end, generated.count >= n { return false }
            generated.append(date)
            return true
        }
        outer: while period < maxPeriods {
            let candidates = datesInPeriod(period, start: start)
            period += 1
            for date in candidates where date >= start {
                if !accept(date) { break outer }
                if generated.count > limit {
                    throw RecurrenceError("the rule gives more than \(limit) occurrences")
                }
            }
            if case .until(let last) = end, let first = candidates.first, first > last { break }
        }
        let missing = exceptions.filter { !generated.contains($0) }
        if let date = missing.min() {
            throw RecurrenceError("the excluded date \(date) is not one of the occurrences")
        }
        let result = generated.filter { !exceptions.contains($0) }
        guard !result.isEmpty else { throw RecurrenceError("the rule gives no occurrence") }
        return result
    }

    private func datesInPeriod(_ period: Int, start: CivilDate) -> [CivilDate] {
        switch frequency {
        case .daily:
            let date = start.adding(days: period * interval)
            if byDay.isEmpty || byDay.contains(where: { $0.weekday == date.weekday }) { return [date] }
            return []
        case .weekly:
            let monday = start.adding(days: -start.weekday.rawValue + 7 * period * interval)
            let days = byDay.isEmpty ? [start.weekday] : byDay.map(\.weekday)
            return Set(days).sorted().map { monday.adding(days: $0.rawValue) }
        case .monthly:
            let monthIndex = (start.year * 12 + start.month - 1) + period * interval
            let year = monthIndex / 12
            let month = monthIndex % 12 + 1
            let length = CivilDate.daysIn(month: month, year: year)
            var days: Set<Int> = []
            for d in byMonthDay {
                let day = d > 0 ? d : length + d + 1
                if (1...length).contains(day) { days.insert(day) }
            }
            for entry in byDay {
                let first = CivilDate(year: year, month: month, day: 1)!
                let firstMatch = 1 + (entry.weekday.rawValue - first.weekday.rawValue + 7) % 7
                let all = Array(stride(from: firstMatch, through: length, by: 7))
                if let n = entry.ordinal {
                    let index = n > 0 ? n - 1 : all.count + n
                    if all.indices.contains(index) { days.insert(all[index]) }
                } else {
                    days.formUnion(all)
                }
            }
            if byMonthDay.isEmpty && byDay.isEmpty && start.day <= length { days.insert(start.day) }
            return days.sorted().compactMap { CivilDate(year: year, month: month, day: $0) }
        }
    }
}

/// A recurrence rule that cannot be used: the message says which part and why.
public struct RecurrenceError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension String {
    func replacingDashes() -> String { filter { $0 != "-" } }
}
