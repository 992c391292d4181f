#if canImport(Glibc)
import Glibc
#endif
import Admission
import Configuration
import FileSync
import Foundation
import Scheduler

/// `vcbridge store backup|restore|check`: the data directory's bookings, keys and settings.
struct StoreCommand: Command {
    static let name = "store"
    static let abstract = "Back up the bookings, keys and settings (while the bridge runs), restore them, or check a store."
    static let usage = """
        vcbridge store backup FILE [--data-dir DIR] [--config FILE]
               vcbridge store restore FILE [--data-dir DIR]   (into an empty data directory)
               vcbridge store check [--data-dir DIR] [--config FILE]
        """

    let action: String
    let arguments: Arguments

    init(arguments: [String]) throws {
        guard let action = arguments.first, ["backup", "restore", "check"].contains(action) else {
            throw ValidationError("expected 'backup', 'restore' or 'check'")
        }
        self.action = action
        self.arguments = try Arguments(Array(arguments.dropFirst()), options: [], positionals: action == "check" ? 0 : 1)
        if action != "check", self.arguments.positionals.count != 1 { throw ValidationError("missing FILE") }
    }

    func run() throws {
        let context = try Context(arguments)
        switch action {
        case "backup": try backup(context, to: arguments.positionals[0])
        case "restore": try restore(context, from: arguments.positionals[0])
        default: try check(context)
        }
    }

    private func backup(_ context: Context, to file: String) throws {
        let data = context.dataDirectory
        var parts: [StoreArchive.Part] = []
        let snapshot: JournalSnapshot?
        do { snapshot = try ScheduleStore.snapshot(dataDirectory: data) } catch { throw StoreFailure(error.message) }
        if let snapshot {
            if let damage = snapshot.damage { Output.error("warning: \(damage); the backup holds the whole file as it is") }
            parts.append(.init(kind: .journal, name: ScheduleStore.journalName, bytes: snapshot.bytes))
        }
        let keys: [KeyStoreFile]
        do { keys = try SiteKeyStore(dataDirectory: data).files() } catch { throw StoreFailure(error.description) }
        parts += keys.map { .init(kind: .key, name: $0.name, bytes: $0.bytes) }
        for name in StoreArchive.dataFiles {
            if let bytes = FileManager.default.contents(atPath: data + "/" + name) {
                parts.append(.init(kind: .file, name: name, bytes: Array(bytes)))
            }
        }
        if let config = context.configPath {
            guard let bytes = FileManager.default.contents(atPath: config) else { throw StoreFailure("cannot read the settings \(config)") }
            parts.append(.init(kind: .settings, name: absolute(config), bytes: Array(bytes)))
        }
        guard snapshot != nil || !keys.isEmpty else {
            throw StoreFailure("\(data) holds no bookings and no keys: nothing to back up (is --data-dir right?)")
        }
        let archive = StoreArchive(created: context.iso(context.now), parts: parts)
        try place(try archive.encoded(), at: file, mode: 0o600)
        let settings = context.configPath.map { ", the settings \($0)" } ?? ""
        Output.line("backed up \(data) to \(file) (owner-only): \(snapshot?.records ?? 0) journal records, "
            + "\(keys.filter { $0.name.hasSuffix(".key") }.count) site keys\(settings)")
    }

