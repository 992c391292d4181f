import Foundation
import Scheduler
import SiteDirectory
import Testing

/// A data directory of its own and a pinned clock (2026-11-30 07:00 Vietnam time, a Monday).
struct Secretariat {
    let dataDirectory: String
    let now = "2026-11-30 07:00"

    init() {
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-cli-\(UUID().uuidString)").path
    }

    var environment: [String: String] {
        ["VCBRIDGE_DATA_DIR": dataDirectory, "VCBRIDGE_NOW": now, "VCBRIDGE_ORGANISER": "VP UBND tỉnh"]
    }

    @discardableResult
    func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try VCBridgeProcess.run(arguments, environment: environment)
    }

    func json(_ arguments: [String]) throws -> Any {
        let result = try run(arguments + ["--json"])
        #expect(result.status == 0, "\(arguments): \(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    var journalSize: Int {
        (try? FileManager.default.attributesOfItem(atPath: dataDirectory + "/bookings.journal")[.size] as? Int) ?? 0
    }

    func book(_ title: String, host: String, scope: String, start: String, duration: String = "1h", extra: [String] = []) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        try run(["meeting", "book", "--title", title, "--host", host, "--scope", scope, "--start", start, "--duration", duration] + extra)
    }
}

@Suite("Secretariat command line")
struct MeetingCLITests {
    @Test func bookListShowAndJSONAgree() throws {
        let s = Secretariat()
        let booked = try s.book("Hội nghị tỉnh", host: "vinh-phuc", scope: "district:song-lo,trung-nhi", start: "2026-12-01 08:00", duration: "2h")
        #expect(booked.status == 0, "\(booked.stderr)")
        #expect(booked.stdout == "booked #1 \"Hội nghị tỉnh\" 2026-12-01 08:00-10:00 (+07:00), host vinh-phuc, 20 sites\n")

        let list = try #require(try s.json(["meeting", "list"]) as? [[String: Any]])
        #expect(list.count == 1)
        #expect(list[0]["title"] as? String == "Hội nghị tỉnh")
        #expect(list[0]["start"] as? String == "2026-12-01T08:00:00+07:00")
        #expect(list[0]["siteCount"] as? Int == 20)
        let table = try s.run(["meeting", "list"]).stdout
        #expect(table.contains("2026-12-01 08:00-10:00") && table.contains("Hội nghị tỉnh") && table.contains("20"))

        let shown = try #require(try s.json(["meeting", "show", "1"]) as? [String: Any])
        let sites = try #require(shown["sites"] as? [[String: Any]])
        let trungNhi = try #require(sites.first { $0["id"] as? String == "trung-nhi" })
        #expect(trungNhi["path"] as? [String] == ["vinh-phuc", "phuc-yen", "trung-nhi"])
        #expect(trungNhi["name"] as? String == "Phường Trưng Nhị")
        // In UTC if asked.
        let utc = try #require(try s.json(["meeting", "show", "1", "--zone", "UTC"]) as? [String: Any])
        #expect(utc["start"] as? String == "2026-12-01T01:00:00Z")
        #expect(shown["cascadeUp"] == nil)

        // A meeting the bridge opens by calling an upstream MCU shows that address and the site the link is booked as.
        let up = try s.book("Giao ban với Trung ương", host: "vinh-phuc", scope: "districts", start: "2026-12-02 08:00",
                            extra: ["--cascade-up", "sip:vinh-phuc@192.0.2.50:5060"])
        #expect(up.status == 0, "\(up.stderr)")
        let upShown = try #require(try s.json(["meeting", "show", "2"]) as? [String: Any])
        #expect(upShown["cascadeUp"] as? String == "sip:vinh-phuc@192.0.2.50:5060")
        #expect(upShown["cascadeSite"] as? String == "central")
    }

