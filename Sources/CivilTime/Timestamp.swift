/// An instant as whole seconds since 1970-01-01T00:00:00Z: how vcbridge stores every time.
public typealias Timestamp = Int64

/// A fixed offset from UTC. Vietnam is UTC+7 all year (Asia/Ho_Chi_Minh, no daylight saving).
public struct ZoneOffset: Hashable, Sendable, CustomStringConvertible {
    public let seconds: Int

    public init(seconds: Int) { self.seconds = seconds }

    public static let vietnam = ZoneOffset(seconds: 7 * 3600)
    public static let utc = ZoneOffset(seconds: 0)

    /// "+07:00", "Z" for UTC.
    public var description: String {
        if seconds == 0 { return "Z" }
        let sign = seconds < 0 ? "-" : "+"
        let minutes = abs(seconds) / 60
        return "\(sign)\(pad(minutes / 60, 2)):\(pad(minutes % 60, 2))"
    }

    /// Parses "Z", "UTC", "+07:00", "+0700", "+07", "-05:30", "ICT" (Indochina Time, +07:00).
    public init(parsing text: String) throws(TimeParseError) {
        switch text.uppercased() {
        case "Z", "UTC", "GMT": self = .utc; return
        case "ICT", "ASIA/HO_CHI_MINH", "VN": self = .vietnam; return
        default: break
        }
        guard let sign = text.first, sign == "+" || sign == "-" else {
            throw TimeParseError("'\(text)' is not a time zone (use +07:00, Z or UTC)")
        }
        let digits = text.dropFirst().filter { $0 != ":" }
        guard digits.allSatisfy(\.isNumber), digits.count == 2 || digits.count == 4,
              let hours = Int(digits.prefix(2)), let minutes = Int(digits.count == 4 ? digits.suffix(2) : "00"),
              hours <= 14, minutes < 60
        else { throw TimeParseError("'\(text)' is not a time zone (use +07:00, Z or UTC)") }
        seconds = (sign == "-" ? -1 : 1) * (hours * 3600 + minutes * 60)
    }
}

/// A date and a wall-clock time in a given zone.
public struct LocalDateTime: Hashable, Sendable, CustomStringConvertible {
    public let date: CivilDate
    /// Minutes after midnight, 0..<1440.
    public let minuteOfDay: Int
    public let second: Int

    public init(date: CivilDate, minuteOfDay: Int, second: Int = 0) {
        self.date = date
        self.minuteOfDay = minuteOfDay
        self.second = second
    }

    public init(_ timestamp: Timestamp, in zone: ZoneOffset) {
        let local = timestamp + Int64(zone.seconds)
        let days = Int((local >= 0 ? local : local - 86399) / 86400)
        let secondOfDay = Int(local - Int64(days) * 86400)
        date = CivilDate(daysSinceEpoch: days)
        minuteOfDay = secondOfDay / 60
        second = secondOfDay % 60
    }

    public func timestamp(in zone: ZoneOffset) -> Timestamp {
        Int64(date.daysSinceEpoch) * 86400 + Int64(minuteOfDay * 60 + second) - Int64(zone.seconds)
    }

    public var hour: Int { minuteOfDay / 60 }
    public var minute: Int { minuteOfDay % 60 }

    /// "2026-12-01 08:00" (seconds shown only when not zero).
    public var description: String {
        "\(date) \(pad(hour, 2)):\(pad(minute, 2))" + (second == 0 ? "" : ":\(pad(second, 2))")
    }

    /// "08:00".
    public var timeText: String { "\(pad(hour, 2)):\(pad(minute, 2))" }
}