    private func restore(_ context: Context, from file: String) throws {
        guard let bytes = FileManager.default.contents(atPath: file) else { throw StoreFailure("cannot read \(file)") }
        let archive = try StoreArchive(decoding: Array(bytes), origin: file)
        let data = context.dataDirectory
        if mkdir(data, 0o700) != 0 && errno != EEXIST {
            throw StoreFailure("cannot create the data directory \(data): \(String(cString: strerror(errno)))")
        }
        let present = ((try? FileManager.default.contentsOfDirectory(atPath: data)) ?? []).filter { $0 != "lost+found" }
        guard present.isEmpty else {
            throw CommandFailure("\(data) is not empty (it holds \(present.sorted().prefix(3).joined(separator: ", "))); "
                + "a backup is restored into an empty data directory")
        }
        // Run as root into the service's directory: the files become the directory owner's.
        var st = stat()
        let owner: (uid: uid_t, gid: gid_t)? = getuid() == 0 && stat(data, &st) == 0 && st.st_uid != 0 ? (st.st_uid, st.st_gid) : nil
        for part in archive.parts where part.kind == .journal || part.kind == .file {
            let path = data + "/" + part.name
            try place(part.bytes, at: path, mode: part.kind == .journal ? 0o640 : 0o600, exclusive: true)
            if let owner { chown(path, owner.uid, owner.gid) }
        }
        let keys = archive.parts.filter { $0.kind == .key }.map { KeyStoreFile(name: $0.name, bytes: $0.bytes) }
        if !keys.isEmpty { try restoreKeys(keys, into: data, owner: owner) }
        var said = "restored \(file) (made \(archive.created)) into \(data)"
        for settings in archive.parts where settings.kind == .settings {
            // Never over settings in place: the operator compares and chooses.
            let target = FileManager.default.fileExists(atPath: settings.name) ? data + "/restored-settings.json" : settings.name
            try place(settings.bytes, at: target, mode: 0o640, exclusive: true)
            said += target == settings.name ? "; the settings to \(target)"
                : "; the settings backed up from \(settings.name) (which exists) to \(target): compare them"
        }
        Output.line(said)
        let result = StoreCheck.run(context)
        guard result.problems.isEmpty else {
            for problem in result.problems { Output.error("problem: \(problem)") }
            throw StoreFailure("the restored store has \(result.problems.count) problem(s)")
        }
    }

    private func check(_ context: Context) throws {
        let result = StoreCheck.run(context)
        for note in result.notes { Output.line("note: \(note)") }
        for problem in result.problems { Output.line("problem: \(problem)") }
        if result.problems.isEmpty {
            Output.line("ok: \(context.dataDirectory): \(result.summary)")
        } else {
            throw CommandFailure("\(context.dataDirectory): \(result.problems.count) problem(s)")
        }
    }

    /// Writes a file atomically (``FileSync/writeAtomically(_:to:mode:exclusive:)``), failing as the store does.
    private func place(_ bytes: [UInt8], at path: String, mode: mode_t, exclusive: Bool = false) throws {
        do { try writeAtomically(bytes, to: path, mode: mode, exclusive: exclusive) } catch { throw StoreFailure(error.message) }
    }

    private func restoreKeys(_ keys: [KeyStoreFile], into data: String, owner: (uid: uid_t, gid: gid_t)?) throws {
        do { try SiteKeyStore(dataDirectory: data).restore(keys, owner: owner) } catch { throw StoreFailure(error.description) }
    }

    private func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }
}

/// `vcbridge store check`: the journal read as the bridge reads it, the keys, the permissions.
enum StoreCheck {
    struct Result {
        var problems: [String] = []
        var notes: [String] = []
        var summary = ""
    }

    static func run(_ context: Context) -> Result {
        let data = context.dataDirectory
        var result = Result()
        var st = stat()
        guard stat(data, &st) == 0 else {
            result.problems.append("cannot read the data directory \(data): \(String(cString: strerror(errno)))")
            return result
        }
        if Int(st.st_mode) & 0o022 != 0 {
            result.problems.append("\(data): others can write into the data directory (mode \(String(Int(st.st_mode) & 0o777, radix: 8))); run: chmod 700 \(data)")
        }
        let journal = ScheduleStore.check(dataDirectory: data, directory: context.directory)
        result.problems += journal.problems
        result.notes += journal.notes
        let journalPath = data + "/" + ScheduleStore.journalName
        if stat(journalPath, &st) == 0, Int(st.st_mode) & 0o002 != 0 {
            result.problems.append("\(journalPath): others can write it; run: chmod 640 \(journalPath)")
        }
        let keyProblems = SiteKeyStore(dataDirectory: data).check { context.directory.site($0) != nil }
        result.problems += keyProblems
        let keyPath = data + "/https-key.pem"
        if stat(keyPath, &st) == 0, Int(st.st_mode) & 0o077 != 0 {
            result.problems.append("\(keyPath): the certificate's private key is open to others; run: chmod 600 \(keyPath)")
        }
        let keys = ((try? SiteKeyStore(dataDirectory: data).files()) ?? []).filter { $0.name.hasSuffix(".key") }.count
        result.summary = "\(journal.records) journal records, \(journal.meetings) meetings, \(keys) site keys"
            + (context.configPath.map { ", settings \($0) valid" } ?? "")
        return result
    }
}
