import Foundation
import Testing

/// `vcbridge store backup|restore|check` against real data directories, with a running bridge and a
/// secretariat booking meanwhile.
@Suite("store backup and check")
struct StoreBackupTests {
    static func temporaryDirectory(_ tag: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vcb-\(tag)-\(UUID().uuidString)").path
    }

    static func mode(_ path: String) -> Int? {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_mode) & 0o777 : nil
    }

    static func bytes(_ path: String) -> [UInt8]? { FileManager.default.contents(atPath: path).map { Array($0) } }

    @Test func aBackupTakenWhileTheBridgeRunsAndBookingsGoOnRestoresIntoAnEmptyDirectory() throws {
        let bridge = try RunningBridge()
        let data = bridge.dataDirectory
        let config = data + "/config.json"
        let backup = Self.temporaryDirectory("backup") + ".vcbbackup"
        defer { try? FileManager.default.removeItem(atPath: backup) }

        // A secretariat books while the backup is taken: the copy holds whole records only.
        let writer = try bridge.start(["meeting", "book", "--title", "Trong lúc sao lưu", "--host", "lap-thach",
                                       "--scope", "district:lap-thach", "--start", "tomorrow 08:00", "--duration", "1h",
                                       "--repeat", "daily", "--count", "200"])
        let made = try bridge.cli(["store", "backup", backup, "--config", config])
        #expect(bridge.finish(writer).status == 0)
        try #require(made.status == 0, "\(made.stdout)\(made.stderr)")
        #expect(Self.mode(backup) == 0o600, "a backup holds every site's secret: owner-only")

        let restored = Self.temporaryDirectory("restored")
        defer { try? FileManager.default.removeItem(atPath: restored) }
        let restore = try VCBridgeProcess.run(["store", "restore", backup, "--data-dir", restored])
        try #require(restore.status == 0, "\(restore.stdout)\(restore.stderr)")

        // The journal: a prefix of the live one that ends on a record (the writer may have added after the copy).
        let live = try #require(Self.bytes(data + "/bookings.journal"))
        let copy = try #require(Self.bytes(restored + "/bookings.journal"))
        #expect(copy.count > 20 && live.starts(with: copy))
        // The keys: every file as it was, owner-only.
        #expect(Self.mode(restored + "/keys") == 0o700)
        for site in ["song-lo", "lang-cong", "tam-son"] {
            #expect(Self.bytes(restored + "/keys/\(site).key") == Self.bytes(data + "/keys/\(site).key"), "\(site)")
            #expect(Self.mode(restored + "/keys/\(site).key") == 0o600)
        }
        for file in ["https-certificate.pem", "https-key.pem"] where FileManager.default.fileExists(atPath: data + "/" + file) {
            #expect(Self.bytes(restored + "/" + file) == Self.bytes(data + "/" + file), "\(file)")
        }
        // The settings: their own path exists, so they are put beside the data for the operator to compare.
        #expect(Self.bytes(restored + "/restored-settings.json") == Self.bytes(config))
        #expect(restore.stdout.contains("restored-settings.json"))

        // The restored store is sound and shows the meeting the bridge was running.
        let check = try VCBridgeProcess.run(["store", "check", "--data-dir", restored])
        #expect(check.status == 0 && check.stdout.contains("ok: "), "\(check.stdout)\(check.stderr)")
        let list = try VCBridgeProcess.run(["meeting", "list", "--data-dir", restored])
        #expect(list.status == 0 && list.stdout.contains("Kiểm thử cầu nối"), "\(list.stdout)\(list.stderr)")

        // Never over a store: a second restore into the same directory is refused and changes nothing.
        let again = try VCBridgeProcess.run(["store", "restore", backup, "--data-dir", restored])
        #expect(again.status == 1 && again.stderr.contains("is not empty"), "\(again.stderr)")
        #expect(Self.bytes(restored + "/bookings.journal") == copy)

        // A backup changed by one byte is refused as a whole: nothing is written.
        var damaged = try #require(Self.bytes(backup))
        damaged[damaged.count / 2] ^= 0x01
        try Data(damaged).write(to: URL(fileURLWithPath: backup))
        let elsewhere = Self.temporaryDirectory("restored")
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let refused = try VCBridgeProcess.run(["store", "restore", backup, "--data-dir", elsewhere])
        #expect(refused.status == 1 && refused.stderr.contains("SHA-256 does not match"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: elsewhere + "/bookings.journal"))
        _ = bridge.stop()
    }

    @Test func checkNamesEachProblemWithItsFileAndLine() throws {
        let data = Self.temporaryDirectory("check")
        defer { try? FileManager.default.removeItem(atPath: data) }
        let environment = ["VCBRIDGE_DATA_DIR": data, "VCBRIDGE_NOW": "2026-11-30 07:00"]
        func cli(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try VCBridgeProcess.run(arguments, environment: environment)
        }
        for (title, start) in [("Một", "2026-12-01 08:00"), ("Hai", "2026-12-02 08:00")] {
            let booked = try cli(["meeting", "book", "--title", title, "--host", "song-lo", "--scope", "lang-cong", "--start", start, "--duration", "1h"])
            try #require(booked.status == 0, "\(booked.stderr)")
        }
        for site in ["song-lo", "lang-cong", "tam-son"] {
            try #require(try cli(["site", "key", site, "--out", "/dev/null"]).status == 0)
        }
        let sound = try cli(["store", "check"])
        #expect(sound.status == 0, "\(sound.stdout)\(sound.stderr)")
        #expect(sound.stdout.contains("ok: \(data): 2 journal records, 2 meetings, 3 site keys"), "\(sound.stdout)")

        // A key others can read, a key whose secret was cut, a stray file, a flipped byte in the first record.
        chmod(data + "/keys/song-lo.key", 0o644)
        let langCong = data + "/keys/lang-cong.key"
        var lines = try String(contentsOfFile: langCong, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines[3].hasPrefix("secret="))
        lines[3] = lines[3].dropLast(2)
        try lines.joined(separator: "\n").write(toFile: langCong, atomically: false, encoding: .utf8)
        try "notes".write(toFile: data + "/keys/notes.txt", atomically: false, encoding: .utf8)
        chmod(data + "/keys/notes.txt", 0o600)
        let journalPath = data + "/bookings.journal"
        var journal = try #require(Self.bytes(journalPath))
        journal[40] ^= 0xFF
        try Data(journal).write(to: URL(fileURLWithPath: journalPath))

        let found = try cli(["store", "check"])
        #expect(found.status == 1, "\(found.stdout)\(found.stderr)")
        let problems = found.stdout.split(separator: "\n").filter { $0.hasPrefix("problem: ") }
        #expect(problems.count == 4, "\(found.stdout)")
        #expect(found.stdout.contains("problem: key file \(data)/keys/song-lo.key is readable by others (mode 0644); run: chmod 600 \(data)/keys/song-lo.key"))
        #expect(found.stdout.contains("problem: \(langCong) line 4: secret= must be 64 hexadecimal digits"))
        #expect(found.stdout.contains("problem: \(data)/keys/notes.txt: not a key file"))
        #expect(found.stdout.contains("problem: \(journalPath) is damaged at byte 20 (checksum mismatch)"), "\(found.stdout)")
        #expect(found.stderr.contains("4 problem(s)"))
        // A check changes nothing.
        #expect(Self.bytes(journalPath) == journal)
        #expect(Self.mode(data + "/keys/song-lo.key") == 0o644)
    }
}
