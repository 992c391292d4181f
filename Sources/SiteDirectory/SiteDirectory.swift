import EmbeddedConfig
import Foundation

/// Why a site directory file or a site reference was rejected.
public struct DirectoryError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The sites of the network as a tree from a directory file: central → province → districts → communes, or
/// fewer levels (a province and its communes; central, province and communes), each site's parent of a higher
/// level. Levels decide priority (a higher level outranks a lower) and cascade follows the parents.
public struct SiteDirectory: Sendable {
    public static let maximumSites = 256

    public let sites: [Site]
    /// Which directory this is, as the settings name it (`vinhphuc-2024`, `phutho-2025`, `file:PATH`); nil for one
    /// parsed from text directly. A store remembers the identity its bookings were made with.
    public internal(set) var identity: String? = nil
    private let byID: [String: Int]
    private let byCode: [String: Int]
    private let byNumericCode: [UInt32: Int]
    private let foldedNames: [String]
    /// Child indices of each site, in directory order.
    private let children: [[Int]]

    /// The directory compiled into the binary (Config/sites.tsv).
    public static let embedded: SiteDirectory = {
        do {
            var directory = try SiteDirectory(tsv: String(decoding: EmbeddedConfig.sitesTSV, as: UTF8.self))
            directory.identity = "vinhphuc-2024"
            return directory
        } catch {
            fatalError("the embedded Config/sites.tsv is invalid: \(error)")
        }
    }()

    /// The directories shipped in the binary, by the name the settings' `sites.directory` gives.
    public static let shippedNames = ["vinhphuc-2024", "phutho-2025"]

    /// Phú Thọ province from 1 July 2025 (Config/sites-phutho-2025.tsv): 148 units, no district level.
    public static let phuTho2025: SiteDirectory = {
        do {
            var directory = try SiteDirectory(tsv: String(decoding: EmbeddedConfig.phuTho2025SitesTSV, as: UTF8.self))
            directory.identity = "phutho-2025"
            return directory
        } catch {
            fatalError("the embedded Config/sites-phutho-2025.tsv is invalid: \(error)")
        }
    }()

    /// A shipped directory by name (`vinhphuc-2024`, the default, or `phutho-2025`), else the directory file at that path.
    /// - Throws: ``DirectoryError`` naming the file and line at fault, or the name that is neither.
    public static func named(_ name: String) throws(DirectoryError) -> SiteDirectory {
        switch name {
        case "vinhphuc-2024": return embedded
        case "phutho-2025": return phuTho2025
        default:
            guard name.contains("/"), let bytes = FileManager.default.contents(atPath: name) else {
                throw DirectoryError("site directory '\(name)' is neither a shipped directory (\(shippedNames.joined(separator: ", "))) nor a readable file")
            }
            guard let text = String(data: bytes, encoding: .utf8) else { throw DirectoryError("\(name): not UTF-8 text") }
            do {
                var directory = try SiteDirectory(tsv: text)
                directory.identity = "file:" + name
                return directory
            } catch {
                throw DirectoryError("\(name): \(error.message)")
            }
        }
    }

    /// Parses a directory in the Config/sites.tsv format (`id code level type parent name`, and optionally
    /// `covers`: the codes of an earlier directory's units a site takes over, comma-separated, `/partial` when
    /// only part; tab-separated, `#` comments, one header line). The first site is the top (no parent); every
    /// other names a parent listed before it, of a higher level.
    /// - Throws: ``DirectoryError`` naming the line and what is wrong.
    public init(tsv: String) throws(DirectoryError) {
        var sites: [Site] = []
        var byID: [String: Int] = [:]
        var byCode: [String: Int] = [:]
        var byNumericCode: [UInt32: Int] = [:]
        var sawHeader = false
        var hasCovers = false
        for (offset, rawLine) in tsv.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.hasSuffix("\r") ? rawLine.dropLast() : rawLine
            let number = offset + 1
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            if !sawHeader {
                let base = ["id", "code", "level", "type", "parent", "name"]
                guard fields == base || fields == base + ["covers"] else {
                    throw DirectoryError("sites line \(number): expected the header 'id code level type parent name' (and optionally 'covers')")
                }
                hasCovers = fields.count == 7
                sawHeader = true
                continue
            }
            let expected = hasCovers ? 7 : 6
            guard fields.count == expected else {
                throw DirectoryError("sites line \(number): expected \(expected) tab-separated fields, found \(fields.count)")
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
            if sites.isEmpty {
                guard parent.isEmpty else { throw DirectoryError("sites line \(number): the first site is the top: it has no parent") }
                guard level < .commune else {
                    throw DirectoryError("sites: the first site, \(id), is a commune; the top of a directory is the central, province or district level")
                }
            } else {
                guard !parent.isEmpty else { throw DirectoryError("sites line \(number): only the first site has no parent (\(id) names none)") }
                guard let p = byID[parent] else {
                    throw DirectoryError("sites line \(number): parent '\(parent)' must be listed before '\(id)'")
                }
                guard sites[p].level < level else {
                    throw DirectoryError("sites line \(number): a \(level) must have a parent of a higher level; \(parent) is a \(sites[p].level)")
                }
                parentIndex = p
            }
            var covers: [Site.Coverage] = []
            if hasCovers, !fields[6].isEmpty {
                for entry in fields[6].split(separator: ",", omittingEmptySubsequences: false) {
                    let parts = entry.split(separator: "/", omittingEmptySubsequences: false)
                    guard let first = parts.first, !first.isEmpty, first.allSatisfy(\.isNumber), first.count <= 10,
                          parts.count == 1 || (parts.count == 2 && parts[1] == "partial") else {
                        throw DirectoryError("sites line \(number): covers '\(entry)': each entry is an official code, optionally with /partial")
                    }
                    covers.append(Site.Coverage(code: String(first), partial: parts.count == 2))
                }
            }
            guard sites.count < Self.maximumSites else {
                throw DirectoryError("sites line \(number): more than \(Self.maximumSites) sites")
            }
            let site = Site(index: sites.count, id: id, code: code, level: level, type: type, name: name,
                            parentIndex: parentIndex, numericCode: numeric, covers: covers)
            byID[id] = site.index
            byCode[code] = site.index
            byNumericCode[numeric] = site.index
            sites.append(site)
        }
        guard !sites.isEmpty else { throw DirectoryError("sites: the directory names no site") }
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
    /// The top of the tree: the central level, or the highest level the file names.
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

    /// The heading technicians see a site under: its district, or for a commune in a directory without districts (Phú
    /// Thọ since 2025) its province; nil for the central and province sites themselves.
    public func group(of site: Site) -> Site? {
        district(of: site) ?? (site.level == .commune ? ancestry(of: site).first { $0.level == .province } : nil)
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
