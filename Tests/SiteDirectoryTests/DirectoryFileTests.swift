import Testing
@testable import SiteDirectory

/// The site directory as data: a file of two, three or four levels, and the shipped 2025 Phú Thọ directory.
@Suite("directory files")
struct DirectoryFileTests {
    @Test func thePhuTho2025DirectoryHasItsProvinceAnd148UnitsWithNoDistrictLevel() throws {
        let directory = try SiteDirectory.named("phutho-2025")
        #expect(directory.count == 150)
        #expect(directory.central.level == .central)
        let province = try #require(directory.site("phu-tho"))
        #expect(province.code == "25" && province.level == .province && province.name == "Tỉnh Phú Thọ")
        let units = directory.sites.filter { $0.level == .commune }
        #expect(units.count == 148)
        #expect(units.allSatisfy { directory.parent(of: $0)?.index == province.index }, "communes directly under the province")
        #expect(!directory.sites.contains { $0.level == .district })
        #expect(units.filter { $0.type == "Phường" }.count == 15 && units.filter { $0.type == "Xã" }.count == 133)
        // A ward named like the province keeps a distinct id.
        #expect(directory.site("p-phu-tho")?.name == "Phường Phú Thọ")
        // The 2024 units a 2025 unit takes over, from the mapping.
        let vinhYen = try #require(directory.site("08707"))
        #expect(vinhYen.name == "Phường Vĩnh Yên")
        #expect(vinhYen.covers.map(\.code).contains("08713") && vinhYen.covers.contains { $0.code == "08707" && !$0.partial })
        #expect(directory.sites.reduce(0) { $0 + $1.covers.count } == 121)
        #expect(directory.ancestry(of: vinhYen).map(\.id) == ["central", "phu-tho", vinhYen.id])
        // Technicians see a unit under its province (no district to group it by); the province itself under none.
        #expect(directory.district(of: vinhYen) == nil && directory.group(of: vinhYen)?.id == "phu-tho")
        #expect(directory.group(of: province) == nil && directory.group(of: directory.central) == nil)
    }

    @Test func theShippedDefaultIsStillThe2024VinhPhucDirectory() throws {
        let directory = try SiteDirectory.named("vinhphuc-2024")
        #expect(directory.count == 147)
        #expect(directory.sites.filter { $0.level == .district }.count == 9)
        #expect(directory.sites.allSatisfy { $0.covers.isEmpty })
    }

    static let header = "id\tcode\tlevel\ttype\tparent\tname\n"

    @Test func twoLevelsProvinceAndCommunes() throws {
        let directory = try SiteDirectory(tsv: Self.header + """
            tinh\t25\tprovince\tTỉnh\t\tTỉnh Thử
            xa-mot\t00001\tcommune\tXã\ttinh\tXã Một
            xa-hai\t00002\tcommune\tXã\ttinh\tXã Hai

            """)
        #expect(directory.count == 3 && directory.central.id == "tinh")
        #expect(directory.subtree(of: directory.central).map(\.id) == ["tinh", "xa-mot", "xa-hai"])
        #expect(directory.ancestry(of: directory.site("xa-hai")!).map(\.id) == ["tinh", "xa-hai"])
    }

    @Test func fourLevelsAsBefore() throws {
        let directory = try SiteDirectory(tsv: Self.header + """
            central\tTW\tcentral\tTrung ương\t\tTrung ương
            tinh\t25\tprovince\tTỉnh\tcentral\tTỉnh Thử
            huyen\t250\tdistrict\tHuyện\ttinh\tHuyện Thử
            xa\t00001\tcommune\tXã\thuyen\tXã Thử

            """)
        #expect(directory.ancestry(of: directory.site("xa")!).map(\.level) == [.central, .province, .district, .commune])
    }

    @Test(arguments: [
        ("tinh\t25\tprovince\tTỉnh\t\tA\nxa\t1\tcommune\tXã\ttinh\tB\nxb\t2\tcommune\tXã\txa\tC\n",
         "sites line 4: a commune must have a parent of a higher level; xa is a commune"),
        ("tinh\t25\tprovince\tTỉnh\t\tA\nhai\t26\tprovince\tTỉnh\t\tB\n",
         "sites line 3: only the first site has no parent (hai names none)"),
        ("xa\t1\tcommune\tXã\t\tA\n", "sites: the first site, xa, is a commune; the top of a directory is the central, province or district level"),
        ("tinh\t25\tprovince\tTỉnh\t\tA\t\nxa\t1\tcommune\tXã\ttinh\tB\t08707/whole\n",
         "sites line 3: covers '08707/whole': each entry is an official code, optionally with /partial"),
    ])
    func aFileThatCannotBeADirectoryIsRefusedNamingTheLine(text: String, message: String) throws {
        let header = text.contains("08707") ? "id\tcode\tlevel\ttype\tparent\tname\tcovers\n" : Self.header
        #expect(throws: DirectoryError(message)) { try SiteDirectory(tsv: header + text) }
    }

    @Test func anUnknownDirectoryNameOrMissingFileIsNamed() throws {
        #expect(throws: DirectoryError("site directory 'phutho-2026' is neither a shipped directory (vinhphuc-2024, phutho-2025) nor a readable file")) {
            try SiteDirectory.named("phutho-2026")
        }
    }
}