public enum TimeFormat {
    /// Parses a moment as a secretariat types it, in `zone` unless the text names its own:
    /// "2026-12-01 08:00", "2026-12-01T08:00:30", "2026-12-01 08:00 +07:00", "2026-12-01T01:00Z",
    /// "today 14:00", "tomorrow 08:30", "now", or a bare date (midnight).
    /// - Parameter now: the current instant (injected, for "now", "today", "tomorrow").
    /// - Throws: ``TimeParseError`` naming what is wrong ("the date 2026-02-30 does not exist").
    public static func parseMoment(_ text: String, zone: ZoneOffset, now: Timestamp) throws(TimeParseError) -> Timestamp {
        let rest = text.trimmingSpaces()
        guard !rest.isEmpty else { throw TimeParseError("empty time") }
        if rest.lowercased() == "now" { return now }

        // Split date and time: at the first space, or at a "T" after a YYYY-MM-DD date.
        var datePart = rest
        var timePart: String? = nil
        if let space = rest.firstIndex(of: " ") {
            datePart = String(rest[..<space])
            timePart = String(rest[rest.index(after: space)...]).trimmingSpaces()
        } else if rest.count > 10, rest[rest.index(rest.startIndex, offsetBy: 10)].uppercased() == "T" {
            datePart = String(rest.prefix(10))
            timePart = String(rest.dropFirst(11))
        }

        // A zone after the time: " +07:00", " UTC", glued "+07:00" or "Z".
        var zoneInForce = zone
        if var time = timePart {
            if let space = time.lastIndex(of: " ") {
                zoneInForce = try ZoneOffset(parsing: String(time[time.index(after: space)...]))
                time = String(time[..<space]).trimmingSpaces()
            } else if time.uppercased().hasSuffix("Z") {
                zoneInForce = .utc
                time.removeLast()
            } else if let sign = time.firstIndex(where: { $0 == "+" || $0 == "-" }) {
                zoneInForce = try ZoneOffset(parsing: String(time[sign...]))
                time = String(time[..<sign])
            }
            timePart = time
        }

        let date: CivilDate
        let today = LocalDateTime(now, in: zoneInForce).date
        switch datePart.lowercased() {
        case "today": date = today
        case "tomorrow": date = today.adding(days: 1)
        default: date = try CivilDate(parsing: datePart)
        }
        var minuteOfDay = 0
        var second = 0
        if let timePart {
            (minuteOfDay, second) = try parseClock(timePart)
        }
        return LocalDateTime(date: date, minuteOfDay: minuteOfDay, second: second).timestamp(in: zoneInForce)
    }

    /// Parses "08:00" or "08:00:30" into minutes after midnight and seconds.
    public static func parseClock(_ text: String) throws(TimeParseError) -> (minuteOfDay: Int, second: Int) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        // Two ASCII digits each: `isNumber` would also take other scripts' digits and a digit carrying a combining mark.
        guard (2...3).contains(parts.count), parts.allSatisfy({ $0.utf8.count == 2 && $0.utf8.allSatisfy { (0x30...0x39).contains($0) } }),
              let h = Int(parts[0]), let m = Int(parts[1]), let s = parts.count == 3 ? Int(parts[2]) : 0
        else { throw TimeParseError("'\(text)' is not a time of day (expected HH:MM)") }
        guard h < 24, m < 60, s < 60 else { throw TimeParseError("the time \(text) does not exist") }
        return (h * 60 + m, s)
    }

    /// The longest duration `parseDuration` accepts: ten years, far past any meeting or history window.
    public static let maximumDuration: Int64 = 3650 * 86400

    /// Parses a duration: "2h", "90m", "1h30m", "45min", "1.5h", "30s", "01:30".
    public static func parseDuration(_ text: String) throws(TimeParseError) -> Int64 {
        let t = text.lowercased().filter { $0 != " " }
        if t.contains(":") {
            let (minutes, seconds) = try parseClock(t)
            return Int64(minutes * 60 + seconds)
        }
        var total = 0.0
        var number = ""
        var sawUnit = false
        var index = t.startIndex
        while index < t.endIndex {
            let c = t[index]
            if c.isNumber || c == "." {
                number.append(c)
                index = t.index(after: index)
                continue
            }
            var unit = ""
            while index < t.endIndex, t[index].isLetter {
                unit.append(t[index])
                index = t.index(after: index)
            }
            guard let value = Double(number), !unit.isEmpty else {
                throw TimeParseError("'\(text)' is not a duration (examples: 2h, 90m, 1h30m)")
            }
            switch unit {
            case "h", "hr", "hrs", "hour", "hours": total += value * 3600
            case "m", "min", "mins", "minute", "minutes": total += value * 60
            case "d", "day", "days": total += value * 86400
            case "s", "sec", "secs", "second", "seconds": total += value
            default: throw TimeParseError("'\(unit)' in '\(text)' is not a unit (use d, h, m or s)")
            }
            number = ""
            sawUnit = true
        }
        guard sawUnit, number.isEmpty else {
            throw TimeParseError("'\(text)' is not a duration (examples: 2h, 90m, 1h30m)")
        }
        guard total <= Double(maximumDuration) else {
            throw TimeParseError("'\(text)' is longer than \(maximumDuration / 86400) days")
        }
        return Int64(total.rounded())
    }

    /// "2h", "1h30m", "45m".
    public static func durationText(_ seconds: Int64) -> String {
        let minutes = (seconds + 59) / 60
        let h = minutes / 60
        let m = minutes % 60
        if h == 0 { return "\(m)m" }
        return m == 0 ? "\(h)h" : "\(h)h\(m)m"
    }
}

extension String {
    func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\t" }).reversed().drop(while: { $0 == " " || $0 == "\t" }).reversed())
    }
}
