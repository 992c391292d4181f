import CivilTime
import Foundation
import Scheduler
import SiteDirectory

/// `vcbridge meeting list`.
struct MeetingList: Command {
    static let name = "list"
    static let abstract = "List meetings in a range, by level, site or organiser."
    static let usage = "vcbridge meeting list [--from TIME] [--to TIME] [--level central|province|district] [--site SITE] [--organiser NAME] [--all] [--json]\n  default range: today and the 13 days after; --all includes cancelled and displaced meetings"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--from", "--to", "--level", "--site", "--organiser"],
                                       flags: ["--all", "--json"])
    }

    func run() throws {
        let context = try Context(arguments)
        let from = try context.moment(arguments, "--from") ?? context.startOfToday
        let to = try context.moment(arguments, "--to") ?? from + 14 * 86400
        guard to > from else { throw ValidationError("--to must be after --from") }
        var level: SiteLevel? = nil
        if let name = try arguments.value("--level") {
            guard let l = SiteLevel.allCases.first(where: { $0.description == name.lowercased() }), l != .commune else {
                throw ValidationError("--level must be central, province or district, not '\(name)'")
            }
            level = l
        }
        let site = try arguments.value("--site").map { try context.site($0, option: "--site") }
        let organiser = try arguments.value("--organiser").map { TextFoldingKey($0) }

        let store = try context.openStore()
        let schedule = store.schedule
        let meetings = schedule.meetings(reservedDuring: from, to).filter { m in
            (arguments.flag("--all") || m.status == .scheduled) && m.start < to && m.end > from
                && (level == nil || m.level == level)
                && (site == nil || m.sites.contains(site!.index) || m.displaced.contains(site!.index))
                && (organiser == nil || organiser!.matches(m.organiser))
        }
        if arguments.flag("--json") {
            try printJSON(meetings.map { MeetingJSON($0, schedule: schedule, context: context, withSites: false) })
        } else if meetings.isEmpty {
            Output.line("no meetings from \(context.show(from)) to \(context.show(to)) (\(context.zone))")
        } else {
            Output.line(meetingTable(meetings, schedule: schedule, context: context))
        }
    }
}

/// Case- and diacritic-insensitive match of an organiser name.
struct TextFoldingKey {
    let folded: String
    init(_ text: String) { folded = TextFolding.fold(text) }
    func matches(_ text: String) -> Bool { TextFolding.fold(text).contains(folded) }
}

/// `vcbridge meeting show`.
struct MeetingShow: Command {
    static let name = "show"
    static let abstract = "Show one meeting: times, sites by district with their cascade paths, notices."
    static let usage = "vcbridge meeting show ID [--json]"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: [], flags: ["--json"], positionals: 1)
        _ = try meetingID(self.arguments.positionals.first)
    }

    func run() throws {
        let context = try Context(arguments)
        let id = try meetingID(arguments.positionals.first)
        let store = try context.openStore()
        let schedule = store.schedule
        guard let m = schedule.meeting(id) else { throw CommandFailure("no meeting #\(id)") }
        if arguments.flag("--json") {
            try printJSON(MeetingJSON(m, schedule: schedule, context: context, withSites: true))
            return
        }
        let directory = schedule.directory
        var lines = [
            "#\(m.id) \(m.title)",
            "  when       \(context.span(m.start, m.end)) (\(context.zone)); sites reserved from \(context.show(m.reservedFrom))",
            "  host       \(directory[m.host].name) (\(directory[m.host].id), \(m.level) level)",
            "  organiser  \(m.organiser), booked \(context.show(m.bookedAt))",
            "  status     \(m.status)" + (m.revisions > 0 ? ", changed \(m.revisions) time(s)" : ""),
            "  scope      \(m.scope)",
        ]
        if let cascadeUp = m.cascadeUp {
            lines.append("  cascade up \(cascadeUp), as \(m.cascadeSite(in: directory)?.id ?? "-")")
        }
        if m.occurrenceCount > 1 {
            lines.append("  series     occurrence \(m.occurrence + 1) of \(m.occurrenceCount) of #\(m.seriesID) (\(m.rule))")
        }
        lines.append("  sites      \(m.links.count) booked" + (m.displaced.isEmpty ? "" : ", \(m.displaced.count) displaced, \(m.sites.count) taking part"))
        var byDistrict: [(String, [Int])] = []
        for index in m.sites {
            let key = directory.district(of: directory[index])?.name ?? "-"
            if let i = byDistrict.firstIndex(where: { $0.0 == key }) { byDistrict[i].1.append(index) } else { byDistrict.append((key, [index])) }
        }
        for (district, sites) in byDistrict {
            lines.append("    \(district == "-" ? "(above district level)" : district)")
            for index in sites {
                let path = schedule.cascadePath(m, to: index).map(\.id).joined(separator: " > ")
                lines.append("      \(directory[index].name.padding(toLength: 28))\(directory[index].id.padding(toLength: 22))\(path)")
            }
        }
        for line in noticeLines(m, schedule: schedule, context: context) { lines.append("  notice     " + line) }
        Output.line(lines.joined(separator: "\n"))
    }
}

