#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SiteDirectory

/// `vcbridge quality`: stream quality per site for technicians, from the running bridge; and
/// `vcbridge quality report MEETING` from the stored history.
struct QualityCommand: Command {
    static let name = "quality"
    static let abstract = "Per-site stream quality of the meetings in progress (loss, jitter, delay, concealment, round trip, MOS estimate), alerts, reports."
    static let usage = """
        vcbridge quality [--district D] [--grade G[,G]] [--match TEXT] [--sort district|site|grade|mos|loss] [--watch] [--json]
        vcbridge quality --site SITE [--json]     one site, with its last minutes as a chart
        vcbridge quality --alerts [--json]        sites poor or bad for longer than quality.alertAfterSeconds
        vcbridge quality report MEETING [--html FILE] [--csv FILE] [--json]
          --watch redraws every second, like top (only when the output is a terminal; colour only there too)
          The MOS is an estimate (ITU-T G.107 E-model with constants calibrated against PESQ), not a measurement.
        """

    let arguments: Arguments
    let report: QualityReportCommand?

    init(arguments: [String]) throws {
        if arguments.first == "report" {
            report = try QualityReportCommand(arguments: Array(arguments.dropFirst()))
            self.arguments = try Arguments([], options: [])
            return
        }
        report = nil
        self.arguments = try Arguments(arguments, options: ["--district", "--grade", "--match", "--sort", "--site"],
                                       flags: ["--watch", "--json", "--alerts"])
        if let sort = try self.arguments.value("--sort"), !["district", "site", "grade", "mos", "loss"].contains(sort) {
            throw ValidationError("--sort must be district, site, grade, mos or loss, not '\(sort)'")
        }
        for grade in try self.arguments.value("--grade")?.split(separator: ",") ?? [] where !["silent", "good", "fair", "poor", "bad"].contains(String(grade)) {
            throw ValidationError("--grade takes silent, good, fair, poor, bad (comma-separated), not '\(grade)'")
        }
        if self.arguments.flag("--watch") && self.arguments.flag("--json") { throw ValidationError("--watch and --json do not go together") }
    }

    func run() throws {
        if let report { return try report.run() }
        let context = try Context(arguments)
        var district: Site? = nil
        if let d = try arguments.value("--district") {
            let site = try context.site(d, option: "--district")
            guard site.level == .district else { throw ValidationError("--district: \(site.id) is not a district-level unit") }
            district = site
        }
        var siteID: String? = nil
        if let s = try arguments.value("--site") { siteID = try context.site(s, option: "--site").id }
        let tty = isatty(STDOUT_FILENO) == 1
        let watch = arguments.flag("--watch")
        if watch && !tty { Output.error("quality: --watch needs a terminal; printing once") }
        if watch && tty { signal(SIGINT, SIG_DFL) }  // Ctrl-C ends the watch even if the shell ignored it
        repeat {
            var request: [String: Any] = ["command": "quality"]
            if let siteID { request["site"] = siteID }
            let answer = try controlRequest(context.dataDirectory, request)
            guard answer["type"] as? String == "quality" else { throw CommandFailure(answer["error"] as? String ?? "the bridge refused") }
            let text = try render(answer, context: context, district: district, site: siteID, colour: tty)
            if watch && tty {
                Output.line("\u{1B}[H\u{1B}[2J" + (text ?? ""))
                sleep(1)
            } else {
                if let text { Output.line(text) }
            }
        } while watch && tty
    }

