#if canImport(Glibc)
import Glibc
#endif
import CivilTime
import Configuration
import Foundation
import QualityModel
import Scheduler
import SiteDirectory
import Synchronization
import Transport

/// Follows every connected site's quality once a second from the media thread's published figures:
/// the live figures over the last 5 s, a per-second series of the last 10 minutes, alerts (a warning
/// line when a site stays poor or bad too long, a line when it recovers), and durable history: one
/// sample per site every `sampleSeconds`, appended to `<data>/quality/meeting-N.jsonl` with the
/// joins, departures and alerts, deleted after `historyDays`. The first record this process appends to a
/// meeting's file is a `bridge-start` (when this process started): after a crash (`kill -9`, power loss) it marks
/// where the previous process's records stop, so a report can show each site's gap as "no data".
final class QualityMonitor: @unchecked Sendable {
    /// One per-second point of a site's recent quality.
    struct Point: Sendable {
        var time: Int64  // Unix seconds
        var lossPercent: Double
        var jitterMilliseconds: Double
        var delayMilliseconds: Double
        var mos: Double
    }

    struct Live: Sendable {
        var meeting: MeetingID
        var siteID: String
        var counters: [QualityCounters] = []
        var quality: SiteQuality?
        var series: [Point] = []
        var statistics: SiteMediaStatistics
    }

    struct State: Sendable {
        var live: [Int: Live] = [:]
        /// Why sites of meetings in progress are no longer connected ("lost", "left", ...).
        var ended: [MeetingID: [Int: String]] = [:]
        var alerts: AlertTracker
        var lastSampleAt: Int64 = 0
    }

    static let windowSeconds = 5
    static let seriesLength = 600

    let model = EModel()
    let thresholds: QualityThresholds
    let settings: QualitySettings
    let directory: SiteDirectory
    let historyDirectory: String
    let state: Mutex<State>
    /// When this process started (Unix seconds), and the meetings whose history it has marked with it.
    let startedAt: Int64
    private let marked = Mutex<Set<MeetingID>>([])

    /// The sizes of its tables: sites followed live, their counter windows and series points, ended sites remembered,
    /// meetings marked in the history.
    var structureCounts: [String: Int] {
        let counts = state.withLock { state in
            ["quality.live": state.live.count,
             "quality.counters": state.live.values.reduce(0) { $0 + $1.counters.count },
             "quality.seriesPoints": state.live.values.reduce(0) { $0 + $1.series.count },
             "quality.ended": state.ended.values.reduce(0) { $0 + $1.count },
             "quality.alertTracking": state.alerts.trackedCount]
        }
        return counts.merging(["quality.marked": marked.withLock { $0.count }]) { a, _ in a }
    }

    init(settings: QualitySettings, directory: SiteDirectory, dataDirectory: String) {
        self.settings = settings
        self.directory = directory
        thresholds = QualityThresholds(good: settings.goodMOS, fair: settings.fairMOS, poor: settings.poorMOS,
                                       alertAfterSeconds: settings.alertAfterSeconds)
        historyDirectory = dataDirectory + "/quality"
        startedAt = Self.unixNow()
        state = Mutex(State(alerts: AlertTracker(after: Int64(settings.alertAfterSeconds) * 1_000_000_000)))
        mkdir(historyDirectory, 0o750)
    }

    // MARK: Events from the control threads

    func joined(site: Int, meeting: MeetingID) {
        state.withLock { $0.ended[meeting]?[site] = nil }
        append(meeting: meeting, [["type": "join", "t": Self.unixNow(), "site": directory[site].id]])
    }

    func ended(site: Int, meeting: MeetingID, reason: String) {
        state.withLock { $0.ended[meeting, default: [:]][site] = reason }
        append(meeting: meeting, [["type": "leave", "t": Self.unixNow(), "site": directory[site].id, "reason": reason]])
    }

    // MARK: Once a second

