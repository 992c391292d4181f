import Testing
@testable import SiteDirectory

@Suite("Site directory")
struct SiteDirectoryTests {
    let directory = SiteDirectory.embedded

    @Test func all147SitesWithTheirLevels() {
        #expect(directory.count == 147)
        #expect(directory.sites.filter { $0.level == .central }.count == 1)
        #expect(directory.sites.filter { $0.level == .province }.count == 1)
        #expect(directory.sites.filter { $0.level == .district }.count == 9)
        #expect(directory.sites.filter { $0.level == .commune }.count == 136)
        #expect(Set(directory.sites.map(\.id)).count == 147)
        #expect(directory.sites.allSatisfy { $0.id.allSatisfy(\.isASCII) })
    }

    @Test func namesKeepTheirDiacriticsAndCodesTheirZeros() throws {
        let site = try #require(directory.site("08740"))
        #expect(site.name == "Phường Trưng Nhị")
        #expect(site.id == "trung-nhi")
        #expect(site.code == "08740")
        #expect(directory.site("trung-nhi") == site)
        #expect(directory.site("8740") == nil)
        #expect(directory.parent(of: site)?.id == "phuc-yen")
        #expect(directory.ancestry(of: site).map(\.id) == ["central", "vinh-phuc", "phuc-yen", "trung-nhi"])
        #expect(directory.district(of: site)?.name == "Thành phố Phúc Yên")
        #expect(directory.group(of: site) == directory.district(of: site))
    }

    @Test func searchWithOrWithoutDiacritics() {
        #expect(directory.search("trung nhi").map(\.id) == ["trung-nhi"])
        #expect(directory.search("Trưng Nhị").map(\.id) == ["trung-nhi"])
        #expect(directory.search("TRUNG NHI").map(\.id) == ["trung-nhi"])
        // Both Xuân Hoà (old tone placement) and Xuân Hòa are found.
        #expect(Set(directory.search("xuan hoa").map(\.id)) == ["xuan-hoa-phuc-yen", "xuan-hoa-lap-thach"])
        // An exact id comes first: the district before the town of the same name.
        #expect(directory.search("yen-lac").first?.id == "yen-lac")
        #expect(directory.search("yen lac").contains { $0.id == "tt-yen-lac" })
        #expect(directory.search("253").first?.id == "song-lo")
        #expect(directory.search("nowhere at all").isEmpty)
        #expect(directory.search("").isEmpty)
    }

    @Test func foldingHandlesVietnamese() {
        #expect(TextFolding.fold("Thị trấn Tam Sơn") == "thi tran tam son")
        #expect(TextFolding.fold("ĐẠO TRÙ") == "dao tru")
        #expect(TextFolding.slug("  Phường  Xuân Hoà ") == "phuong-xuan-hoa")
    }

    @Test func subtreesFollowTheTree() throws {
        let songLo = try #require(directory.site("song-lo"))
        let subtree = directory.subtree(of: songLo)
        #expect(subtree.count == 18)  // the district and its 17 units
        #expect(subtree.first == songLo)
        #expect(subtree.dropFirst().allSatisfy { $0.level == .commune && $0.parentIndex == songLo.index })
        #expect(directory.subtree(of: directory.central).count == 147)
        let province = try #require(directory.site("vinh-phuc"))
        #expect(directory.children(of: province).count == 9)
        #expect(directory.isWithin(subtree[3], subtreeOf: province))
        #expect(!directory.isWithin(province, subtreeOf: songLo))
    }

    @Test func unknownSiteSuggestsWhatWasMeant() {
        #expect(throws: DirectoryError.self) { try directory.resolve("trung-nhii") }
        do {
            _ = try directory.resolve("song lo")
        } catch {
            #expect(error.description == "unknown site 'song lo' (did you mean song-lo?)")
        }
    }

    @Test("a bad directory file names the line and the fault", arguments: [
        ("id\tcode\tlevel\ttype\tparent\tname\ncentral\tTW\tcentral\tx\t\tTrung ương\nbad id\t1\tprovince\tx\tcentral\tX\n",
         "sites line 3: id 'bad id' must be lower-case ASCII letters, digits and '-'"),
        ("id\tcode\n", "sites line 1: expected the header 'id code level type parent name' (and optionally 'covers')"),
        ("id\tcode\tlevel\ttype\tparent\tname\ncentral\tTW\tcentral\tx\t\tT\np\t26\tprovince\tx\tnobody\tP\n",
         "sites line 3: parent 'nobody' must be listed before 'p'"),
        ("id\tcode\tlevel\ttype\tparent\tname\ncentral\tTW\tcentral\tx\t\tT\np\t26\tcounty\tx\tcentral\tP\n",
         "sites line 3: unknown level 'county'"),
        // A level may be skipped (communes under the province, as in Phú Thọ from 2025), never reversed.
        ("id\tcode\tlevel\ttype\tparent\tname\ncentral\tTW\tcentral\tx\t\tT\nc\t08740\tcommune\tx\tcentral\tC\nd\t250\tdistrict\tx\tc\tD\n",
         "sites line 4: a district must have a parent of a higher level; c is a commune"),
        ("id\tcode\tlevel\ttype\tparent\tname\ncentral\tTW\tcentral\tx\t\tT\np\tTW\tprovince\tx\tcentral\tP\n",
         "sites line 3: duplicate code 'TW'"),
    ])
    func badFiles(text: String, message: String) {
        #expect(throws: DirectoryError(message)) { try SiteDirectory(tsv: text) }
    }
}