    /// The view as text (nil when `--json` printed it).
    private func render(_ answer: [String: Any], context: Context, district: Site?, site siteID: String?, colour: Bool) throws -> String? {
        let meetings = answer["meetings"] as? [[String: Any]] ?? []
        let alerts = answer["alerts"] as? [[String: Any]] ?? []
        if arguments.flag("--alerts") {
            if arguments.flag("--json") {
                try printJSONObject(alerts)
                return nil
            }
            guard !alerts.isEmpty else { return "no open alerts" }
            var table = Table(["SITE", "NAME", "GRADE", "CAUSE", "FOR"])
            for a in alerts {
                let id = a["site"] as? String ?? "?"
                table.add([id, context.directory.site(id)?.name ?? "?", a["grade"] as? String ?? "?", a["cause"] as? String ?? "?",
                           "\(a["seconds"] ?? 0) s"])
            }
            return table.render()
        }
        // Every site row, with its meeting, filtered.
        let grades = try arguments.value("--grade").map { Set($0.split(separator: ",").map(String.init)) }
        let match = try arguments.value("--match").map { TextFoldingKey($0) }
        var rows: [[String: Any]] = []
        for meeting in meetings {
            for var row in meeting["sites"] as? [[String: Any]] ?? [] {
                row["meeting"] = meeting["meeting"]
                if let district, row["district"] as? String != district.id { continue }
                if let grades, !grades.contains(row["grade"] as? String ?? "-") { continue }
                if let match, !match.matches(row["name"] as? String ?? "") && !match.matches(row["site"] as? String ?? "") { continue }
                if let siteID, row["site"] as? String != siteID { continue }
                rows.append(row)
            }
        }
        func number(_ row: [String: Any], _ key: String) -> Double { (row[key] as? Double) ?? Double(row[key] as? Int ?? 0) }
        let gradeOrder = ["bad": 0, "poor": 1, "fair": 2, "good": 3, "silent": 4]
        switch try arguments.value("--sort") ?? "district" {
        case "site": rows.sort { ($0["site"] as? String ?? "") < ($1["site"] as? String ?? "") }
        case "grade": rows.sort { gradeOrder[$0["grade"] as? String ?? "", default: 5] < gradeOrder[$1["grade"] as? String ?? "", default: 5] }
        case "mos": rows.sort { number($0, "mos") < number($1, "mos") }
        case "loss": rows.sort { number($0, "lossPercent") > number($1, "lossPercent") }
        default: break  // the bridge lists each meeting's sites by directory order: district by district
        }
        if arguments.flag("--json") {
            var out: [String: Any] = ["sites": rows, "alerts": alerts, "thresholds": answer["thresholds"] ?? [:]]
            if let series = answer["series"] { out["series"] = series }
            try printJSONObject(out)
            return nil
        }
        if let siteID {
            guard let row = rows.first else { return "\(siteID) is in no meeting in progress" }
            return detail(row, series: answer["series"] as? [[Double]] ?? [], context: context, colour: colour)
        }
        let connected = rows.filter { $0["state"] as? String == "connected" }.count
        var lines = ["\(meetings.count) meeting(s) in progress, \(rows.count) site(s) shown, \(connected) connected; "
            + "\(alerts.count) open alert(s). MOS is an E-model estimate (G.107), not a measurement."]
        guard !rows.isEmpty else { return lines[0] }
        var table = Table(["SITE", "NAME", "STATE", "LOSS", "JITTER", "BUFFER/TARGET", "CONCEALED", "FEC", "SITE SEES", "RTT", "VIDEO IN/OUT",
                           "MOS (EST.)", "GRADE"])
        let grouped = (try arguments.value("--sort") ?? "district") == "district"
        var lastGroup: String? = nil
        for row in rows {
            let groupID = row["group"] as? String ?? ""
            if grouped && groupID != lastGroup {
                lastGroup = groupID
                let name = context.directory.site(groupID)?.name ?? "Trung ương và tỉnh"
                table.add(["── " + name])
            }
            let state = row["state"] as? String ?? "?"
            guard state == "connected", row["mos"] != nil else {
                table.add([row["site"] as? String ?? "?", row["name"] as? String ?? "?", state])
                continue
            }
            let rtt = number(row, "roundTripMs")
            table.add([
                row["site"] as? String ?? "?", row["name"] as? String ?? "?", state,
                String(format: "%.1f %%", number(row, "lossPercent")), String(format: "%.1f ms", number(row, "jitterMs")),
                String(format: "%.0f/%.0f ms", number(row, "bufferDelayMs"), number(row, "bufferTargetMs")),
                String(format: "%.1f %%", number(row, "concealedPercent")), "\(row["fecRecovered"] ?? 0)",
                String(format: "%.1f %% %.0f ms", number(row, "remoteLossPercent"), number(row, "remoteJitterMs")),
                rtt < 0 ? "-" : String(format: "%.0f ms", rtt),
                String(format: "%.0f/%.0f kb/s", number(row, "videoInKbps"), number(row, "videoOutKbps")),
                String(format: "%.2f", number(row, "mos")), Self.gradeText(row),
            ])
        }
        lines.append(Self.colourGrades(table.render(), colour: colour))
        return lines.joined(separator: "\n")
    }

