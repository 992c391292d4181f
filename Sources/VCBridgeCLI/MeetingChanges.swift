import CivilTime
import Foundation
import Scheduler
import SiteDirectory

/// `vcbridge meeting free`.
struct MeetingFree: Command {
    static let name = "free"
    static let abstract = "The earliest slots when all the given sites and the bridge are free."
    static let usage = "vcbridge meeting free --sites SELECTORS --duration D [--within D] [--from TIME] [--any-time] [--json]\n  default: within 7d from now, in the working hours of the settings"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--sites", "--duration", "--within", "--from"],
                                       flags: ["--any-time", "--json"])
        guard !self.arguments.all("--sites").isEmpty else { throw ValidationError("missing --sites") }
        _ = try self.arguments.required("--duration")
    }

    struct SlotJSON: Encodable { let start, freeUntil: String; let freeMinutes: Int64 }

    func run() throws {
        let context = try Context(arguments)
        let duration = try context.duration(try arguments.required("--duration"), option: "--duration")
        guard duration > 0, duration <= Schedule.maxDuration else { throw ValidationError("--duration must be more than zero and at most 24h") }
        let within = try arguments.value("--within").map { try context.duration($0, option: "--within") } ?? 7 * 86400
        guard within > 0, within <= 366 * 86400 else { throw ValidationError("--within must be more than zero and at most 366d") }
        let from = roundUpTo5Minutes(try context.moment(arguments, "--from") ?? context.now)
        let sites: [Site]
        do { sites = try Scope.sites(arguments.all("--sites"), in: context.directory) } catch { throw ValidationError("--sites: \(error)") }
        let anyTime = arguments.flag("--any-time")
        let store = try context.openStore()
        let s = context.settings
        let slots = store.schedule.freeSlots(
            sites: SiteSet(sites.map(\.index)), duration: duration, setup: s.setupSeconds,
            from: from, to: from + within, capacity: s.bridgeCapacity,
            workingHours: anyTime ? nil : s.workingHours, workingDays: anyTime ? nil : s.workingDays,
            zone: context.zone, limit: 5)
        if arguments.flag("--json") {
            try printJSON(slots.map { SlotJSON(start: context.iso($0.start), freeUntil: context.iso($0.freeUntil),
                                               freeMinutes: ($0.freeUntil - $0.start) / 60) })
            return
        }
        let hours = anyTime ? "any time" : "working hours \(pad2(s.workingHours.lowerBound / 60)):\(pad2(s.workingHours.lowerBound % 60))-"
            + "\(pad2(s.workingHours.upperBound / 60)):\(pad2(s.workingHours.upperBound % 60)), "
            + s.workingDays.sorted().map(\.description).joined(separator: ",")
        Output.line("\(sites.count) site(s), \(TimeFormat.durationText(duration)), \(hours), (\(context.zone)):")
        if slots.isEmpty {
            Output.line("no free slot in the next \(TimeFormat.durationText(within))")
            return
        }
        var table = Table(["START", "FREE UNTIL", "FREE FOR"])
        for slot in slots {
            table.add([context.show(slot.start), context.show(slot.freeUntil), TimeFormat.durationText(slot.freeUntil - slot.start)])
        }
        Output.line(table.render())
    }

    private func roundUpTo5Minutes(_ t: Timestamp) -> Timestamp { (t + 299) / 300 * 300 }
}

/// `vcbridge meeting move`.
struct MeetingMove: Command {
    static let name = "move"
    static let abstract = "Move one meeting (one occurrence of a series) to a new start; its length stays."
    static let usage = "vcbridge meeting move ID --start TIME [--preempt] [--organiser NAME]"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--start", "--organiser"], flags: ["--preempt"], positionals: 1)
        _ = try meetingID(self.arguments.positionals.first)
        _ = try self.arguments.required("--start")
    }

    func run() throws {
        let context = try Context(arguments)
        let id = try meetingID(arguments.positionals.first)
        let start = try context.moment(try arguments.required("--start"), option: "--start")
        let by = try arguments.value("--organiser") ?? context.organiser
        let store = try context.openStore()
        do {
            let m = try store.move(id, to: start, by: by, preempt: arguments.flag("--preempt"))
            Output.line("moved #\(m.id) \"\(m.title)\" to \(context.span(m.start, m.end)) (\(context.zone))")
        } catch {
            throw error.commandError
        }
    }
}

/// `vcbridge meeting extend`.
struct MeetingExtend: Command {
    static let name = "extend"
    static let abstract = "Extend a meeting; refused if the extra time would conflict with anything."
    static let usage = "vcbridge meeting extend ID --by D [--organiser NAME]"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--by", "--organiser"], positionals: 1)
        _ = try meetingID(self.arguments.positionals.first)
        _ = try self.arguments.required("--by")
    }

    func run() throws {
        let context = try Context(arguments)
        let id = try meetingID(arguments.positionals.first)
        let extra = try context.duration(try arguments.required("--by"), option: "--by")
        guard extra > 0 else { throw ValidationError("--by must be longer than zero") }
        let by = try arguments.value("--organiser") ?? context.organiser
        let store = try context.openStore()
        do {
            let m = try store.extend(id, by: extra, organiser: by)
            Output.line("extended #\(m.id) \"\(m.title)\" to \(context.span(m.start, m.end)) (\(context.zone))")
        } catch {
            throw error.commandError
        }
    }
}

