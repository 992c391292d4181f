import CivilTime
import Scheduler
import SiteDirectory

/// A meeting as scripts see it (`--json`).
struct MeetingJSON: Encodable {
    struct SiteEntry: Encodable {
        let id, code, name: String
        let district: String?
        /// Site ids from the host down to this site.
        let path: [String]
    }

    struct NoticeEntry: Encodable {
        let at: String
        let by: MeetingID
        let byTitle: String
        let byLevel: String
        let whole: Bool
        let sites: [String]
    }

    let id: MeetingID
    let series: MeetingID
    let occurrence: Int
    let occurrences: Int
    let title: String
    let organiser: String
    let host: String
    let hostName: String
    let level: String
    let start: String
    let end: String
    let reservedFrom: String
    let status: String
    let scope: String
    let rule: String?
    let siteCount: Int
    let sites: [SiteEntry]?
    let displaced: [String]
    let notices: [NoticeEntry]
    /// The upstream MCU the bridge calls for this meeting (`--cascade-up`), and the site the link is booked as.
    let cascadeUp: String?
    let cascadeSite: String?

    init(_ m: Meeting, schedule: Schedule, context: Context, withSites: Bool) {
        let directory = schedule.directory
        id = m.id
        series = m.seriesID
        occurrence = m.occurrence + 1
        occurrences = m.occurrenceCount
        title = m.title
        organiser = m.organiser
        host = directory[m.host].id
        hostName = directory[m.host].name
        level = m.level.description
        start = context.iso(m.start)
        end = context.iso(m.end)
        reservedFrom = context.iso(m.reservedFrom)
        status = m.status.description
        scope = m.scope
        rule = m.rule.isEmpty ? nil : m.rule
        siteCount = m.sites.count
        sites = withSites ? m.sites.map { index in
            let site = directory[index]
            return SiteEntry(id: site.id, code: site.code, name: site.name, district: directory.district(of: site)?.id,
                             path: schedule.cascadePath(m, to: index).map(\.id))
        } : nil
        displaced = m.displaced.map { directory[$0].id }
        cascadeUp = m.cascadeUp
        cascadeSite = m.cascadeUp == nil ? nil : m.cascadeSite(in: directory)?.id
        notices = m.notices.map { n in
            let by = schedule.meeting(n.by)
            return NoticeEntry(at: context.iso(n.at), by: n.by, byTitle: by?.title ?? "?", byLevel: by?.level.description ?? "?",
                               whole: n.whole, sites: n.sites.map { directory[$0].id })
        }
    }
}

/// One line per meeting for people.
func meetingTable(_ meetings: [Meeting], schedule: Schedule, context: Context) -> String {
    var table = Table(["#", "WHEN", "LEVEL", "HOST", "SITES", "STATUS", "ORGANISER", "TITLE"])
    for m in meetings {
        var status = m.status.description
        if m.status == .scheduled && !m.displaced.isEmpty { status = "partly displaced" }
        let series = m.occurrenceCount > 1 ? " (\(m.occurrence + 1)/\(m.occurrenceCount))" : ""
        table.add(["\(m.id)", context.span(m.start, m.end), m.level.description, schedule.directory[m.host].id,
                   "\(m.sites.count)", status, m.organiser, m.title + series])
    }
    return table.render()
}

/// The lines telling an organiser what a higher-level meeting took from theirs.
func noticeLines(_ m: Meeting, schedule: Schedule, context: Context) -> [String] {
    m.notices.map { n in
        let by = schedule.meeting(n.by)
        let byText = by.map { "#\($0.id) \"\($0.title)\" (\($0.level), \(context.span($0.start, $0.end)))" } ?? "#\(n.by)"
        if n.whole {
            return "displaced whole by \(byText) on \(context.show(n.at))"
        }
        let names = n.sites.map { schedule.directory[$0].id }
        return "\(names.count) site(s) displaced by \(byText) on \(context.show(n.at)): \(names.joined(separator: ", "))"
    }
}
