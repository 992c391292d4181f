import Testing
@testable import Scheduler

@Suite("Scope selectors")
struct ScopeTests {
    func ids(_ selectors: [String], host: String) throws -> Set<String> {
        Set(try Scope.resolve(selectors, host: site(host), in: directory).map(\.id))
    }

    @Test func subtreesLevelsSitesAndExclusions() throws {
        #expect(try ids(["province"], host: "vinh-phuc").count == 146)
        #expect(try ids(["all"], host: "central").count == 147)
        #expect(try ids(["districts"], host: "vinh-phuc") == Set(["vinh-phuc", "vinh-yen", "phuc-yen", "lap-thach", "tam-duong",
                                                                   "tam-dao", "binh-xuyen", "yen-lac", "vinh-tuong", "song-lo"]))
        #expect(try ids(["communes"], host: "vinh-phuc").count == 137)
        #expect(try ids(["district:song-lo"], host: "vinh-phuc").count == 19)
        #expect(try ids(["district:song-lo", "-tam-son"], host: "vinh-phuc").count == 18)
        #expect(try ids(["districts,-district:song-lo"], host: "vinh-phuc").count == 9)
        #expect(try ids(["trung-nhi", "08707"], host: "vinh-phuc") == ["vinh-phuc", "trung-nhi", "tich-son"])
        #expect(try ids(["site:trung-nhi"], host: "phuc-yen") == ["phuc-yen", "trung-nhi"])
    }

    @Test("bad selectors name the fault", arguments: [
        (["tich-son"], "song-lo", "tich-son (Phường Tích Sơn) is not below the host song-lo; a meeting cascades only downward"),
        (["nowhere"], "vinh-phuc", "scope: unknown site 'nowhere'"),
        (["district:trung-nhi"], "vinh-phuc", "scope: trung-nhi is a commune, not a district (use site:trung-nhi)"),
        ([], "vinh-phuc", "the scope is empty: give selectors such as province, districts, communes, district:song-lo or site ids"),
        (["-song-lo"], "song-lo", "the host song-lo cannot be excluded from its own meeting"),
        (["communes", "-communes"], "song-lo", "the scope selects no site besides the host song-lo"),
        (["communes"], "trung-nhi", "a meeting is hosted at the central, province or district level; trung-nhi is a commune"),
    ])
    func badSelectors(selectors: [String], host: String, message: String) {
        do {
            _ = try Scope.resolve(selectors, host: site(host), in: directory)
            Issue.record("accepted \(selectors)")
        } catch {
            #expect(error.description == message)
        }
    }
}