    /// Takes the latest published figures; returns nothing (logs alerts, appends history).
    func step(statistics: [SiteMediaStatistics], now: Int64) {
        let unix = Self.unixNow()
        var logLines: [(warning: Bool, fields: KeyValuePairs<String, Any>)] = []
        var historyByMeeting: [MeetingID: [[String: Any]]] = [:]
        state.withLock { state in
            var present = Set<Int>()
            for s in statistics {
                present.insert(s.site)
                var live = state.live[s.site] ?? Live(meeting: s.meeting, siteID: s.siteID, statistics: s)
                let counters = Self.counters(s)
                if live.meeting != s.meeting || (live.counters.last.map { counters.packetsReceived < $0.packetsReceived } ?? false) {
                    live = Live(meeting: s.meeting, siteID: s.siteID, statistics: s)  // a new session
                }
                if let last = live.counters.last, last.at == counters.at { continue }  // nothing new published
                live.statistics = s
                live.counters.append(counters)
                if live.counters.count > Self.windowSeconds + 1 { live.counters.removeFirst() }
                if live.counters.count >= 2 {
                    let q = SiteQuality.between(live.counters.first!, live.counters.last!, model: model, thresholds: thresholds)
                    live.quality = q
                    live.series.append(Point(time: unix, lossPercent: max(q.lossPercent, q.remoteLossPercent),
                                             jitterMilliseconds: q.jitterMilliseconds, delayMilliseconds: q.oneWayDelayMilliseconds,
                                             mos: q.mos))
                    if live.series.count > Self.seriesLength { live.series.removeFirst(live.series.count - Self.seriesLength) }
                    switch state.alerts.observe(site: s.site, grade: q.grade, cause: q.cause, at: now) {
                    case .opened(let alert)?:
                        logLines.append((true, ["site": s.siteID, "meeting": s.meeting, "grade": alert.grade.rawValue,
                                                "cause": alert.cause.rawValue, "seconds": settings.alertAfterSeconds,
                                                "mos": String(format: "%.2f", q.mos)]))
                        historyByMeeting[s.meeting, default: []].append(["type": "alert", "t": unix, "site": s.siteID,
                                                                          "grade": alert.grade.rawValue, "cause": alert.cause.rawValue])
                    case .closed(let alert, _)?:
                        logLines.append((false, ["site": s.siteID, "meeting": s.meeting, "grade": q.grade.rawValue,
                                                 "after": "\((now - alert.since) / 1_000_000_000)s"]))
                        historyByMeeting[s.meeting, default: []].append(["type": "recovered", "t": unix, "site": s.siteID])
                    case nil:
                        break
                    }
                }
                state.live[s.site] = live
            }
            for (site, live) in state.live where !present.contains(site) {
                if case .closed(let alert, _)? = state.alerts.forget(site: site, at: now) {
                    logLines.append((false, ["site": live.siteID, "meeting": live.meeting, "grade": "-",
                                             "after": "\((now - alert.since) / 1_000_000_000)s", "reason": "the site left"]))
                }
                state.live[site] = nil
            }
            let interval = Int64(settings.sampleSeconds) * 1_000_000_000
            if now - state.lastSampleAt >= interval {
                state.lastSampleAt = now
                for live in state.live.values {
                    guard let q = live.quality else { continue }
                    historyByMeeting[live.meeting, default: []].append(Self.sample(q, site: live.siteID, time: unix))
                }
            }
        }
        for line in logLines {
            if line.warning { Log.warning("quality-alert", line.fields) } else { Log.info("quality-recovered", line.fields) }
        }
        for (meeting, records) in historyByMeeting { append(meeting: meeting, records) }
    }

    static func counters(_ s: SiteMediaStatistics) -> QualityCounters {
        QualityCounters(at: s.at, packetsReceived: s.packetsReceived, packetsLost: Int(s.packetsLost), framesConcealed: s.concealed,
                        framesRecoveredByFEC: s.recoveredByFEC, framesDTX: s.dtxFrames, jitterMilliseconds: s.jitterMilliseconds,
                        bufferDelayMilliseconds: Double(s.jitterBufferDelayMilliseconds),
                        bufferTargetMilliseconds: Double(s.jitterBufferTargetMilliseconds), remoteLossFraction: s.remoteFractionLost,
                        remoteJitterMilliseconds: s.remoteJitterMilliseconds, roundTripMilliseconds: s.roundTripMilliseconds,
                        videoBytesIn: s.video.bytesIn, videoBytesOut: s.video.bytesOut)
    }

    static func sample(_ q: SiteQuality, site: String, time: Int64) -> [String: Any] {
        [
            "type": "sample", "t": time, "site": site, "loss": round2(q.lossPercent), "concealed": round2(q.concealedPercent),
            "fec": q.recoveredByFEC, "jitter": round2(q.jitterMilliseconds), "delay": round2(q.oneWayDelayMilliseconds),
            "rtt": round2(q.roundTripMilliseconds ?? -1), "remoteLoss": round2(q.remoteLossPercent),
            "videoIn": round2(q.videoInKilobitsPerSecond), "videoOut": round2(q.videoOutKilobitsPerSecond),
            "mos": round2(q.mos), "grade": q.grade.rawValue, "cause": q.cause.rawValue,
        ]
    }

    static func round2(_ v: Double) -> Double { (v * 100).rounded() / 100 }

    static func unixNow() -> Int64 { wallClock().seconds }

    // MARK: History files

    func historyPath(_ meeting: MeetingID) -> String { historyDirectory + "/meeting-\(meeting).jsonl" }

