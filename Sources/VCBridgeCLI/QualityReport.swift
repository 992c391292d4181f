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

    /// A span with no data about a site while the meeting ran: the bridge restarted (it was down, or had
    /// crashed, from the site's last record to its next join) or the site itself was lost or left.
    struct Gap {
        var from: Int64
        var to: Int64
        var cause: String
        var seconds: Int64 { to - from }
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
        var gaps: [Gap] = []
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
                                      "worstCause": s.worst?.values["cause"] as? String ?? "",
                                      "gaps": s.gaps.map { g -> [String: Any] in
                                          ["from": context.iso(g.from), "to": context.iso(g.to), "fromUnix": g.from, "toUnix": g.to,
                                           "seconds": g.seconds, "cause": g.cause]
                                      }]
                                 }])
            return
        }
        Output.line("meeting #\(id) \"\(meeting.title)\" \(context.span(meeting.start, meeting.end)): \(summaries.count) site(s) joined")
        var table = Table(["SITE", "NAME", "CONNECTED", "REJOINS", "MIN LOSS>5%", "MOS MIN", "MOS MEAN", "WORST INTERVAL", "NO DATA"])
        for s in summaries {
            let worst = s.worst.map { w in
                "\(Self.clock(w.time, context)) MOS \(String(format: "%.2f", w.mos)), loss \(String(format: "%.1f", w.loss)) %, \(w.values["cause"] as? String ?? "-")"
            } ?? "-"
            table.add([s.site, s.name, "\(s.connectedSeconds / 60) min \(s.connectedSeconds % 60) s", "\(s.rejoins)",
                       "\(s.minutesOverFivePercent)", s.samples.isEmpty ? "-" : String(format: "%.2f", s.mosMin),
                       s.samples.isEmpty ? "-" : String(format: "%.2f", s.mosMean), worst, Self.gapsText(s.gaps, context)])
        }
        Output.line(table.render())
        Output.line("MOS figures are E-model estimates (ITU-T G.107). NO DATA: spans without figures for a site (the bridge restarting, or the site lost or gone). Report: \(htmlPath); samples: \(csvPath)")
    }

    static func gapsText(_ gaps: [Gap], _ context: Context) -> String {
        gaps.isEmpty ? "-" : gaps.map { "\(clock($0.from, context))-\(clock($0.to, context)) \($0.seconds) s (\($0.cause))" }.joined(separator: "; ")
    }

    static func clock(_ t: Int64, _ context: Context) -> String {
        let local = LocalDateTime(t, in: context.zone)
        return local.timeText + (local.second < 10 ? ":0" : ":") + "\(local.second)"
    }

    func summarize(_ records: [[String: Any]], context: Context) -> [SiteSummary] {
        var bySite: [String: SiteSummary] = [:]
        var openSince: [String: Int64] = [:]
        /// A site's last record of any kind, and how its last session ended when it ended with a record.
        var lastSeen: [String: Int64] = [:]
        var leftAt: [String: (time: Int64, reason: String)] = [:]
        /// When the bridge (re)started, in order: a bridge-start record written by a process after another's.
        var starts: [Int64] = []
        var lastTime: Int64 = 0
        for r in records {
            guard let time = (r["t"] as? Int).map(Int64.init) else { continue }
            if r["type"] as? String == "bridge-start" {
                starts.append(time)
                continue
            }
            guard let site = r["site"] as? String else { continue }
            lastTime = max(lastTime, time)
            var s = bySite[site] ?? SiteSummary(site: site, name: context.directory.site(site)?.name ?? "?")
            switch r["type"] as? String {
            case "join":
                s.joins += 1
                let seen = lastSeen[site] ?? time
                let restarted = starts.contains { $0 >= seen && $0 <= time }
                if let since = openSince[site] {
                    // Its session ended with no record: the bridge stopped (a crash) while it was connected.
                    s.connectedSeconds += seen - since
                    if time > seen { s.gaps.append(Gap(from: seen, to: time, cause: restarted ? "bridge restarted" : "no data")) }
                } else if let left = leftAt[site], time > left.time {
                    // It had left (or been lost) first: that is the cause, whatever the bridge did meanwhile.
                    s.gaps.append(Gap(from: left.time, to: time, cause: "site \(left.reason)" + (restarted ? "; bridge restarted meanwhile" : "")))
                }
                openSince[site] = time
                leftAt[site] = nil
            case "leave":
                if let since = openSince.removeValue(forKey: site) { s.connectedSeconds += time - since }
                leftAt[site] = (time, r["reason"] as? String ?? "left")
            case "sample":
                s.samples.append(Sample(time: time, site: site, values: r))
            default:
                break
            }
            lastSeen[site] = time
            bySite[site] = s
        }
        // Still connected at the last record; one that was connected when the bridge stopped and has not come back
        // since its restart counts to its last record, and the rest is a gap with no end yet.
        for (site, since) in openSince {
            let seen = lastSeen[site] ?? since
            if let start = starts.last, start > seen {
                bySite[site]?.connectedSeconds += seen - since
                bySite[site]?.gaps.append(Gap(from: seen, to: max(start, lastTime), cause: "bridge restarted; not back"))
            } else {
                bySite[site]?.connectedSeconds += lastTime - since
            }
        }
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
        /// Spans without data are shaded and labelled, so a flat line is never drawn across them.
        func chart(_ samples: [Sample], gaps: [Gap], value: (Sample) -> Double, top: Double, colour: String) -> String {
            let width = 480.0, height = 60.0
            let bands = gaps.map { g -> String in
                let x0 = max(0, Double(g.from - start) / Double(end - start) * width)
                let x1 = min(width, Double(g.to - start) / Double(end - start) * width)
                return String(format: "<rect x=\"%.1f\" y=\"0\" width=\"%.1f\" height=\"%.0f\" fill=\"#bbbbbb\">", x0, max(1, x1 - x0), height)
                    + "<title>no data: \(escape(g.cause))</title></rect>"
            }.joined()
            // The line breaks at every gap: one polyline per stretch of samples.
            var stretches: [[Sample]] = [[]]
            for s in samples {
                if let last = stretches[stretches.count - 1].last, gaps.contains(where: { $0.from >= last.time && $0.from < s.time }) {
                    stretches.append([])
                }
                stretches[stretches.count - 1].append(s)
            }
            let lines = stretches.map { stretch -> String in
                let points = stretch.map { s -> String in
                    let x = (Double(s.time - start) / Double(end - start)) * width
                    let y = height - min(1, max(0, value(s) / top)) * height
                    return String(format: "%.1f,%.1f", x, y)
                }.joined(separator: " ")
                return "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.5\" points=\"\(points)\"/>"
            }.joined()
            return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\">"
                + "<rect width=\"100%\" height=\"100%\" fill=\"#f6f6f6\"/>" + bands + lines + "</svg>"
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
                <td>\(chart(s.samples, gaps: s.gaps, value: { $0.mos - 1 }, top: 3.5, colour: "#1f6feb"))</td>
                <td>\(chart(s.samples, gaps: s.gaps, value: { $0.loss }, top: lossTop(s), colour: "#d1242f"))</td>
                <td class="gap">\(escape(Self.gapsText(s.gaps, context)))</td></tr>

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
            <th>MOS (1-4.5) over the meeting</th><th>Loss over the meeting</th><th>No data (grey in the charts)</th></tr>
            \(rows)</table></body></html>

            """
    }

    private func write(_ text: String, to path: String) throws {
        do { try text.write(toFile: path, atomically: true, encoding: .utf8) } catch {
            throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
        }
    }
}
