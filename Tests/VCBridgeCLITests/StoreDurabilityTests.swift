import Foundation
import Testing

/// The booking store from the command line after damage, and its directory entries synced to disk.
@Suite("Booking store durability from the command line")
struct StoreDurabilityTests {
    static let strace = "/usr/bin/strace"

    @Test func aDamagedJournalStillListsTheBookingsBeforeTheDamageAndRefusesChanges() throws {
        let s = Secretariat()
        #expect(try s.book("A", host: "song-lo", scope: "communes", start: "2026-12-01 08:00").status == 0)
        let offsetOfB = s.journalSize
        #expect(try s.book("B", host: "yen-lac", scope: "communes", start: "2026-12-01 08:00").status == 0)
        #expect(try s.book("C", host: "tam-dao", scope: "communes", start: "2026-12-02 08:00").status == 0)
        let path = s.dataDirectory + "/bookings.journal"
        var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[offsetOfB + 12] ^= 0x5A
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let list = try s.run(["meeting", "list", "--json"])
        #expect(list.status == 0, "\(list.stderr)")
        let meetings = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(meetings.map { $0["title"] as? String } == ["A"], "the booking before the damage is still listed")
        #expect(list.stderr.contains("warning: \(path) is damaged at byte \(offsetOfB) (checksum mismatch): the record before it is intact"),
                "\(list.stderr)")

        let refused = try s.book("D", host: "yen-lac", scope: "communes", start: "2026-12-05 08:00")
        #expect(refused.status == 74)
        #expect(refused.stderr.contains("error: \(path) is damaged at byte \(offsetOfB)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("no change is accepted until it is repaired"), "\(refused.stderr)")
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: path))) == bytes, "nothing written")
    }

    @Test func aZeroTailIsRepairedAndSaidSo() throws {
        let s = Secretariat()
        #expect(try s.book("A", host: "song-lo", scope: "communes", start: "2026-12-01 08:00").status == 0)
        let good = s.journalSize
        let path = s.dataDirectory + "/bookings.journal"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data(count: 4096))
        try handle.close()

        let booked = try s.book("B", host: "yen-lac", scope: "communes", start: "2026-12-01 08:00")
        #expect(booked.status == 0, "\(booked.stderr)")
        #expect(booked.stderr.contains("repaired \(path): cut off 4096 zero bytes after byte \(good)"), "\(booked.stderr)")
        let list = try s.run(["meeting", "list", "--json"])
        #expect(list.stderr.isEmpty, "\(list.stderr)")
        let meetings = try #require(try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]])
        #expect(meetings.map { $0["title"] as? String } == ["A", "B"])
    }

    /// The file system calls and syncs `vcbridge arguments` makes, as strace records them (by class,
    /// so rename/renameat and unlink/unlinkat are caught on every architecture).
    func trace(_ s: Secretariat, _ arguments: [String]) throws -> [String] {
        let out = s.dataDirectory + ".strace"
        let p = Process()
        p.executableURL = URL(fileURLWithPath: Self.strace)
        p.arguments = ["-f", "-qq", "-e", "trace=%file,fsync", "-o", out, VCBridgeProcess.executable.path] + arguments
        p.environment = ProcessInfo.processInfo.environment.merging(s.environment) { _, new in new }
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(arguments)")
        return try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// Whether, after the line matching `event`, the directory `directory` is opened and that descriptor synced.
    func directorySynced(_ lines: [String], after event: (String) -> Bool, directory: String) -> Bool {
        guard let start = lines.firstIndex(where: event) else { return false }
        var descriptors: Set<String> = []
        for line in lines[start...] {
            if line.contains("openat(AT_FDCWD, \"\(directory)\", O_RDONLY"), let fd = line.split(separator: "=").last {
                descriptors.insert(fd.trimmingCharacters(in: .whitespaces))
            }
            for fd in descriptors where line.contains("fsync(\(fd))") && line.hasSuffix("= 0") { return true }
        }
        return false
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: strace), "needs strace"))
    func creatingTheJournalAndKeyFilesSyncsTheirDirectories() throws {
        let s = Secretariat()
        let journal = s.dataDirectory + "/bookings.journal"
        let book = try trace(s, ["meeting", "book", "--title", "A", "--host", "song-lo", "--scope", "communes",
                                 "--start", "2026-12-01 08:00", "--duration", "1h"])
        #expect(directorySynced(book, after: { $0.contains("\"\(journal)\"") && $0.contains("O_CREAT") }, directory: s.dataDirectory),
                "the data directory is synced after the journal is created:\n\(book.joined(separator: "\n"))")

        let keys = s.dataDirectory + "/keys"
        let out = s.dataDirectory + "/lang-cong.key"
        let key = try trace(s, ["site", "key", "lang-cong", "--out", out])
        #expect(directorySynced(key, after: { $0.contains("rename") && $0.contains("\"\(keys)/lang-cong.key\"") }, directory: keys),
                "the keys directory is synced after the key file is put in place:\n\(key.joined(separator: "\n"))")
        #expect(directorySynced(key, after: { $0.contains("rename") && $0.contains("\"\(out)\"") }, directory: s.dataDirectory),
                "the directory of the technician's key file is synced after it is put in place")

        let revoke = try trace(s, ["site", "revoke", "lang-cong"])
        #expect(directorySynced(revoke, after: { $0.contains("unlink") && $0.contains("\"\(keys)/lang-cong.key\"") }, directory: keys),
                "the keys directory is synced after a key is removed:\n\(revoke.joined(separator: "\n"))")
    }
}