    static func gradeText(_ row: [String: Any]) -> String {
        let grade = row["grade"] as? String ?? "-"
        let cause = row["cause"] as? String ?? "none"
        return cause == "none" ? grade : "\(grade) (\(cause))"
    }

    /// Colours each line's grade (its last cell, after two spaces) for a terminal.
    static func colourGrades(_ text: String, colour: Bool) -> String {
        guard colour else { return text }
        let codes = ["silent": "36", "good": "32", "fair": "33", "poor": "35", "bad": "31"]
        return text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard let gap = line.range(of: "  ", options: .backwards) else { return String(line) }
            let cell = line[gap.upperBound...]
            guard let grade = cell.split(separator: " ").first, let code = codes[String(grade)] else { return String(line) }
            return String(line[..<gap.upperBound]) + "\u{1B}[\(code)m" + cell + "\u{1B}[0m"
        }.joined(separator: "\n")
    }

    /// One site: its figures, then loss, jitter and delay over the last minutes as small charts.
    private func detail(_ row: [String: Any], series: [[Double]], context: Context, colour: Bool) -> String {
        func number(_ key: String) -> Double { (row[key] as? Double) ?? Double(row[key] as? Int ?? 0) }
        let id = row["site"] as? String ?? "?"
        var lines = ["\(row["name"] ?? "?") (\(id)), meeting #\(row["meeting"] ?? "?"): \(row["state"] ?? "?")"]
        if row["mos"] != nil {
            lines.append(String(format: "  audio in     loss %.1f %%, jitter %.1f ms, buffer %.0f ms (target %.0f ms), concealed %.1f %%, FEC rebuilt %d",
                                number("lossPercent"), number("jitterMs"), number("bufferDelayMs"), number("bufferTargetMs"),
                                number("concealedPercent"), Int(number("fecRecovered"))))
            let rtt = number("roundTripMs")
            lines.append(String(format: "  site reports loss %.1f %%, jitter %.1f ms; round trip %@", number("remoteLossPercent"),
                                number("remoteJitterMs"), rtt < 0 ? "-" : String(format: "%.0f ms", rtt)))
            lines.append(String(format: "  video        in %.0f kb/s, out %.0f kb/s; shows %@ / %@", number("videoInKbps"), number("videoOutKbps"),
                                (row["videoPresenter"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "-",
                                (row["videoSpeaker"] as? String).flatMap { $0.isEmpty ? nil : $0 } ?? "-"))
            lines.append(Self.colourGrades(String(format: "  estimate     MOS %.2f (E-model estimate), one-way delay %.0f ms;  %@", number("mos"),
                                                  number("oneWayDelayMs"), Self.gradeText(row)), colour: colour))
        }
        guard series.count >= 2 else { return lines.joined(separator: "\n") }
        let minutes = Double(series.count) / 60
        lines.append("")
        lines.append(String(format: "last %.1f minutes, one column per %d s:", minutes, max(1, series.count / 60)))
        for (title, index, unit) in [("loss", 1, "%"), ("jitter", 2, "ms"), ("delay", 3, "ms")] {
            lines.append(contentsOf: Self.chart(series.map { $0.count > index ? $0[index] : 0 }, title: title, unit: unit))
        }
        return lines.joined(separator: "\n")
    }

    /// A small bar chart: at most 60 columns (each the worst of its seconds), 4 rows of block characters.
    static func chart(_ values: [Double], title: String, unit: String) -> [String] {
        let columns = min(60, values.count)
        guard columns > 0 else { return [] }
        let per = Int((Double(values.count) / Double(columns)).rounded(.up))
        var points: [Double] = []
        var i = 0
        while i < values.count {
            points.append(values[i..<min(values.count, i + per)].max() ?? 0)
            i += per
        }
        let top = max(points.max() ?? 0, unit == "%" ? 5 : 50)
        let blocks: [Character] = [" ", "▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"]
        var rows: [String] = []
        for level in (0..<4).reversed() {
            var line = ""
            for p in points {
                let eighths = Int((p / top * 32).rounded())
                let inRow = max(0, min(8, eighths - level * 8))
                line.append(blocks[inRow])
            }
            let label = level == 3 ? String(format: "%6.1f %@", top, unit) : level == 0 ? "     0" : ""
            rows.append("  " + (level == 3 ? title : "").padding(toLength: 7) + "│" + line + "│ " + label)
        }
        return rows
    }
}
