import Foundation
import Testing

/// The site directory chosen in the settings, and `vcbridge sites --diff` for the secretariat's migration.
@Suite("site directory files on the command line")
struct DirectoryCLITests {
    static func dataDirectory() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vcb-dir-\(UUID().uuidString)").path
    }

    @Test func sitesDiffShowsWhichOldSitesEachNewUnitCovers() throws {
        let diff = try VCBridgeProcess.run(["sites", "--diff", "vinhphuc-2024", "phutho-2025"])
        #expect(diff.status == 0, "\(diff.stderr)")
        let lines = diff.stdout.split(separator: "\n").map(String.init)
        // Phường Vĩnh Yên (08707) takes over Tích Sơn, Hội Hợp, Đồng Tâm and Xã Thanh Trù, among others.
        let vinhYen = try #require(lines.firstIndex { $0.contains("Phường Vĩnh Yên") && $0.contains("08707") })
        let covered = lines[(vinhYen + 1)...].prefix { $0.hasPrefix(" ") }
        #expect(covered.contains { $0.contains("tich-son") && $0.contains("Phường Tích Sơn") })
        #expect(covered.contains { $0.contains("08731") && $0.contains("Xã Thanh Trù") })
        // Every old commune-level site is either covered or named as not in the mapping.
        #expect(diff.stdout.contains("36 of 148 units cover 121 old sites"), "\(diff.stdout.suffix(600))")
        #expect(diff.stdout.contains("not covered by any new unit"))
        let json = try VCBridgeProcess.run(["sites", "--diff", "vinhphuc-2024", "phutho-2025", "--json"])
        let parsed = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as! [String: Any]
        let units = parsed["units"] as! [[String: Any]]
        #expect(units.count == 148)
        let entry = try #require(units.first { $0["code"] as? String == "08707" })
        #expect((entry["covers"] as? [[String: Any]])?.contains { $0["id"] as? String == "tich-son" && $0["partial"] as? Bool == false } == true)
        #expect((parsed["uncovered"] as? [[String: Any]])?.isEmpty == false)
    }

    @Test func theSettingsChooseThe2025DirectoryAndBookingsCascadeFromIt() throws {
        let data = Self.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        try FileManager.default.createDirectory(atPath: data, withIntermediateDirectories: true)
        let config = data + "/config.json"
        try #"{"sites": {"directory": "phutho-2025"}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let environment = ["VCBRIDGE_DATA_DIR": data, "VCBRIDGE_CONFIG": config, "VCBRIDGE_NOW": "2026-11-30 07:00"]
        let sites = try VCBridgeProcess.run(["sites", "--json"], environment: environment)
        #expect(sites.status == 0, "\(sites.stderr)")
        let list = try JSONSerialization.jsonObject(with: Data(sites.stdout.utf8)) as! [[String: Any]]
        #expect(list.count == 150)
        // Three levels: the province hosts, its 148 units are one step below, priority from the levels.
        let booked = try VCBridgeProcess.run(["meeting", "book", "--title", "Giao ban tỉnh mới", "--host", "phu-tho", "--scope", "communes",
                                              "--start", "2026-12-01 08:00", "--duration", "1h"], environment: environment)
        #expect(booked.status == 0 && booked.stdout.contains("149 sites"), "\(booked.stdout)\(booked.stderr)")
        let show = try VCBridgeProcess.run(["meeting", "show", "1", "--json"], environment: environment)
        #expect(show.status == 0, "\(show.stderr)")
        #expect(show.stdout.contains("Phường Vĩnh Yên"))
        // Without the setting the shipped 2024 directory is in force: that store's site codes are not its own.
        let unknown = try VCBridgeProcess.run(["sites", "p-phu-tho"], environment: ["VCBRIDGE_DATA_DIR": data])
        #expect(unknown.status == 64 && unknown.stderr.contains("unknown site 'p-phu-tho'"), "\(unknown.stderr)")
        let bad = try VCBridgeProcess.run(["sites"], environment: ["VCBRIDGE_CONFIG": data + "/bad.json"].merging(
            ["VCBRIDGE_DATA_DIR": data]) { a, _ in a })
        #expect(bad.status != 0)
        try #"{"sites": {"directory": "/nonexistent/sites.tsv"}}"#.write(toFile: data + "/bad.json", atomically: true, encoding: .utf8)
        let missing = try VCBridgeProcess.run(["sites"], environment: ["VCBRIDGE_CONFIG": data + "/bad.json", "VCBRIDGE_DATA_DIR": data])
        #expect(missing.status == 1 && missing.stderr.contains("/nonexistent/sites.tsv"), "\(missing.stderr)")
    }
}

/// A store remembers the site directory its bookings were made with: their site codes mean other sites in another one.
@Suite("a store and its site directory")
struct StoreDirectoryTests {
    @Test func aStoreBookedWithOneDirectoryIsRefusedUnderAnotherNamingBoth() throws {
        let data = DirectoryCLITests.dataDirectory()
        defer { try? FileManager.default.removeItem(atPath: data) }
        let base = ["VCBRIDGE_DATA_DIR": data, "VCBRIDGE_NOW": "2026-11-30 07:00"]
        let booked = try VCBridgeProcess.run(["meeting", "book", "--title", "Giao ban", "--host", "vinh-yen", "--scope", "tich-son",
                                              "--start", "2026-12-01 08:00", "--duration", "1h"], environment: base)
        try #require(booked.status == 0, "\(booked.stderr)")
        let config = data + "/phutho.json"
        try #"{"sites": {"directory": "phutho-2025"}}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let journal = FileManager.default.contents(atPath: data + "/bookings.journal")
        // 08707 is Phường Tích Sơn in 2024 and Phường Vĩnh Yên in 2025: read under 2025, the booking would change its sites.
        let refused = try VCBridgeProcess.run(["meeting", "list"], environment: base.merging(["VCBRIDGE_CONFIG": config]) { _, b in b })
        #expect(refused.status == 74, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("booked with the site directory vinhphuc-2024") && refused.stderr.contains("phutho-2025"), "\(refused.stderr)")
        #expect(FileManager.default.contents(atPath: data + "/bookings.journal") == journal)
        let checked = try VCBridgeProcess.run(["store", "check"], environment: base.merging(["VCBRIDGE_CONFIG": config]) { _, b in b })
        #expect(checked.status == 1 && checked.stdout.contains("problem: ") && checked.stdout.contains("site directory vinhphuc-2024"),
                "\(checked.stdout)\(checked.stderr)")
        // Under its own directory it is read as before.
        let listed = try VCBridgeProcess.run(["meeting", "list"], environment: base)
        #expect(listed.status == 0 && listed.stdout.contains("Giao ban"), "\(listed.stderr)")
    }
}