/// `vcbridge meeting cancel`.
struct MeetingCancel: Command {
    static let name = "cancel"
    static let abstract = "Cancel a meeting, or with --series every remaining occurrence of its series."
    static let usage = "vcbridge meeting cancel ID [--series] [--reason TEXT] [--organiser NAME]"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--reason", "--organiser"], flags: ["--series"], positionals: 1)
        _ = try meetingID(self.arguments.positionals.first)
    }

    func run() throws {
        let context = try Context(arguments)
        let id = try meetingID(arguments.positionals.first)
        let by = try arguments.value("--organiser") ?? context.organiser
        let reason = try arguments.value("--reason") ?? ""
        let store = try context.openStore()
        do {
            let cancelled = try store.cancel(id, wholeSeries: arguments.flag("--series"), by: by, reason: reason)
            for m in cancelled {
                Output.line("cancelled #\(m.id) \"\(m.title)\" \(context.span(m.start, m.end)) (\(context.zone))")
            }
        } catch {
            throw error.commandError
        }
    }
}

/// `vcbridge meeting export`.
struct MeetingExport: Command {
    static let name = "export"
    static let abstract = "Write an iCalendar (.ics) file of one meeting or of one site's meetings."
    static let usage = "vcbridge meeting export (--meeting ID | --site SITE [--from TIME] [--to TIME]) [--out FILE]\n  default range for a site: today and the 89 days after; default output: standard output"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--meeting", "--site", "--from", "--to", "--out"])
        switch (try self.arguments.value("--meeting"), try self.arguments.value("--site")) {
        case (nil, nil): throw ValidationError("give --meeting ID or --site SITE")
        case (_?, _?): throw ValidationError("give --meeting or --site, not both")
        default: break
        }
    }

    func run() throws {
        let context = try Context(arguments)
        let store = try context.openStore()
        let schedule = store.schedule
        let meetings: [Meeting]
        let name: String
        if let idText = try arguments.value("--meeting") {
            let id = try meetingID(idText)
            guard let m = schedule.meeting(id) else { throw CommandFailure("no meeting #\(id)") }
            meetings = [m]
            name = "vcbridge #\(id) \(m.title)"
        } else {
            let site = try context.site(try arguments.required("--site"), option: "--site")
            let from = try context.moment(arguments, "--from") ?? context.startOfToday
            let to = try context.moment(arguments, "--to") ?? from + 90 * 86400
            guard to > from else { throw ValidationError("--to must be after --from") }
            meetings = schedule.agenda(site: site.index, from: from, to: to)
            name = "vcbridge \(site.name)"
        }
        let text = ICalendar.export(meetings, schedule: schedule, calendarName: name, now: context.now)
        if let path = try arguments.value("--out") {
            do {
                try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw CommandFailure("cannot write \(path): \(error.localizedDescription)")
            }
            Output.error("wrote \(meetings.count) meeting(s) to \(path)")
        } else {
            FileHandle.standardOutput.write(Data(text.utf8))
        }
    }
}

/// `vcbridge meeting floor`: who presents (whose camera every site sees) in a meeting in progress.
struct MeetingFloor: Command {
    static let name = "floor"
    static let abstract = "Give the floor (the presenter video) to a site of a meeting in progress, or back to its host."
    static let usage = "vcbridge meeting floor SITE\n       vcbridge meeting floor --host MEETING\n  talks to the running bridge"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--host"], positionals: 1)
        let hasHost = try self.arguments.value("--host") != nil
        guard hasHost != (self.arguments.positionals.count == 1) else {
            throw ValidationError("give a SITE, or --host MEETING to give the floor back to the host")
        }
    }

    func run() throws {
        let context = try Context(arguments)
        var request: [String: Any] = ["command": "floor"]
        if let site = arguments.positionals.first {
            request["site"] = try context.site(site, option: "SITE").id
        } else {
            request["meeting"] = Int(try meetingID(try arguments.value("--host")))
        }
        let answer = try controlRequest(context.dataDirectory, request)
        guard answer["type"] as? String == "ok", let presenter = answer["presenter"] as? String else {
            throw CommandFailure(answer["error"] as? String ?? "the bridge refused")
        }
        let name = context.directory.site(presenter)?.name ?? presenter
        Output.line("meeting #\(answer["meeting"] ?? "?"): \(name) (\(presenter)) now presents; every site's presenter video "
            + "switches to it on its next keyframe")
    }
}