    /// Appends records as JSON lines with one write, then fsync: a crash loses at most the write in progress.
    private func append(meeting: MeetingID, _ records: [[String: Any]]) {
        guard !records.isEmpty else { return }
        // One writer at a time, so this process's bridge-start mark precedes all its records in the file.
        marked.withLock { marked in
            var text = ""
            let first = !marked.contains(meeting)
            for record in (first ? [["type": "bridge-start", "t": startedAt]] : []) + records {
                guard let data = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) else { continue }
                text += String(decoding: data, as: UTF8.self) + "\n"
            }
            let fd = open(historyPath(meeting), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
            guard fd >= 0 else {
                Log.error("quality-history", ["meeting": meeting, "error": String(cString: strerror(errno))])
                return
            }
            defer { close(fd) }
            let written = text.withCString { write(fd, $0, strlen($0)) }
            if written < 0 {
                Log.error("quality-history", ["meeting": meeting, "error": String(cString: strerror(errno))])
                return
            }
            fsync(fd)
            if first { marked.insert(meeting) }
        }
    }

    /// Deletes history files older than the retention.
    func applyRetention() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: historyDirectory) else { return }
        let limit = Self.unixNow() - Int64(settings.historyDays) * 86_400
        for name in names where name.hasPrefix("meeting-") && name.hasSuffix(".jsonl") {
            var st = stat()
            let path = historyDirectory + "/" + name
            guard stat(path, &st) == 0, Int64(st.st_mtim.tv_sec) < limit else { continue }
            unlink(path)
            Log.info("quality-history-expired", ["file": name])
        }
    }

    // MARK: Views for the control socket

    /// The rows of `vcbridge quality`: every site of every meeting in progress.
    func view(meetings: [Meeting], detailFor detail: Int?) -> [String: Any] {
        state.withLock { state in
            var result: [[String: Any]] = []
            for meeting in meetings {
                var rows: [[String: Any]] = []
                for site in meeting.sites.sorted() {
                    let s = directory[site]
                    var row: [String: Any] = ["site": s.id, "name": s.name, "district": directory.district(of: s)?.id ?? "",
                                              "group": directory.group(of: s)?.id ?? "",
                                              "level": s.level.description]
                    if let live = state.live[site], live.meeting == meeting.id {
                        row["state"] = "connected"
                        row.merge(Self.figures(live)) { a, _ in a }
                    } else if let reason = state.ended[meeting.id]?[site] {
                        row["state"] = reason == "lost" ? "lost" : "left"
                    } else {
                        row["state"] = "not joined"
                    }
                    rows.append(row)
                }
                result.append(["meeting": Int(meeting.id), "title": meeting.title, "host": directory[meeting.host].id, "sites": rows])
            }
            var answer: [String: Any] = [
                "meetings": result,
                "alerts": state.alerts.open.values.sorted { $0.since < $1.since }.map { alert -> [String: Any] in
                    ["site": directory[alert.site].id, "grade": alert.grade.rawValue, "cause": alert.cause.rawValue,
                     "seconds": Int((monotonicNanoseconds() - alert.since) / 1_000_000_000)]
                },
                "thresholds": ["good": settings.goodMOS, "fair": settings.fairMOS, "poor": settings.poorMOS,
                               "alertAfterSeconds": settings.alertAfterSeconds],
            ]
            if let detail, let live = state.live[detail] {
                answer["series"] = live.series.map { [$0.time, $0.lossPercent, $0.jitterMilliseconds, $0.delayMilliseconds, $0.mos] }
            }
            return answer
        }
    }

    static func figures(_ live: Live) -> [String: Any] {
        let s = live.statistics
        var row: [String: Any] = [
            "packetsReceived": s.packetsReceived, "packetsLost": Int(s.packetsLost), "concealed": s.concealed,
            "recoveredByFEC": s.recoveredByFEC, "talker": s.talker,
            "videoPresenter": s.presenterShown ?? "", "videoSpeaker": s.speakerShown ?? "",
        ]
        if let remb = s.rembBitsPerSecond { row["rembKbps"] = Double(remb) / 1000 }
        if let media = s.sipMedia, let signalling = s.sipSignalling {
            row["media"] = media
            row["signalling"] = signalling
        }
        if let q = live.quality {
            row["lossPercent"] = round2(q.lossPercent)
            row["concealedPercent"] = round2(q.concealedPercent)
            row["fecRecovered"] = q.recoveredByFEC
            row["jitterMs"] = round2(q.jitterMilliseconds)
            row["bufferDelayMs"] = round2(q.bufferDelayMilliseconds)
            row["bufferTargetMs"] = round2(q.bufferTargetMilliseconds)
            row["remoteLossPercent"] = round2(q.remoteLossPercent)
            row["remoteJitterMs"] = round2(q.remoteJitterMilliseconds)
            row["roundTripMs"] = q.roundTripMilliseconds.map(round2) ?? -1
            row["oneWayDelayMs"] = round2(q.oneWayDelayMilliseconds)
            row["videoInKbps"] = round2(q.videoInKilobitsPerSecond)
            row["videoOutKbps"] = round2(q.videoOutKilobitsPerSecond)
            row["mos"] = round2(q.mos)
            row["grade"] = q.grade.rawValue
            row["cause"] = q.cause.rawValue
        }
        return row
    }
}