    @Test("bad input: one line, exit 64, nothing written", arguments: [
        (["--title", "T", "--host", "nowhere", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "1h"],
         "error: --host: unknown site 'nowhere'"),
        (["--title", "T", "--host", "song-lo", "--scope", "bogus-place", "--start", "2026-12-01 08:00", "--duration", "1h"],
         "error: --scope: scope: unknown site 'bogus-place'"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes,-communes", "--start", "2026-12-01 08:00", "--duration", "1h"],
         "error: --scope: the scope selects no site besides the host song-lo"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 10:00", "--end", "2026-12-01 09:00"],
         "error: the end is not after the start"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes", "--start", "2027-02-29 08:00", "--duration", "1h"],
         "error: --start: the date 2027-02-29 does not exist"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "0m"],
         "error: --duration must be longer than zero"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "25h"],
         "error: --duration must be at most 24h"),
        (["--title", "  ", "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "1h"],
         "error: the title is empty"),
        (["--title", String(repeating: "Đ", count: 201), "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 08:00",
          "--duration", "1h"], "error: the title has 201 characters; at most 200"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "1h",
          "--repeat", "daily", "--count", "367"], "error: --count must be a whole number from 1 to 366, not '367'"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "1h",
          "--repeat", "daily", "--count", "3", "--until", "2026-12-31"], "error: give --count or --until, not both"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "1h",
          "--repeat", "daily", "--until", "2028-12-31"], "error: recurrence: the rule gives more than 366 occurrences"),
        (["--title", "T", "--host", "song-lo", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "1h",
          "--repeat", "monthly", "--on", "9mon", "--count", "2"], "error: recurrence: the weekday number 9 must be 1 to 5 or -1 to -5 (last)"),
        (["--title", "T", "--host", "lang-cong", "--scope", "communes", "--start", "2026-12-01 08:00", "--duration", "1h"],
         "error: --scope: a meeting is hosted at the central, province or district level; lang-cong is a commune"),
    ] as [([String], String)])
    func badInput(arguments: [String], message: String) throws {
        let s = Secretariat()
        try s.book("Có sẵn", host: "yen-lac", scope: "communes", start: "2026-12-05 08:00")
        let before = s.journalSize
        let result = try s.run(["meeting", "book"] + arguments)
        #expect(result.status == 64)
        #expect(result.stderr == message + " (see 'vcbridge meeting book --help')\n")
        #expect(result.stdout.isEmpty)
        #expect(s.journalSize == before)
    }

    @Test func aConflictExitsOneAndNamesTheMeetingAndSites() throws {
        let s = Secretariat()
        try s.book("Huyện", host: "song-lo", scope: "communes", start: "2026-12-01 08:00", duration: "2h")
        let result = try s.book("Tỉnh", host: "vinh-phuc", scope: "lang-cong,tam-son", start: "2026-12-01 09:00")
        #expect(result.status == 1)
        #expect(result.stderr.contains("#1 \"Huyện\" (district, host song-lo, 2026-12-01 08:00-10:00) already has 2 of the sites on 2026-12-01: lang-cong, tam-son"))
        // With --preempt it lands, and the district organiser sees the notice.
        #expect(try s.book("Tỉnh", host: "vinh-phuc", scope: "lang-cong,tam-son", start: "2026-12-01 09:00", extra: ["--preempt"]).status == 0)
        let notices = try s.run(["meeting", "notices", "--organiser", "vp ubnd tinh"])
        #expect(notices.stdout.contains("2 site(s) displaced by #2 \"Tỉnh\" (province, 2026-12-01 09:00-10:00)"))
        #expect(notices.stdout.contains("lang-cong, tam-son"))
    }

    @Test func agendaFreeMoveExtendCancel() throws {
        let s = Secretariat()
        try s.book("Sáng", host: "song-lo", scope: "communes", start: "2026-12-01 08:00", duration: "2h")
        try s.book("Chiều", host: "song-lo", scope: "lang-cong", start: "2026-12-01 14:00", duration: "1h")
        let agenda = try s.run(["meeting", "agenda", "--site", "lang-cong"]).stdout
        #expect(agenda.contains("Xã Lãng Công (lang-cong, 08773)"))
        #expect(agenda.contains("Sáng") && agenda.contains("Chiều"))
        #expect(agenda.contains("07:45"))  // room ready 15 minutes before

        let free = try #require(try s.json(["meeting", "free", "--sites", "lang-cong,tam-son", "--duration", "2h", "--from", "2026-12-01 07:00",
                                            "--within", "1d"]) as? [[String: Any]])
        // 10:00 + 15 min setup; free until the afternoon meeting's setup window (13:45).
        #expect(free.first?["start"] as? String == "2026-12-01T10:15:00+07:00")
        #expect(free.first?["freeUntil"] as? String == "2026-12-01T13:45:00+07:00")

        // Extending the morning into the afternoon's setup window is refused; a little is fine.
        #expect(try s.run(["meeting", "extend", "2", "--by", "30m"]).status == 0)
        let clash = try s.run(["meeting", "extend", "1", "--by", "4h"])
        #expect(clash.status == 1 && clash.stderr.contains("#2 \"Chiều\""))
        #expect(try s.run(["meeting", "extend", "1", "--by", "30m"]).stdout.contains("2026-12-01 08:00-10:30"))
        #expect(try s.run(["meeting", "move", "2", "--start", "2026-12-02 09:00"]).stdout.contains("2026-12-02 09:00-10:30"))
        #expect(try s.run(["meeting", "cancel", "1", "--reason", "hoãn"]).status == 0)
        let cancelledAgain = try s.run(["meeting", "cancel", "1"])
        #expect(cancelledAgain.status == 1 && cancelledAgain.stderr == "error: meeting #1 is already cancelled\n")
        #expect(try s.run(["meeting", "show", "99"]).stderr == "error: no meeting #99\n")
    }

    @Test func twentySecretariatsAtOnce() throws {
        let s = Secretariat()
        _ = try s.run(["config"])  // creates nothing; the first booking creates the store
        // Twenty bookings that share no site at any moment: each district twice (its own communes,
        // at 08:00 and at 10:00), the centre with the province at 13:00, the province with a ward at 15:00.
        let districts = ["vinh-yen", "phuc-yen", "lap-thach", "tam-duong", "tam-dao", "binh-xuyen", "yen-lac", "vinh-tuong", "song-lo"]
        var bookings = districts.flatMap { d in ["08:00", "10:00"].map { (d, "communes", $0) } }
        bookings += [("central", "vinh-phuc", "13:00"), ("vinh-phuc", "trung-nhi", "15:00")]
        func launch(_ arguments: [String]) throws -> (Process, Pipe) {
            let process = Process()
            process.executableURL = VCBridgeProcess.executable
            process.arguments = arguments
            process.environment = ProcessInfo.processInfo.environment.merging(s.environment) { _, new in new }
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            return (process, pipe)
        }
        // Disjoint sites: all twenty land.
        let disjoint = try bookings.enumerated().map { i, booking in
            try launch(["meeting", "book", "--title", "Họp \(i)", "--host", booking.0, "--scope", booking.1,
                        "--start", "2026-12-03 \(booking.2)", "--duration", "1h"])
        }
        for (p, pipe) in disjoint {
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            #expect(p.terminationStatus == 0, "\(output)")
        }
        // The same site: exactly one lands.
        let same = try (0..<20).map { i in
            try launch(["meeting", "book", "--title", "Cùng \(i)", "--host", "vinh-phuc", "--scope", "trung-nhi",
                        "--start", "2026-12-04 08:00", "--duration", "1h"])
        }
        var statuses: [Int32] = []
        for (p, pipe) in same {
            _ = pipe.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            statuses.append(p.terminationStatus)
        }
        #expect(statuses.filter { $0 == 0 }.count == 1)
        #expect(statuses.filter { $0 == 1 }.count == 19)
        let all = try #require(try s.json(["meeting", "list", "--all"]) as? [[String: Any]])
        #expect(all.count == 21)
        #expect(Set(all.compactMap { $0["id"] as? Int }) == Set(1...21))
    }

    @Test func killNineInABurstLosesNoAcknowledgedBooking() throws {
        for round in 0..<3 {
            let s = Secretariat()
            // A secretariat's script books one meeting after another; vcbridge prints "booked #N" only
            // after the booking is on disk. The script is killed -9 at a moment that differs by round.
            // Each booking takes its own day, so none conflicts with another.
            let script = """
                for i in $(seq 1 400); do
                  day=$(date -u -d "2026-12-01 +$i days" +%Y-%m-%d)
                  "\(VCBridgeProcess.executable.path)" meeting book --title "Burst $i" --host vinh-phuc --scope trung-nhi \\
                    --start "$day 08:00" --duration 10m
                done
                """
            // Foundation starts the loop as a process group leader, so one kill reaches it and its vcbridge.
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/bin/bash")
            process.arguments = ["-c", script]
            process.environment = ProcessInfo.processInfo.environment.merging(s.environment) { _, new in new }
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            // The kill comes after a number of acknowledgements that differs by round (not after a time,
            // which a loaded machine would fill with fewer bookings): 2, 6, then 12.
            var seen = Data()
            let target = [2, 6, 12][round]
            func acknowledgedSoFar() -> Int { String(decoding: seen, as: UTF8.self).components(separatedBy: "booked #").count - 1 }
            while acknowledgedSoFar() < target {
                let chunk = pipe.fileHandleForReading.availableData  // blocks until the script prints (or ends)
                if chunk.isEmpty { break }
                seen.append(chunk)
            }
            // Kill the whole group: the loop and the vcbridge in the middle of its booking.
            kill(-process.processIdentifier, SIGKILL)
            seen.append(pipe.fileHandleForReading.readDataToEndOfFile())
            let output = String(decoding: seen, as: UTF8.self)
            process.waitUntilExit()
            let acknowledged = output.split(separator: "\n").filter { $0.hasPrefix("booked #") }.map { line in
                Int(line.dropFirst("booked #".count).prefix { $0.isNumber })!
            }
            #expect(!acknowledged.isEmpty, "round \(round): nothing was booked before the kill")
            #expect(acknowledged.count < 400, "round \(round): the kill came too late to interrupt anything")
            let stored = try #require(try s.json(["meeting", "list", "--all", "--from", "2026-11-30", "--to", "2028-02-01"]) as? [[String: Any]])
            let ids = Set(stored.compactMap { $0["id"] as? Int })
            for id in acknowledged { #expect(ids.contains(id), "round \(round): acknowledged #\(id) is missing") }
            // And the store still takes bookings.
            #expect(try s.book("Sau sự cố", host: "vinh-phuc", scope: "trung-nhi", start: "2028-06-01 08:00").status == 0)
        }
    }

    @Test func aRunningReaderSeesNewMovedAndCancelledBookingsOnItsNextRefresh() throws {
        let s = Secretariat()
        try s.book("Đầu tiên", host: "song-lo", scope: "communes", start: "2026-12-01 08:00")
        // A long-running process (as the bridge will be) holding the store open and polling it.
        let follower = try ScheduleStore(
            dataDirectory: s.dataDirectory, directory: .embedded,
            rules: ScheduleRules(capacity: 160, setupSeconds: 900, maxOccurrences: 366))
        // Each change is made by another process; once that process has acknowledged it, the reader's
        // next refresh shows it (the bridge refreshes every 250 ms, so it follows within a second),
        // however long the change took to make.
        try follower.refresh()
        #expect(follower.schedule.meeting(2) == nil)
        #expect(try s.book("Mới", host: "yen-lac", scope: "communes", start: "2026-12-01 08:00").status == 0)
        #expect(try follower.refresh())
        #expect(follower.schedule.meeting(2)?.title == "Mới")
        #expect(try s.run(["meeting", "move", "2", "--start", "2026-12-01 13:00"]).status == 0)
        #expect(try follower.refresh())
        #expect(follower.schedule.meeting(2)?.start == follower.schedule.meeting(1)!.start + 5 * 3600)
        #expect(try s.run(["meeting", "cancel", "1"]).status == 0)
        #expect(try follower.refresh())
        #expect(follower.schedule.meeting(1)?.status == .cancelled)
        #expect(try !follower.refresh(), "nothing new: nothing read")
    }

    @Test func aCorruptedStoreIsNamedAndLeftAlone() throws {
        let s = Secretariat()
        try s.book("A", host: "song-lo", scope: "communes", start: "2026-12-01 08:00")
        try s.book("B", host: "yen-lac", scope: "communes", start: "2026-12-01 08:00")
        let path = s.dataDirectory + "/bookings.journal"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[40] ^= 0x55  // inside the first record
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        // Listing still works and names the damage (what is before it is listed: nothing here).
        let result = try s.run(["meeting", "list"])
        #expect(result.status == 0)
        #expect(result.stderr.hasPrefix("warning: \(path) is damaged at byte 20 (checksum mismatch): there is no record before it"))
        // Nothing is written over it.
        #expect(try s.book("C", host: "tam-dao", scope: "communes", start: "2026-12-01 08:00").status == 74)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == bytes)
    }

    @Test func iCalendarExportParsesBack() throws {
        let s = Secretariat()
        let longTitle = "Hội nghị trực tuyến triển khai nhiệm vụ phát triển kinh tế - xã hội năm 2027; các xã, phường, thị trấn"
        try s.book(longTitle, host: "vinh-phuc", scope: "district:phuc-yen", start: "2026-12-01 08:00", duration: "2h")
        try s.book("Giao ban", host: "phuc-yen", scope: "trung-nhi", start: "2026-12-02 14:00", duration: "1h",
                   extra: ["--repeat", "weekly", "--count", "3"])
        let path = s.dataDirectory + "/trung-nhi.ics"
        let result = try s.run(["meeting", "export", "--site", "trung-nhi", "--out", path])
        #expect(result.status == 0 && result.stderr == "wrote 4 meeting(s) to \(path)\n")
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        let text = try #require(String(data: data, encoding: .utf8), "valid UTF-8")
        // Every physical line is at most 75 octets, ends in CRLF, and is valid UTF-8 on its own.
        let physical = text.components(separatedBy: "\r\n").dropLast()
        for line in physical {
            #expect(line.utf8.count <= 75)
            #expect(String(data: Data(line.utf8), encoding: .utf8) != nil)
        }
        #expect(physical.contains { $0.hasPrefix(" ") }, "the long title is folded")
        let events = parseICalendar(text)
        #expect(events.count == 4)
        let first = try #require(events.first { $0["SUMMARY"] == longTitle })
        #expect(first["DTSTART"] == "20261201T010000Z" && first["DTEND"] == "20261201T030000Z")
        #expect(first["LOCATION"] == "Tỉnh Vĩnh Phúc")
        #expect(events.filter { $0["SUMMARY"] == "Giao ban" }.map { $0["DTSTART"]! }
                == ["20261202T070000Z", "20261209T070000Z", "20261216T070000Z"])
    }
}

/// A small RFC 5545 reader for the test: unfolds lines and unescapes TEXT values.
func parseICalendar(_ text: String) -> [[String: String]] {
    var unfolded: [String] = []
    for line in text.components(separatedBy: "\r\n") where !line.isEmpty {
        if line.hasPrefix(" ") || line.hasPrefix("\t") {
            // Joining bytes, since a fold may not split a character but the test checks that anyway.
            unfolded[unfolded.count - 1] += String(line.dropFirst())
        } else {
            unfolded.append(line)
        }
    }
    var events: [[String: String]] = []
    var current: [String: String]? = nil
    for line in unfolded {
        if line == "BEGIN:VEVENT" { current = [:]; continue }
        if line == "END:VEVENT", let c = current { events.append(c); current = nil; continue }
        guard current != nil, let colon = line.firstIndex(of: ":") else { continue }
        let name = String(line[..<colon]).split(separator: ";")[0]
        var value = ""
        var escaped = false
        for c in line[line.index(after: colon)...] {
            if escaped {
                value.append(c == "n" || c == "N" ? "\n" : c)
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                value.append(c)
            }
        }
        current?[String(name)] = value
    }
    return events
}
