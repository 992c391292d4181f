import SiteDirectory

/// Resolves scope selectors into the set of sites a meeting reaches.
///
/// Selectors (comma-separated, any number): `all` (everything below the host), `province`,
/// `district:ID` (that district and its communes), `districts` / `communes` (every site of that
/// level below the host), a site id or code (`site:ID` also works); a leading `-` excludes
/// (`-ID`, `-district:ID`). The host always takes part.
public enum Scope {
    public static func resolve(_ selectors: [String], host: Site, in directory: SiteDirectory) throws(SchedulingError) -> [Site] {
        guard host.level < .commune else {
            throw .invalid("a meeting is hosted at the central, province or district level; \(host.id) is a \(host.level)")
        }
        let below = directory.subtree(of: host)
        var chosen = Set<Int>()
        var excluded = Set<Int>()
        let tokens = Self.tokens(selectors)
        guard !tokens.isEmpty else { throw .invalid("the scope is empty: give selectors such as province, districts, communes, district:song-lo or site ids") }
        for token in tokens {
            let exclude = token.hasPrefix("-")
            let body = exclude ? String(token.dropFirst()) : token
            let sites = try select(body, host: host, below: below, in: directory)
            if exclude {
                excluded.formUnion(sites.map(\.index))
            } else {
                chosen.formUnion(sites.map(\.index))
            }
        }
        if excluded.contains(host.index) { throw .invalid("the host \(host.id) cannot be excluded from its own meeting") }
        chosen.subtract(excluded)
        chosen.insert(host.index)
        guard chosen.count > 1 else { throw .invalid("the scope selects no site besides the host \(host.id)") }
        return below.filter { chosen.contains($0.index) }
    }

    /// The sites the selectors name anywhere in the network (no host: for `meeting free`).
    public static func sites(_ selectors: [String], in directory: SiteDirectory) throws(SchedulingError) -> [Site] {
        let top = directory.central
        let below = directory.subtree(of: top)
        var chosen = Set<Int>()
        let tokens = Self.tokens(selectors)
        for token in tokens {
            let exclude = token.hasPrefix("-")
            let sites = try select(exclude ? String(token.dropFirst()) : token, host: top, below: below, in: directory)
            if exclude { chosen.subtract(sites.map(\.index)) } else { chosen.formUnion(sites.map(\.index)) }
        }
        guard !chosen.isEmpty else { throw .invalid("no site selected") }
        return below.filter { chosen.contains($0.index) }
    }

    /// The selectors, split at commas, trimmed, empty ones dropped.
    private static func tokens(_ selectors: [String]) -> [String] {
        selectors.flatMap { $0.split(separator: ",") }.map { String($0).trimmingCharacters() }.filter { !$0.isEmpty }
    }

    private static func select(_ selector: String, host: Site, below: [Site], in directory: SiteDirectory) throws(SchedulingError) -> [Site] {
        let lowered = selector.lowercased()
        func within(_ site: Site) throws(SchedulingError) -> Site {
            guard directory.isWithin(site, subtreeOf: host) else {
                throw .invalid("\(site.id) (\(site.name)) is not below the host \(host.id); a meeting cascades only downward")
            }
            return site
        }
        func resolve(_ reference: String) throws(SchedulingError) -> Site {
            do {
                return try directory.resolve(reference)
            } catch {
                throw .invalid("scope: \(error.message)")
            }
        }
        switch lowered {
        case "all": return below
        case "districts": return below.filter { $0.level == .district }
        case "communes": return below.filter { $0.level == .commune }
        case "province":
            let province = try within(directory.sites.first { $0.level == .province }!)
            return directory.subtree(of: province)
        default:
            break
        }
        if lowered.hasPrefix("district:") {
            let site = try resolve(String(selector.dropFirst("district:".count)))
            guard site.level == .district else {
                throw .invalid("scope: \(site.id) is a \(site.level), not a district (use site:\(site.id))")
            }
            return directory.subtree(of: try within(site))
        }
        let reference = lowered.hasPrefix("site:") ? String(selector.dropFirst("site:".count)) : selector
        return [try within(resolve(reference))]
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
