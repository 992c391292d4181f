import CivilTime
import Configuration
import Foundation
import Scheduler
import SiteDirectory

/// What every command shares: where the data lives, the settings, the zone, the clock.
struct Context {
    let dataDirectory: String
    let settings: Settings
    /// The settings file over the defaults (`--config`, else `$VCBRIDGE_CONFIG`), if any.
    let configPath: String?
    let zone: ZoneOffset
    let clock: any Scheduler.Clock
    /// The site directory the settings name (`sites.directory`).
    let directory: SiteDirectory

    static let environment = ProcessInfo.processInfo.environment

    /// The data directory: `--data-dir`, else `$VCBRIDGE_DATA_DIR`, else /var/lib/vcbridge when
    /// running as root or when it exists and is writable, else ~/.local/share/vcbridge.
    static func defaultDataDirectory() -> String {
        if let dir = environment["VCBRIDGE_DATA_DIR"], !dir.isEmpty { return dir }
        let system = "/var/lib/vcbridge"
        if getuid() == 0 || FileManager.default.isWritableFile(atPath: system) { return system }
        let home = environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
        return home + "/.local/share/vcbridge"
    }

    init(_ arguments: Arguments) throws {
        dataDirectory = try arguments.value("--data-dir") ?? Self.defaultDataDirectory()
        configPath = try arguments.value("--config") ?? Self.environment["VCBRIDGE_CONFIG"]
        do {
            settings = try Settings.load(overridePath: configPath)
        } catch {
            throw CommandFailure(error.description)
        }
        do {
            directory = try SiteDirectory.named(settings.siteDirectory)
        } catch {
            throw CommandFailure("sites.directory: \(error.message)")
        }
        if let zoneText = try arguments.value("--zone") {
            do { zone = try ZoneOffset(parsing: zoneText) } catch { throw ValidationError("--zone: \(error)") }
        } else {
            zone = .vietnam
        }
        // VCBRIDGE_NOW pins the clock (demos and tests of time-dependent behaviour).
        if let pinned = Self.environment["VCBRIDGE_NOW"], !pinned.isEmpty {
            do {
                clock = FixedClock(try TimeFormat.parseMoment(pinned, zone: .vietnam, now: 0))
            } catch {
                throw ValidationError("VCBRIDGE_NOW: \(error)")
            }
        } else {
            clock = SystemClock()
        }
    }

    var now: Timestamp { clock.now() }

    var rules: ScheduleRules {
        ScheduleRules(capacity: settings.bridgeCapacity, setupSeconds: settings.setupSeconds,
                      maxOccurrences: settings.maxOccurrences, zone: .vietnam)
    }

    func openStore() throws -> ScheduleStore {
        do {
            // A damaged journal still shows what is before the damage; changes to it are refused.
            let store = try ScheduleStore(dataDirectory: dataDirectory, directory: directory, rules: rules, clock: clock,
                                          allowingDamage: true)
            if let repair = store.repair { Output.error("note: \(repair)") }
            if let damage = store.damage { Output.error("warning: \(damage)") }
            // A command runs once and exits: the kernel reclaims the loaded schedule at exit far
            // faster than freeing 100,000 meetings one by one would.
            StoreLifetime.keepUntilExit(store)
            return store
        } catch {
            throw StoreFailure(error.description)
        }
    }

    func moment(_ text: String, option: String) throws -> Timestamp {
        do {
            return try TimeFormat.parseMoment(text, zone: zone, now: now)
        } catch {
            throw ValidationError("\(option): \(error)")
        }
    }

    /// The moment given with `option`, if it was given.
    func moment(_ arguments: Arguments, _ option: String) throws -> Timestamp? {
        try arguments.value(option).map { try moment($0, option: option) }
    }

    /// Midnight at the start of today in the display zone.
    var startOfToday: Timestamp {
        LocalDateTime(date: LocalDateTime(now, in: zone).date, minuteOfDay: 0).timestamp(in: zone)
    }

    func duration(_ text: String, option: String) throws -> Int64 {
        do {
            return try TimeFormat.parseDuration(text)
        } catch {
            throw ValidationError("\(option): \(error)")
        }
    }

    func site(_ reference: String, option: String) throws -> Site {
        do {
            return try directory.resolve(reference)
        } catch {
            throw ValidationError("\(option): \(error)")
        }
    }

    /// "2026-12-01 08:00" in the display zone.
    func show(_ t: Timestamp) -> String { LocalDateTime(t, in: zone).description }

    /// "2026-12-01 08:00-10:00" (the end's date too when it differs).
    func span(_ start: Timestamp, _ end: Timestamp) -> String {
        let s = LocalDateTime(start, in: zone)
        let e = LocalDateTime(end, in: zone)
        return s.date == e.date ? "\(s)-\(e.timeText)" : "\(s) - \(e)"
    }

    /// ISO 8601 with the display zone's offset: 2026-12-01T08:00:00+07:00.
    func iso(_ t: Timestamp) -> String {
        let l = LocalDateTime(t, in: zone)
        let time = "\(l.timeText):\(l.second < 10 ? "0" : "")\(l.second)"
        return "\(l.date)T\(time)\(zone.seconds == 0 ? "Z" : zone.description)"
    }

    var organiser: String {
        Self.environment["VCBRIDGE_ORGANISER"] ?? Self.environment["SUDO_USER"] ?? Self.environment["USER"] ?? "unknown"
    }
}

/// The booking store could not be used (exit 74, EX_IOERR).
struct StoreFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// A booking that collides with others (exit 1): the lines name every conflict.
struct Refusal: Error, CustomStringConvertible {
    let description: String
}

extension SchedulingError {
    /// The matching command-line error: invalid requests are usage errors (64).
    var commandError: any Error {
        switch kind {
        case .invalid: ValidationError(description)
        case .conflict: Refusal(description: description)
        case .notFound: CommandFailure(description)
        case .store: StoreFailure(description)
        }
    }
}

/// JSON for scripts: sorted keys, UTF-8 as is.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    let data = try encoder.encode(value)
    Output.line(String(decoding: data, as: UTF8.self))
}

/// Holds stores until the process exits (Swift never tears down globals at exit).
enum StoreLifetime {
    nonisolated(unsafe) private static var kept: [ScheduleStore] = []
    static func keepUntilExit(_ store: ScheduleStore) { kept.append(store) }
}

/// Prints a JSON object or array built from dictionaries (keys sorted, for scripts and diffs).
func printJSONObject(_ value: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    Output.line(String(decoding: data, as: UTF8.self))
}
