import CivilTime
import Scheduler
import SiteDirectory

/// `vcbridge meeting book`.
struct MeetingBook: Command {
    static let name = "book"
    static let abstract = "Book a meeting (or a recurring series) hosted at one level and cascading down."
    static let usage = """
        vcbridge meeting book --title TEXT --host SITE --start TIME (--end TIME | --duration D) --scope SELECTORS
                [--organiser NAME] [--preempt] [--json] [--cascade-up sip:USER@HOST:PORT]
                [--repeat daily|weekdays|weekly|monthly [--every N] [--on DAYS] (--count N | --until DATE) [--except DATES]]
                [--rrule RRULE [--except DATES]]
          SELECTORS (comma-separated or repeated): all, province, districts, communes, district:ID, SITE, -SITE, -district:ID
          --on: weekly mon,wed; monthly 15, -1 (last day), 2mon, last-fri
          --cascade-up: the upstream MCU the bridge calls as one participant (booked as the host's upstream site)
        """

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(
            arguments,
            options: ["--title", "--host", "--start", "--end", "--duration", "--scope", "--organiser", "--repeat", "--every",
                      "--on", "--count", "--until", "--except", "--rrule", "--cascade-up"],
            flags: ["--preempt", "--json"])
        _ = try self.arguments.required("--title")
        _ = try self.arguments.required("--host")
        _ = try self.arguments.required("--start")
        guard !self.arguments.all("--scope").isEmpty else { throw ValidationError("missing --scope") }
        switch (try self.arguments.value("--end"), try self.arguments.value("--duration")) {
        case (nil, nil): throw ValidationError("give --end or --duration")
        case (_?, _?): throw ValidationError("give --end or --duration, not both")
        default: break
        }
    }

    func run() throws {
        let context = try Context(arguments)
        let host = try context.site(try arguments.required("--host"), option: "--host")
        let start = try context.moment(try arguments.required("--start"), option: "--start")
        let end: Timestamp
        if let endText = try arguments.value("--end") {
            end = try context.moment(endText, option: "--end")
        } else {
            let duration = try context.duration(try arguments.required("--duration"), option: "--duration")
            guard duration > 0 else { throw ValidationError("--duration must be longer than zero") }
            guard duration <= Schedule.maxDuration else { throw ValidationError("--duration must be at most 24h") }
            end = start + duration
        }
        let selectors = arguments.all("--scope")
        let sites: [Site]
        do {
            sites = try Scope.resolve(selectors, host: host, in: context.directory)
        } catch {
            throw ValidationError("--scope: \(error)")
        }
        var request = BookingRequest(
            title: try arguments.required("--title"), organiser: try arguments.value("--organiser") ?? context.organiser,
            host: host, sites: sites, scopeText: selectors.joined(separator: ","), start: start, end: end,
            recurrence: try recurrence(from: arguments), preempt: arguments.flag("--preempt"))
        request.cascadeUp = try arguments.value("--cascade-up")

        let store = try context.openStore()
        let booked: [Meeting]
        do {
            booked = try store.book(request)
        } catch {
            throw error.commandError
        }
        let schedule = store.schedule
        if arguments.flag("--json") {
            try printJSON(booked.map { MeetingJSON($0, schedule: schedule, context: context, withSites: true) })
            return
        }
        let first = booked[0]
        if booked.count == 1 {
            Output.line("booked #\(first.id) \"\(first.title)\" \(context.span(first.start, first.end)) (\(context.zone)), "
                + "host \(host.id), \(first.sites.count) sites")
        } else {
            Output.line("booked \(booked.count) occurrences #\(first.id)-#\(booked.last!.id) \"\(first.title)\" "
                + "(\(first.rule)), first \(context.span(first.start, first.end)), last "
                + "\(context.span(booked.last!.start, booked.last!.end)) (\(context.zone)), host \(host.id), "
                + "\(first.sites.count) sites")
        }
        // Tell the secretariat what the preemption displaced: its organisers see it in `meeting notices`.
        let bookedIDs = Set(booked.map(\.id))
        for m in schedule.displacedMeetings(from: context.now) where m.notices.contains(where: { bookedIDs.contains($0.by) }) {
            Output.line("  preempted #\(m.id) \"\(m.title)\" (\(m.level), organiser \(m.organiser)): "
                + (m.status == .displaced ? "displaced whole" : "\(m.displaced.count) site(s) displaced"))
        }
    }
}
