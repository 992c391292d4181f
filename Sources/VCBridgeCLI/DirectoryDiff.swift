import SiteDirectory

/// `vcbridge sites --diff OLD NEW`: for the secretariat's migration, each unit of the new directory with the old
/// sites it covers (from the new file's `covers` column), and the old sites no new unit covers.
struct DirectoryDiff {
    let old: SiteDirectory
    let new: SiteDirectory
    let oldName: String
    let newName: String

    init(old: String, new: String) throws {
        func load(_ name: String) throws -> SiteDirectory {
            do { return try SiteDirectory.named(name) } catch { throw ValidationError("--diff: \(error.message)") }
        }
        self.old = try load(old)
        self.new = try load(new)
        oldName = old
        newName = new
    }

    struct Covered: Encodable {
        let id: String?
        let code: String
        let name: String?
        let partial: Bool
    }

    struct Unit: Encodable {
        let id, code, name, level: String
        let covers: [Covered]
    }

    struct OldSite: Encodable {
        let id, code, name, level: String
    }

    struct Report: Encodable {
        let old, new: String
        let units: [Unit]
        let uncovered: [OldSite]
    }

    var report: Report {
        var covered = Set<String>()
        // The units of the new directory's lowest level (its communes): the sites that take over the old ones.
        let newBottom = new.sites.map(\.level).max()
        let units = new.sites.filter { $0.level == newBottom }.map { site in
            Unit(id: site.id, code: site.code, name: site.name, level: site.level.description, covers: site.covers.map { c in
                covered.insert(c.code)
                let o = old.site(c.code)
                return Covered(id: o?.id, code: c.code, name: o?.name, partial: c.partial)
            })
        }
        // Old units of the lowest level (communes) that no new unit names; levels above have no covers of their own.
        let bottom = old.sites.map(\.level).max()
        let uncovered = old.sites.filter { $0.level == bottom && !covered.contains($0.code) }
            .map { OldSite(id: $0.id, code: $0.code, name: $0.name, level: $0.level.description) }
        return Report(old: oldName, new: newName, units: units, uncovered: uncovered)
    }

    func print(json: Bool) throws {
        let report = report
        if json { return try printJSON(report) }
        var lines: [String] = []
        for unit in report.units {
            lines.append("\(unit.id)  \(unit.code)  \(unit.name)" + (unit.covers.isEmpty ? "  (covers no \(oldName) site)" : ""))
            for c in unit.covers {
                let what = c.name.map { "\(c.id ?? "?")  \($0)" } ?? "(no \(oldName) site has this code)"
                lines.append("    ← \(c.code)  \(what)\(c.partial ? "  (part of it)" : "")")
            }
        }
        let covering = report.units.filter { !$0.covers.isEmpty }
        let oldCount = Set(covering.flatMap { $0.covers.map(\.code) }).count
        lines.append("")
        lines.append("\(covering.count) of \(report.units.count) units cover \(oldCount) old sites of \(oldName); "
            + "\(report.uncovered.count) old sites are not covered by any new unit (merged before the new directory, or not in its mapping):")
        for o in report.uncovered { lines.append("    \(o.id)  \(o.code)  \(o.name)") }
        Output.line(lines.joined(separator: "\n"))
    }
}