/// `vcbridge meeting agenda`.
struct MeetingAgenda: Command {
    static let name = "agenda"
    static let abstract = "What one site's room has in the coming week (or in a range)."
    static let usage = "vcbridge meeting agenda --site SITE [--from TIME] [--to TIME] [--json]\n  default range: today and the 6 days after"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--site", "--from", "--to"], flags: ["--json"])
        _ = try self.arguments.required("--site")
    }

    func run() throws {
        let context = try Context(arguments)
        let site = try context.site(try arguments.required("--site"), option: "--site")
        let from = try context.moment(arguments, "--from") ?? context.startOfToday
        let to = try context.moment(arguments, "--to") ?? from + 7 * 86400
        guard to > from else { throw ValidationError("--to must be after --from") }
        let store = try context.openStore()
        let schedule = store.schedule
        let meetings = schedule.agenda(site: site.index, from: from, to: to)
        if arguments.flag("--json") {
            try printJSON(meetings.map { MeetingJSON($0, schedule: schedule, context: context, withSites: false) })
            return
        }
        Output.line("\(site.name) (\(site.id), \(site.code)): \(context.show(from)) to \(context.show(to)) (\(context.zone))")
        if meetings.isEmpty {
            Output.line("no meetings")
            return
        }
        var table = Table(["#", "WHEN", "ROOM READY", "HOST", "STATUS", "TITLE"])
        for m in meetings {
            let status = m.displaced.contains(site.index) ? "displaced here" : m.status.description
            table.add(["\(m.id)", context.span(m.start, m.end), LocalDateTime(m.reservedFrom, in: context.zone).timeText,
                       schedule.directory[m.host].name, status, m.title])
        }
        Output.line(table.render())
    }
}

/// `vcbridge meeting notices`.
struct MeetingNotices: Command {
    static let name = "notices"
    static let abstract = "Meetings that a higher level displaced (whole or some sites), for their organisers."
    static let usage = "vcbridge meeting notices [--organiser NAME] [--from TIME] [--json]\n  default: meetings from today on"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--organiser", "--from"], flags: ["--json"])
    }

    struct NoticeJSON: Encodable {
        let meeting: MeetingJSON
        let notices: [String]
    }

    func run() throws {
        let context = try Context(arguments)
        let from = try context.moment(arguments, "--from") ?? context.startOfToday
        let organiser = try arguments.value("--organiser").map { TextFoldingKey($0) }
        let store = try context.openStore()
        let schedule = store.schedule
        let affected = schedule.displacedMeetings(from: from).filter { organiser == nil || organiser!.matches($0.organiser) }
        if arguments.flag("--json") {
            try printJSON(affected.map {
                NoticeJSON(meeting: MeetingJSON($0, schedule: schedule, context: context, withSites: false),
                           notices: noticeLines($0, schedule: schedule, context: context))
            })
            return
        }
        if affected.isEmpty {
            Output.line("no notices")
            return
        }
        for m in affected {
            Output.line("#\(m.id) \"\(m.title)\" \(context.span(m.start, m.end)), organiser \(m.organiser), now \(m.status)"
                + (m.status == .scheduled ? " with \(m.sites.count) site(s)" : ""))
            for line in noticeLines(m, schedule: schedule, context: context) { Output.line("  " + line) }
        }
    }
}
