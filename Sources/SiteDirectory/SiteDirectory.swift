import EmbeddedConfig

/// Why a site directory file or a site reference was rejected.
public struct DirectoryError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The sites of the network as a tree: central → province → districts → communes.
public struct SiteDirectory: Sendable {
    public static let maximumSites = 256

    public let sites: [Site]
    private let byID: [String: Int]
    private let byCode: [String: Int]
    private let byNumericCode: [UInt32: Int]
    private let foldedNames: [String]
    /// Child indices of each site, in directory order.
    private let children: [[Int]]

    /// The directory compiled into the binary (Config/sites.tsv).
    public static let embedded: SiteDirectory = {
        do {
            return try SiteDirectory(tsv: String(decoding: EmbeddedConfig.sitesTSV, as: UTF8.self))
        } catch {
            fatalError("the embedded Config/sites.tsv is invalid: \(error)")
        }
    }()

    /// Parses a directory in the Config/sites.tsv format (`id code level type parent name`,
    /// tab-separated, `#` comments, one header line).
    /// - Throws: ``DirectoryError`` naming the line and what is wrong.
    public init(tsv: String) throws(DirectoryError) {
        var sites: [Site] = []
        var byID: [String: Int] = [:]
        var byCode: [String: Int] = [:]
        var byNumericCode: [UInt32: Int] = [:]
        var sawHeader = false
        for (offset, rawLine) in tsv.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let number = offset + 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if !sawHeader {
                guard fields == ["id", "code", "level", "type", "parent", "name"] else {
                    throw DirectoryError("sites line \(number): expected the header 'id code level type parent name'")
                }
                sawHeader = true
                continue
            }
            guard fields.count == 6 else {
                throw DirectoryError("sites line \(number): expected 6 tab-separated fields, found \(fields.count)")
            }
            let (id, code, levelName, type, parent, name) = (fields[0], fields[1], fields[2], fields[3], fields[4], fields[5])
            guard !id.isEmpty, id.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
                throw DirectoryError("sites line \(number): id '\(id)' must be lower-case ASCII letters, digits and '-'")
            }
            guard let level = SiteLevel(name: levelName) else {
                throw DirectoryError("sites line \(number): unknown level '\(levelName)'")
            }
            guard byID[id] == nil else { throw DirectoryError("sites line \(number): duplicate id '\(id)'") }
            guard byCode[code] == nil else { throw DirectoryError("sites line \(number): duplicate code '\(code)'") }
            let numeric: UInt32
            if code == "TW" {
                numeric = 0
            } else if let n = UInt32(code), n > 0 {
                numeric = n
            } else {
                throw DirectoryError("sites line \(number): code '\(code)' must be a positive number or TW")
            }
            var parentIndex: Int? = nil
            if level == .central {
                guard parent.isEmpty else { throw DirectoryError("sites line \(number): the central level has no parent") }
            } else {
                guard let p = byID[parent] else {
                    throw DirectoryError("sites line \(number): parent '\(parent)' must be listed before '\(id)'")
                }
                guard sites[p].level.rawValue == level.rawValue - 1 else {
                    throw DirectoryError("sites line \(number): a \(level) must have a \(SiteLevel(rawValue: level.rawValue - 1)!) parent")
                }
                parentIndex = p
            }
            guard sites.count < Self.maximumSites else {
                throw DirectoryError("sites line \(number): more than \(Self.maximumSites) sites")
            }
            let site = Site(index: sites.count, id: id, code: code, level: level, type: type, name: name,
                            parentIndex: parentIndex, numericCode: numeric)
            byID[id] = site.index
            byCode[code] = site.index
            byNumericCode[numeric] = site.index
            sites.append(site)
        }
        guard sites.first?.level == .central, sites.filter({ $0.level == .central }).count == 1 else {
            throw DirectoryError("sites: the directory must start with exactly one central site")
        }
        var children = [[Int]](repeating: [], count: sites.count)
        for site in sites { if let p = site.parentIndex { children[p].append(site.index) } }
        self.sites = sites
        self.byID = byID
        self.byCode = byCode
        self.byNumericCode = byNumericCode
        self.children = children
        foldedNames = sites.map { TextFolding.fold($0.name) }
    }

    public var count: Int { sites.count }
    public var central: Site { sites[0] }
    public subscript(index: Int) -> Site { sites[index] }

    /// A site by id or official code (leading zeros required: "08740").
    public func site(_ reference: String) -> Site? {
        if let i = byID[reference.lowercased()] ?? byCode[reference.uppercased()] { return sites[i] }
        return nil
    }

    /// A site by id or code, or an error that suggests what was meant.
    public func resolve(_ reference: String) throws(DirectoryError) -> Site {
        if let site = site(reference) { return site }
        let suggestions = search(reference).prefix(3).map(\.id)
        let hint = suggestions.isEmpty ? "" : " (did you mean \(suggestions.joined(separator: ", "))?)"
        throw DirectoryError("unknown site '\(reference)'\(hint)")
    }

    /// The site stored under an official numeric code in booking records.
    public func site(numericCode: UInt32) -> Site? { byNumericCode[numericCode].map { sites[$0] } }

    public func parent(of site: Site) -> Site? { site.parentIndex.map { sites[$0] } }

    public func children(of site: Site) -> [Site] { children[site.index].map { sites[$0] } }

    /// The site and every site below it, in directory order (depth first).
    public func subtree(of site: Site) -> [Site] {
        var result = [site]
        for child in children[site.index] { result += subtree(of: sites[child]) }
        return result
    }

    /// Whether `site` is `ancestor` or below it.
    public func isWithin(_ site: Site, subtreeOf ancestor: Site) -> Bool {
        var current: Site? = site
        while let c = current {
            if c.index == ancestor.index { return true }
            current = parent(of: c)
        }
        return false
    }

    /// The chain from the top (central) down to `site`, inclusive.
    public func ancestry(of site: Site) -> [Site] {
        var chain: [Site] = []
        var current: Site? = site
        while let c = current {
            chain.append(c)
            current = parent(of: c)
        }
        return chain.reversed()
    }

    /// The district a site belongs to (itself for a district; nil above district level).
    public func district(of site: Site) -> Site? {
        ancestry(of: site).first { $0.level == .district }
    }

    /// Sites matching a query by id, code or name, with or without diacritics
    /// ("trung nhi" finds Phường Trưng Nhị). Exact id/code matches come first.
    public func search(_ query: String) -> [Site] {
        let folded = TextFolding.fold(query)
        guard !folded.isEmpty else { return [] }
        let words = folded.split(separator: " ")
        var exact: [Site] = []
        var partial: [Site] = []
        for site in sites {
            if site.id == query.lowercased() || site.code == query || site.id == TextFolding.slug(query) {
                exact.append(site)
            } else if words.allSatisfy({ foldedNames[site.index].contains($0) || site.id.contains($0) })
                        || site.code.hasPrefix(query) {
                partial.append(site)
            }
        }
        return exact + partial
    }
}
