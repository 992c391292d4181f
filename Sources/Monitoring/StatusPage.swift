import Foundation

/// The technicians' status page: every site of the meetings in progress as a tile, grouped by
/// district and coloured by grade, large enough for a projector, reloading itself every 5 s.
/// Self-contained: no script, style sheet, font or image from elsewhere.
public enum StatusPage {
    public struct Tile: Sendable {
        public var site: String
        public var name: String
        public var district: String
        /// connected, lost, left, not joined
        public var state: String
        /// good, fair, poor, bad; nil when not connected
        public var grade: String?
        public var mos: Double?
        public var cause: String?
        public var alert: Bool

        public init(site: String, name: String, district: String, state: String, grade: String?, mos: Double?, cause: String?, alert: Bool) {
            self.site = site
            self.name = name
            self.district = district
            self.state = state
            self.grade = grade
            self.mos = mos
            self.cause = cause
            self.alert = alert
        }
    }

    public struct Meeting: Sendable {
        public var number: Int
        public var title: String
        public var tiles: [Tile]
        public init(number: Int, title: String, tiles: [Tile]) {
            self.number = number
            self.title = title
            self.tiles = tiles
        }
    }

    public static func html(meetings: [Meeting], generatedAt: String, refreshSeconds: Int = 5) -> String {
        var body = ""
        if meetings.isEmpty { body = "<p class=\"empty\">Không có cuộc họp nào đang diễn ra — no meeting in progress.</p>" }
        for meeting in meetings {
            body += "<section><h1>#\(meeting.number) \(escape(meeting.title))</h1>\n"
            var districts: [String] = []
            for tile in meeting.tiles where !districts.contains(tile.district) { districts.append(tile.district) }
            for district in districts {
                body += "<h2>\(escape(district))</h2><div class=\"grid\">\n"
                for t in meeting.tiles where t.district == district {
                    let grade = t.state == "connected" ? (t.grade ?? "unknown") : "off"
                    let figure = t.mos.map { String(format: "%.2f", $0) } ?? "–"
                    let detail = t.state == "connected" ? "\(t.grade ?? "")\(t.cause.map { $0 == "none" ? "" : " · \($0)" } ?? "")" : t.state
                    body += "<div class=\"tile \(grade)\(t.alert ? " alert" : "")\" data-site=\"\(escape(t.site))\" data-grade=\"\(escape(t.grade ?? ""))\" "
                        + "data-state=\"\(escape(t.state))\"><div class=\"name\">\(escape(t.name))</div>"
                        + "<div class=\"mos\">\(figure)</div><div class=\"detail\">\(escape(detail))</div></div>\n"
                }
                body += "</div>\n"
            }
            body += "</section>\n"
        }
        return """
            <!DOCTYPE html>
            <html lang="vi"><head><meta charset="utf-8"><meta http-equiv="refresh" content="\(refreshSeconds)">
            <title>vcbridge — chất lượng đường truyền</title>
            <style>
            body { font-family: sans-serif; background: #111; color: #eee; margin: 1em 2em; }
            h1 { font-size: 2em; margin: .3em 0; } h2 { font-size: 1.3em; margin: .8em 0 .3em; color: #bbb; }
            .grid { display: flex; flex-wrap: wrap; gap: 10px; }
            .tile { width: 190px; min-height: 96px; border-radius: 8px; padding: 8px 10px; color: #111; }
            .tile .name { font-weight: bold; font-size: 1.05em; } .tile .mos { font-size: 2em; font-weight: bold; } .tile .detail { font-size: .95em; }
            .silent { background: #7fb3d5; } .good { background: #2da44e; } .fair { background: #e3b341; } .poor { background: #e16f24; } .bad { background: #cf222e; color: #fff; }
            .off { background: #555; color: #ddd; } .unknown { background: #8c959f; }
            .alert { outline: 5px solid #fff; }
            footer { margin-top: 1.5em; color: #888; font-size: .9em; }
            </style></head><body>
            \(body)
            <footer>MOS: E-model estimate (ITU-T G.107), not a measurement. Updated \(escape(generatedAt)); reloads every \(refreshSeconds) s.</footer>
            </body></html>

            """
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
