import CivilTime
import SiteDirectory

/// `vcbridge sites`: the site directory as a tree, one subtree, or a search.
struct SitesCommand: Command {
    static let name = "sites"
    static let abstract = "Show the sites as a tree, one subtree, or search them (with or without diacritics); --diff: which old sites each unit of a new directory covers."
    static let usage = "vcbridge sites [SITE] [--search TEXT] [--json]\n       vcbridge sites --diff OLD NEW [--json]   (OLD, NEW: vinhphuc-2024, phutho-2025 or a directory file)"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--search", "--diff"], flags: ["--json"], positionals: 1)
        if self.arguments.positionals.first != nil, try self.arguments.value("--search") != nil {
            throw ValidationError("give a SITE or --search, not both")
        }
        if try self.arguments.value("--diff") != nil {
            guard self.arguments.positionals.count == 1, try self.arguments.value("--search") == nil else {
                throw ValidationError("--diff takes two directories: --diff OLD NEW")
            }
        }
    }

    struct SiteJSON: Encodable {
        let id, code, level, type, name: String
        let parent: String?
        let district: String?
        let path: [String]
    }

    func run() throws {
        if let old = try arguments.value("--diff") {
            return try DirectoryDiff(old: old, new: arguments.positionals[0]).print(json: arguments.flag("--json"))
        }
        let context = try Context(arguments)
        let directory = context.directory
        var sites: [Site]
        let asTree: Bool
        if let query = try arguments.value("--search") {
            sites = directory.search(query)
            guard !sites.isEmpty else { throw CommandFailure("no site matches '\(query)'") }
            asTree = false
        } else if let reference = arguments.positionals.first {
            sites = directory.subtree(of: try context.site(reference, option: "SITE"))
            asTree = true
        } else {
            sites = directory.sites
            asTree = true
        }

        if arguments.flag("--json") {
            try printJSON(sites.map { site in
                SiteJSON(id: site.id, code: site.code, level: site.level.description, type: site.type, name: site.name,
                         parent: directory.parent(of: site)?.id, district: directory.district(of: site)?.id,
                         path: directory.ancestry(of: site).map(\.id))
            })
            return
        }
        var table = Table(asTree ? ["SITE", "CODE", "LEVEL", "NAME"] : ["SITE", "CODE", "LEVEL", "NAME", "DISTRICT"])
        if asTree {
            let root = sites[0]
            func walk(_ site: Site, prefix: String, childPrefix: String) {
                let units = directory.children(of: site).count
                let name = site.level == .district ? "\(site.name) (\(units) units)" : site.name
                table.add([prefix + site.id, site.code, site.level.description, name])
                let children = directory.children(of: site)
                for (i, child) in children.enumerated() {
                    let last = i == children.count - 1
                    walk(child, prefix: childPrefix + (last ? "└─ " : "├─ "), childPrefix: childPrefix + (last ? "   " : "│  "))
                }
            }
            walk(root, prefix: "", childPrefix: "")
        } else {
            for site in sites {
                table.add([site.id, site.code, site.level.description, site.name, directory.district(of: site)?.name ?? "-"])
            }
        }
        Output.line(table.render())
    }
}

/// `vcbridge config`: the settings in force.
struct ConfigCommand: Command {
    static let name = "config"
    static let abstract = "Show the settings in force (embedded defaults, with --config FILE or $VCBRIDGE_CONFIG on top)."
    static let usage = "vcbridge config [--config FILE] [--data-dir DIR]"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: [])
    }

    func run() throws {
        let context = try Context(arguments)
        let s = context.settings
        let hours = "\(pad2(s.workingHours.lowerBound / 60)):\(pad2(s.workingHours.lowerBound % 60))-"
            + "\(pad2(s.workingHours.upperBound / 60)):\(pad2(s.workingHours.upperBound % 60))"
        var table = Table(["SETTING", "VALUE"])
        table.add(["data directory", context.dataDirectory])
        table.add(["bridge.capacity", "\(s.bridgeCapacity) sites at once (a cascade link counts as one)"])
        table.add(["bridge.talkers", "\(s.talkers) mixed at once"])
        table.add(["bridge.lostAfterSeconds", "\(s.lostAfterSeconds) (a site that sends nothing is lost)"])
        table.add(["bridge.timeStretch", s.timeStretch ? "on (talkers' speech stretched to follow the jitter buffer's target)" : "off (the jitter buffer adjusts in pauses only)"])
        table.add(["bridge.consentSeconds", "\(s.consentSeconds) (a WebRTC peer whose consent checks stop is dropped, RFC 7675)"])
        table.add(["bridge.joinTimeoutMs", "\(s.joinTimeoutMilliseconds) (from accept to a proven key, whatever the peer sends)"])
        table.add(["bridge.maxPendingJoins", "\(s.maxPendingJoins) joins not yet proven at once (the oldest closed to make room)"])
        table.add(["bridge.maxPendingJoinsPerAddress", "\(s.maxPendingJoinsPerAddress) of them from one address"])
        let v = s.video
        table.add(["video.senders", v.senders == .all ? "all sites" : "the host and the site given the floor"])
        table.add(["video.maxKilobitsPerSecond", "\(v.maxKilobitsPerSecond) per site"])
        table.add(["video.maxPacketsPerSecond", "\(v.maxPacketsPerSecond) per site"])
        table.add(["video.maxPacketBytes", "\(v.maxPacketBytes)"])
        table.add(["video.keyframeRequestIntervalMs", "\(v.keyframeRequestIntervalMilliseconds) (at most one request per source)"])
        table.add(["video.switchTimeoutMs", "\(v.switchTimeoutMilliseconds)"])
        table.add(["video.repairWindowMs", "\(v.repairWindowMilliseconds)"])
        table.add(["video.maxRepairsPerSecond", "\(v.maxRepairsPerSecond) per receiver"])
        table.add(["video.speakerHoldMs", "\(v.speakerHoldMilliseconds)"])
        let q = s.quality
        table.add(["quality grades (MOS est.)", "good >= \(q.goodMOS), fair >= \(q.fairMOS), poor >= \(q.poorMOS), bad below"])
        table.add(["quality.alertAfterSeconds", "\(q.alertAfterSeconds)"])
        table.add(["quality.sampleSeconds", "\(q.sampleSeconds) (history kept \(q.historyDays) days)"])
        table.add(["quality.http", q.httpEnabled ? "\(q.httpAddress):\(q.httpPort)" : "off"])
        table.add(["quality.httpTLS", "\(q.httpTLS.rawValue) (HTTPS \(q.httpServesTLS ? "on" : "off") on \(q.httpAddress))"])
        table.add(["quality.tlsCertificateFile", q.tlsCertificateFile.isEmpty
            ? "none: a self-signed certificate kept in the data directory (HTTPS and WebRTC's DTLS)" : q.tlsCertificateFile])
        table.add(["schedule.setupMinutes", "\(s.setupSeconds / 60)"])
        table.add(["schedule.workingHours", hours])
        table.add(["schedule.workingDays", s.workingDays.sorted().map(\.description).joined(separator: ",")])
        table.add(["schedule.maxOccurrences", "\(s.maxOccurrences)"])
        table.add(["sites", "\(context.directory.count) in the directory"])
        Output.line(table.render())
    }
}

func pad2(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
