import CivilTime
import Foundation
import Scheduler

/// `vcbridge quality report MEETING`: the per-site summary of a meeting from its stored quality
/// history, an HTML report with inline SVG charts, and a CSV of every sample.
struct QualityReportCommand: Command {
    static let name = "report"
    static let abstract = "A meeting's quality from history: per-site summary, HTML report with charts, CSV."
    static let usage = "vcbridge quality report MEETING [--html FILE] [--csv FILE] [--json]\n  default files: quality-meeting-N.html and .csv in the current directory"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--html", "--csv"], flags: ["--json"], positionals: 1)
        guard self.arguments.positionals.count == 1 else { throw ValidationError("missing MEETING (its number, like 12)") }
    }

    struct Sample {
        var time: Int64
        var site: String
        var values: [String: Any]
        func number(_ key: String) -> Double { (values[key] as? Double) ?? Double(values[key] as? Int ?? 0) }
        /// The worse direction's loss.
        var loss: Double { max(number("loss"), number("remoteLoss")) }
        var mos: Double { number("mos") }
    }

    struct SiteSummary {
        var site: String
        var name: String
        var connectedSeconds: Int64 = 0
        var minutesOverFivePercent = 0
        var worst: Sample?
        var mosMin = 0.0
        var mosMean = 0.0
        var joins = 0
        var samples: [Sample] = []
        var rejoins: Int { max(0, joins - 1) }
    }

    func run() throws {
        let context = try Context(arguments)
        let id = try meetingID(arguments.positionals[0])
        let store = try context.openStore()
        guard let meeting = store.schedule.meeting(id) else { throw CommandFailure("there is no meeting #\(id)") }
        let path = context.dataDirectory + "/quality/meeting-\(id).jsonl"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CommandFailure("no quality history for meeting #\(id) (\(path)): no site joined it on a bridge with this data directory, or it is older than quality.historyDays")
        }
        // One JSON object per line; a line cut short by a crash is skipped.
        var records: [[String: Any]] = []
        for line in data.split(separator: UInt8(ascii: "\n")) {
            if let object = try? JSONSerialization.jsonObject(with: Data(line)) as? [String: Any] { records.append(object) }
        }
        let summaries = summarize(records, context: context)
        let htmlPath = try arguments.value("--html") ?? "quality-meeting-\(id).html"
        let csvPath = try arguments.value("--csv") ?? "quality-meeting-\(id).csv"
        try write(html(meeting, summaries, context: context), to: htmlPath)
        try write(csv(summaries, context: context), to: csvPath)
        if arguments.flag("--json") {
            try printJSONObject(["meeting": Int(id), "title": meeting.title, "html": htmlPath, "csv": csvPath,
                                 "sites": summaries.map { s -> [String: Any] in
                                     ["site": s.site, "name": s.name, "connectedSeconds": s.connectedSeconds, "rejoins": s.rejoins,
                                      "minutesWithLossOver5Percent": s.minutesOverFivePercent, "mosMin": s.mosMin, "mosMean": s.mosMean,
                                      "worstAt": s.worst.map { context.iso($0.time) } ?? "", "worstMos": s.worst?.mos ?? 0,
                                      "worstCause": s.worst?.values["cause"] as? String ?? ""]
                                 }])
            return
        }
        Output.line("meeting #\(id) \"\(meeting.title)\" \(context.span(meeting.start, meeting.end)): \(summaries.count) site(s) joined")
        var table = Table(["SITE", "NAME", "CONNECTED", "REJOINS", "MIN LOSS>5%", "MOS MIN", "MOS MEAN", "WORST INTERVAL"])
        for s in summaries {
            let worst = s.worst.map { w in
                "\(Self.clock(w.time, context)) MOS \(String(format: "%.2f", w.mos)), loss \(String(format: "%.1f", w.loss)) %, \(w.values["cause"] as? String ?? "-")"
            } ?? "-"
            table.add([s.site, s.name, "\(s.connectedSeconds / 60) min \(s.connectedSeconds % 60) s", "\(s.rejoins)",
                       "\(s.minutesOverFivePercent)", s.samples.isEmpty ? "-" : String(format: "%.2f", s.mosMin),
                       s.samples.isEmpty ? "-" : String(format: "%.2f", s.mosMean), worst])
        }
        Output.line(table.render())
        Output.line("MOS figures are E-model estimates (ITU-T G.107). Report: \(htmlPath); samples: \(csvPath)")
    }

    static func clock(_ t: Int64, _ context: Context) -> String {
        let local = LocalDateTime(t, in: context.zone)
        return local.timeText + (local.second < 10 ? ":0" : ":") + "\(local.second)"
    }

    func summarize(_ records: [[String: Any]], context: Context) -> [SiteSummary] {
        var bySite: [String: SiteSummary] = [:]
        var openSince: [String: Int64] = [:]
        var lastTime: Int64 = 0
        for r in records {
            guard let site = r["site"] as? String, let time = (r["t"] as? Int).map(Int64.init) else { continue }
            lastTime = max(lastTime, time)
            var s = bySite[site] ?? SiteSummary(site: site, name: context.directory.site(site)?.name ?? "?")
            switch r["type"] as? String {
            case "join":
                s.joins += 1
                if let since = openSince[site] { s.connectedSeconds += time - since }
                openSince[site] = time
            case "leave":
                if let since = openSince.removeValue(forKey: site) { s.connectedSeconds += time - since }
            case "sample":
                s.samples.append(Sample(time: time, site: site, values: r))
            default:
                break
            }
            bySite[site] = s
        }
        for (site, since) in openSince { bySite[site]?.connectedSeconds += lastTime - since }  // still connected at the last record
        var result: [SiteSummary] = []
        for var s in bySite.values where s.joins > 0 {
            if !s.samples.isEmpty {
                s.mosMin = s.samples.map(\.mos).min() ?? 0
                s.mosMean = s.samples.map(\.mos).reduce(0, +) / Double(s.samples.count)
                s.worst = s.samples.min { $0.mos < $1.mos }
                // A minute counts when its samples' mean loss (the worse direction) is over 5 %.
                let minutes = Dictionary(grouping: s.samples) { $0.time / 60 }
                s.minutesOverFivePercent = minutes.values.filter { m in m.map(\.loss).reduce(0, +) / Double(m.count) > 5 }.count
            }
            result.append(s)
        }
        let order = Dictionary(uniqueKeysWithValues: context.directory.sites.map { ($0.id, $0.index) })
        return result.sorted { order[$0.site, default: 999] < order[$1.site, default: 999] }
    }

    func csv(_ summaries: [SiteSummary], context: Context) -> String {
        let keys = ["loss", "concealed", "fec", "jitter", "delay", "rtt", "remoteLoss", "videoIn", "videoOut", "mos", "grade", "cause"]
        var lines = ["time,site,name," + keys.joined(separator: ",")]
        func field(_ text: String) -> String { text.contains(",") || text.contains("\"") ? "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : text }
        for s in summaries {
            for sample in s.samples {
                lines.append(([context.iso(sample.time), s.site, field(s.name)] + keys.map { "\(sample.values[$0] ?? "")" }).joined(separator: ","))
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func html(_ meeting: Meeting, _ summaries: [SiteSummary], context: Context) -> String {
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
                .replacingOccurrences(of: "\"", with: "&quot;")
        }
        let start = summaries.flatMap(\.samples).map(\.time).min() ?? meeting.start
        let end = max(start + 60, summaries.flatMap(\.samples).map(\.time).max() ?? meeting.end)
        /// A line chart of one figure over the meeting: MOS (1-4.5) or loss (0-max).
        func chart(_ samples: [Sample], value: (Sample) -> Double, top: Double, colour: String) -> String {
            let width = 480.0, height = 60.0
            let points = samples.map { s -> String in
                let x = (Double(s.time - start) / Double(end - start)) * width
                let y = height - min(1, max(0, value(s) / top)) * height
                return String(format: "%.1f,%.1f", x, y)
            }.joined(separator: " ")
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
                + "<rect width=\"100%\" height=\"100%\" fill=\"#f6f6f6\"/>"
                + "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(points)\"/></svg>"
        }
        func lossTop(_ s: SiteSummary) -> Double { max(5, s.samples.map { $0.loss }.max() ?? 0) }
        var rows = ""
        for s in summaries {
            let q = context.settings.quality
            let grade = s.samples.isEmpty ? "-" : (s.mosMean >= q.goodMOS ? "good" : s.mosMean >= q.fairMOS ? "fair" : s.mosMean >= q.poorMOS ? "poor" : "bad")
            rows += """
                <tr class="\(grade)"><td>\(escape(s.site))</td><td>\(escape(s.name))</td><td>\(s.connectedSeconds / 60) min</td><td>\(s.rejoins)</td>
                <td>\(s.minutesOverFivePercent)</td><td>\(s.samples.isEmpty ? "-" : String(format: "%.2f", s.mosMin))</td>
                <td>\(s.samples.isEmpty ? "-" : String(format: "%.2f", s.mosMean))</td>
                <td>\(chart(s.samples, value: { $0.mos - 1 }, top: 3.5, colour: "#1f6feb"))</td>
                <td>\(chart(s.samples, value: { $0.loss }, top: lossTop(s), colour: "#d1242f"))</td></tr>

                """
        }
        return """
            <!DOCTYPE html>
            <html lang="vi"><head><meta charset="utf-8"><title>Chất lượng cuộc họp #\(meeting.id): \(escape(meeting.title))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; } table { border-collapse: collapse; } td, th { padding: 4px 8px; border-bottom: 1px solid #ddd; text-align: left; }
            tr.good td:first-child { border-left: 6px solid #2da44e; } tr.fair td:first-child { border-left: 6px solid #d4a72c; }
            tr.poor td:first-child { border-left: 6px solid #bf3989; } tr.bad td:first-child { border-left: 6px solid #cf222e; }
            </style></head><body>
            <h1>Meeting #\(meeting.id): \(escape(meeting.title))</h1>
            <p>\(escape(context.span(meeting.start, meeting.end))), host \(escape(context.directory[meeting.host].name)). \(summaries.count) site(s) joined.
            Charts run from \(escape(context.show(start))) to \(escape(context.show(end))). MOS figures are E-model estimates (ITU-T G.107), not measurements;
            loss is the worse of what the bridge received from the site and what the site reported receiving.</p>
            <table><tr><th>Site</th><th>Name</th><th>Connected</th><th>Rejoins</th><th>Minutes with loss &gt; 5 %</th><th>MOS min</th><th>MOS mean</th>
            <th>MOS (1-4.5) over the meeting</th><th>Loss over the meeting</th></tr>
            \(rows)</table></body></html>

            """
    }

    private func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
