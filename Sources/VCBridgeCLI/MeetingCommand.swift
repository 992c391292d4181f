import CivilTime
import Foundation
import Scheduler
import SiteDirectory

/// `vcbridge meeting SUBCOMMAND`: the secretariat's calendar.
struct MeetingCommand: Command {
    static let name = "meeting"
    static let abstract = "Book, list, show, move, extend and cancel meetings; agenda, free slots, notices, iCalendar export."
    static var usage: String {
        "vcbridge meeting <subcommand> [options]\n\nSUBCOMMANDS:\n"
            + subcommands.map { "  " + $0.name.padding(toLength: 10) + $0.abstract }.joined(separator: "\n")
            + "\n\nTimes are Vietnam time (UTC+7) unless --zone or a zone in the time says otherwise."
    }

    static var subcommands: [any Command.Type] {
        [
            MeetingBook.self, MeetingList.self, MeetingShow.self, MeetingAgenda.self, MeetingFree.self,
            MeetingMove.self, MeetingExtend.self, MeetingCancel.self, MeetingNotices.self, MeetingExport.self, MeetingFloor.self,
        ]
    }

    let subcommand: any Command

    init(arguments: [String]) throws {
        guard let name = arguments.first else { throw ValidationError("missing subcommand") }
        guard let type = Self.subcommands.first(where: { $0.name == name }) else {
            throw ValidationError("unknown subcommand '\(name)' (\(Self.subcommands.map { $0.name }.joined(separator: ", ")))")
        }
        subcommand = try makeCommand(type, Array(arguments.dropFirst()))
    }

    func run() throws { try subcommand.run() }

    /// The subcommand named in the arguments, for `meeting SUB --help`.
    static func subcommand(named name: String?) -> (any Command.Type)? {
        subcommands.first { $0.name == name }
    }
}

private func makeCommand(_ type: any Command.Type, _ arguments: [String]) throws -> any Command {
    try type.init(arguments: arguments)
}

func meetingID(_ text: String?) throws -> MeetingID {
    guard let text else { throw ValidationError("missing the meeting number") }
    let digits = text.hasPrefix("#") ? String(text.dropFirst()) : text
    guard let id = MeetingID(digits), id > 0 else { throw ValidationError("'\(text)' is not a meeting number (like 12 or #12)") }
    return id
}

/// Recurrence from the friendly options or --rrule.
func recurrence(from arguments: Arguments) throws -> Recurrence? {
    let friendly = ["--repeat", "--every", "--on", "--count", "--until", "--except"]
    let exceptions: Set<CivilDate>
    do {
        exceptions = Set(try arguments.all("--except").flatMap { $0.split(separator: ",") }.map {
            try CivilDate(parsing: String($0).trimmingCharacters(in: .whitespaces))
        })
    } catch {
        throw ValidationError("--except: \(error)")
    }
    if let rrule = try arguments.value("--rrule") {
        if try friendly.dropLast().contains(where: { try arguments.value($0) != nil }) {
            throw ValidationError("give --rrule or --repeat with its options, not both")
        }
        do { return try Recurrence(rrule: rrule, exceptions: exceptions) } catch { throw ValidationError("--rrule: \(error)") }
    }
    guard let kind = try arguments.value("--repeat") else {
        if try friendly.dropFirst().contains(where: { try arguments.value($0) != nil }) {
            throw ValidationError("--every, --on, --count, --until and --except need --repeat")
        }
        return nil
    }
    let interval = try arguments.integer("--every", in: 1...366) ?? 1
    let count = try arguments.integer("--count", in: 1...366)
    let until = try arguments.value("--until")
    let end: Recurrence.End
    switch (count, until) {
    case (let c?, nil): end = .count(c)
    case (nil, let u?):
        do { end = .until(try CivilDate(parsing: u)) } catch { throw ValidationError("--until: \(error)") }
    case (nil, nil): throw ValidationError("a repeating meeting needs --count N or --until DATE (at most 366 occurrences)")
    case (_?, _?): throw ValidationError("give --count or --until, not both")
    }
    let onItems = try arguments.value("--on").map { $0.split(separator: ",").map { String($0).lowercased() } } ?? []
    var byDay: [Recurrence.Day] = []
    var byMonthDay: [Int] = []
    let frequency: Recurrence.Frequency
    switch kind.lowercased() {
    case "daily":
        frequency = .daily
        guard onItems.isEmpty else { throw ValidationError("--on does not go with --repeat daily (use weekly or weekdays)") }
    case "weekdays":
        frequency = .daily
        byDay = [.monday, .tuesday, .wednesday, .thursday, .friday].map { Recurrence.Day($0) }
        guard onItems.isEmpty else { throw ValidationError("--on does not go with --repeat weekdays") }
    case "weekly":
        frequency = .weekly
        for item in onItems {
            guard let day = Weekday(name: item) else { throw ValidationError("--on: '\(item)' is not a weekday (mon ... sun)") }
            byDay.append(.init(day))
        }
    case "monthly":
        frequency = .monthly
        for item in onItems {
            if let n = Int(item) {
                byMonthDay.append(n)
            } else if let day = monthlyWeekday(item) {
                byDay.append(day)
            } else {
                throw ValidationError("--on: '\(item)' is not a monthly day (15, -1, 2mon, 2nd-mon, last-fri)")
            }
        }
    default:
        throw ValidationError("--repeat must be daily, weekdays, weekly or monthly, not '\(kind)'")
    }
    do {
        return try Recurrence(frequency: frequency, interval: interval, byDay: byDay, byMonthDay: byMonthDay, end: end,
                              exceptions: exceptions)
    } catch {
        throw ValidationError("recurrence: \(error)")
    }
}

/// "2mon", "2nd-mon", "-1fri", "last-fri" as a numbered weekday.
private func monthlyWeekday(_ item: String) -> Recurrence.Day? {
    var text = Substring(item)
    var ordinal: Int
    if text.hasPrefix("last") {
        ordinal = -1
        text = text.dropFirst(4)
    } else {
        var sign = 1
        if text.hasPrefix("-") {
            sign = -1
            text = text.dropFirst()
        }
        let digits = text.prefix(while: \.isNumber)
        guard let n = Int(digits) else { return nil }
        ordinal = sign * n
        text = text.dropFirst(digits.count)
        for suffix in ["st", "nd", "rd", "th"] where text.hasPrefix(suffix) { text = text.dropFirst(2) }
    }
    if text.hasPrefix("-") { text = text.dropFirst() }
    guard let weekday = Weekday(name: String(text)) else { return nil }
    return Recurrence.Day(weekday, ordinal: ordinal)
}
