import CivilTime
import SiteDirectory

/// iCalendar (RFC 5545) export that calendar programs import: one VEVENT per meeting, times in UTC,
/// text escaped, lines folded at 75 octets without splitting a UTF-8 character.
public enum ICalendar {
    public static func export(_ meetings: [Meeting], schedule: Schedule, calendarName: String, now: Timestamp) -> String {
        var lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//vcbridge//Vinh Phuc video network//VI",
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
            "X-WR-CALNAME:" + escape(calendarName),
            "X-WR-TIMEZONE:Asia/Ho_Chi_Minh",
        ]
        let directory = schedule.directory
        for m in meetings {
            let host = directory[m.host]
            var description = "Host: \(host.name) (\(host.id))\nLevel: \(m.level)\nOrganiser: \(m.organiser)\n"
                + "Sites: \(m.sites.count)\nRooms ready from: \(utcText(m.reservedFrom)) UTC\nScope: \(m.scope)"
            if !m.notices.isEmpty { description += "\nDisplaced sites: \(m.displaced.map { directory[$0].id }.joined(separator: ", "))" }
            lines += [
                "BEGIN:VEVENT",
                "UID:meeting-\(m.id)@vcbridge.vinhphuc",
                "DTSTAMP:" + utcText(now),
                "DTSTART:" + utcText(m.start),
                "DTEND:" + utcText(m.end),
                "SEQUENCE:\(m.revisions)",
                "SUMMARY:" + escape(m.title),
                "LOCATION:" + escape(host.name),
                "DESCRIPTION:" + escape(description),
                "CATEGORIES:" + escape(m.level.description),
                "STATUS:" + (m.status == .scheduled ? "CONFIRMED" : "CANCELLED"),
                "END:VEVENT",
            ]
        }
        lines.append("END:VCALENDAR")
        return lines.map(fold).joined(separator: "\r\n") + "\r\n"
    }

    /// 20261201T010000Z.
    public static func utcText(_ t: Timestamp) -> String {
        let l = LocalDateTime(t, in: .utc)
        let d = l.date
        return "\(d.year)\(two(d.month))\(two(d.day))T\(two(l.hour))\(two(l.minute))\(two(l.second))Z"
    }

    private static func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }

    /// TEXT escaping (RFC 5545 §3.3.11).
    public static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "\\": out += "\\\\"
            case ";": out += "\\;"
            case ",": out += "\\,"
            case "\n", "\r\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Folds a content line into lines of at most 75 octets; continuation lines start with a space.
    /// Breaks fall between characters (grapheme clusters), never inside a UTF-8 sequence.
    public static func fold(_ line: String) -> String {
        var parts: [String] = []
        var current = ""
        var currentOctets = 0
        for character in line {
            let octets = character.utf8.count
            let limit = parts.isEmpty ? 75 : 74  // the leading space counts
            if currentOctets + octets > limit {
                parts.append(current)
                current = ""
                currentOctets = 0
            }
            current.append(character)
            currentOctets += octets
        }
        parts.append(current)
        return parts.joined(separator: "\r\n ")
    }
}
