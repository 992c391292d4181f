import CivilTime
import EmbeddedConfig
import Foundation

/// A settings file that cannot be used: the message names the file, the key and the fault.
public struct SettingsError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The settings in force: the embedded Config/vcbridge.json, with an override file's keys on top.
public struct Settings: Sendable, Equatable {
    /// The site directory (`sites.directory`): a shipped one by name (`vinhphuc-2024`, the default; `phutho-2025`)
    /// or the path of a directory file.
    public var siteDirectory: String
    /// Sites connected at once across all meetings (a cascade link counts as one).
    public var bridgeCapacity: Int
    /// The setup window before each meeting in which technicians test the links, in seconds.
    public var setupSeconds: Int64
    /// Working hours for `meeting free`, minutes after midnight local time.
    public var workingHours: ClosedRange<Int>
    public var workingDays: Set<Weekday>
    /// The most occurrences a recurring booking may have.
    public var maxOccurrences: Int
    /// Where the bridge listens (a numeric IPv4 or IPv6 address).
    public var listenAddress: String
    /// TCP port of the join/signalling listener.
    public var signalingPort: Int
    /// UDP port for all media.
    public var mediaPort: Int
    /// At most this many sites are mixed at once (the talkers).
    public var talkers: Int
    /// A site that sends nothing for this long is shown as lost and its session ends.
    public var lostAfterSeconds: Int
    /// A WebRTC peer whose consent checks (RFC 7675) have stopped for this long is dropped even if its media still
    /// comes (RFC 7675's 30 s: browsers check about every 5 s and do not repeat a lost check). Raised to
    /// ``lostAfterSeconds`` when shorter.
    public var consentSeconds: Int
    /// Whether talkers' decoded audio is time-stretched to follow the jitter buffer's target in speech
    /// (`SitePlayout`); off: the jitter buffer alone adjusts, in pauses.
    public var timeStretch: Bool
    /// Time from accepting a join connection to admitting the site; a connection that has not
    /// proved its key by then is closed, however its bytes trickle in.
    public var joinTimeoutMilliseconds: Int
    /// Join connections not yet admitted, at most, in total and from one address; over either cap
    /// the oldest such connection is closed to make room.
    public var maxPendingJoins: Int
    public var maxPendingJoinsPerAddress: Int
    /// Video forwarding limits and timings.
    public var video: VideoSettings
    /// Quality grades, alerts, history and the monitoring listener.
    public var quality: QualitySettings
    /// The SIP listener (UDP and TCP) for room systems: its port when `sip.enabled`, else nil (off).
    public var sipPort: Int?
    /// The digest challenges a SIP INVITE gets, in order (RFC 8760: SHA-256 then MD5). Some older clients give up on
    /// a challenge whose algorithm they do not know instead of taking the next (baresip 1.0 with libre 1.1 does):
    /// such a hall is served by `["MD5"]`.
    public var sipDigestAlgorithms: [String]
    /// SIP over TLS (NSS, the bridge's certificate) on its own port when `sip.tlsEnabled` (with SIP on), else nil.
    public var sipTLSPort: Int?
    /// The halls the bridge calls itself (`sip.dialOut`): site id → SIP address (`sip:room@host:port`, host numeric or
    /// a name; `;transport=tcp`, or `sips:`/`;transport=tls`),
    /// called at the start of each of the site's meetings' setup windows, retried while the meeting runs, hung up at
    /// its end. The ids are checked against the site directory when the bridge starts.
    public var sipDialOut: [String: String]
    /// How long a dialled hall may take to answer before the call is given up (and retried later).
    public var sipDialOutRingSeconds: Int
    /// The username and password this bridge answers an upstream MCU's digest challenge with, when it calls up for a
    /// meeting booked with `--cascade-up` (what the upper bridge's technician gave: there, `vcbridge site key`
    /// of the site this bridge is). Empty: a challenge fails the call.
    public var sipCascadeCredentials: [String: String]
    /// Per-site SIP policy (`sip.sites`): a registered address for room systems that cannot do digest, plain RTP
    /// for those that cannot encrypt, TLS required for a site's keys. Ids are checked against the directory at start.
    public var sipSites: [String: SIPSiteSettings]
    /// SDES keys travel in the SDP, readable by anyone on the path of UDP or TCP signalling: when true, a call whose
    /// SDP carries keys is taken only over TLS (403 otherwise), for every site.
    public var sipKeysRequireTLS: Bool
    /// TLS dial-out (`sips:`, `;transport=tls`): the far end's certificate is taken when its SHA-256 is one of these
    /// (`sip.dialOutTLSFingerprints`: "sha-256 AB:CD:...", 32 hex pairs, colons and the prefix optional), or else
    /// when the CA certificate in `sip.dialOutTLSCAFile` (PEM or DER) signed it, it is valid and names the host
    /// dialled. With neither, a TLS address is refused: the far end could not be checked.
    public var sipDialOutTLSFingerprints: [[UInt8]]
    public var sipDialOutTLSCAFile: String

    /// The 32 bytes of a SHA-256 fingerprint written as hex pairs (colons optional, an optional `sha-256 ` prefix).
    public static func sha256Fingerprint(_ text: String) -> [UInt8]? {
        var hex = Substring(text.trimmingCharacters(in: .whitespaces))
        if hex.lowercased().hasPrefix("sha-256 ") { hex = hex.dropFirst("sha-256 ".count) }
        let digits = hex.filter { $0 != ":" }
        guard digits.count == 64, digits.allSatisfy(\.isHexDigit) else { return nil }
        var bytes: [UInt8] = []
        var index = digits.startIndex
        while index < digits.endIndex {
            let next = digits.index(index, offsetBy: 2)
            bytes.append(UInt8(digits[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// Whether a dial-out address is called over TLS (`sips:` or `;transport=tls`).
    public static func dialOutUsesTLS(_ address: String) -> Bool {
        let lowered = address.lowercased()
        return lowered.hasPrefix("sips:") || lowered.contains(";transport=tls")
    }

    /// Why a dial-out address cannot be called, or nil: the bridge dials `sip:` URIs over UDP, TCP
    /// (`;transport=tcp`) or TLS (`sips:`, `;transport=tls`), to a numeric host or a host name (resolved off the SIP
    /// thread when each call is placed).
    public static func dialOutFault(_ address: String) -> String? {
        guard address.count <= 256 else { return "longer than 256 characters" }
        guard !address.unicodeScalars.contains(where: { $0.value <= 32 || $0.value == 127 }) else {
            return "it holds spaces or control characters"
        }
        let lowered = address.lowercased()
        guard lowered.hasPrefix("sip:") || lowered.hasPrefix("sips:") else { return "it must start with sip: (or sips:)" }
        let parts = address.dropFirst(lowered.hasPrefix("sips:") ? 5 : 4).split(separator: ";", omittingEmptySubsequences: false)
        let hostPort = parts[0].split(separator: "@").last.map(String.init) ?? ""
        let host: Substring
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { return "its IPv6 host has no closing ]" }
            host = hostPort[hostPort.index(after: hostPort.startIndex)..<close]
            let rest = hostPort[hostPort.index(after: close)...]
            if !rest.isEmpty, !(rest.hasPrefix(":") && UInt16(rest.dropFirst()).map({ $0 > 0 }) == true) {
                return "its port must be 1-65535"
            }
        } else {
            let pieces = hostPort.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { return "its host must be a numeric address (IPv6 in brackets)" }
            host = pieces[0]
            if pieces.count == 2, UInt16(pieces[1]).map({ $0 > 0 }) != true { return "its port must be 1-65535" }
        }
        let numeric = host.contains(":") ? host.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." }
            : host.split(separator: ".", omittingEmptySubsequences: false).count == 4
                && host.split(separator: ".", omittingEmptySubsequences: false).allSatisfy { UInt8($0) != nil }
        // A host name (RFC 1123 labels; resolved when each call is placed, a name that does not resolve fails that call).
        let labels = host.split(separator: ".", omittingEmptySubsequences: false)
        let name = !host.contains(":") && host.count <= 253 && labels.allSatisfy { label in
            (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { ($0.isASCII && ($0.isLetter || $0.isNumber)) || $0 == "-" }
        }
        guard !host.isEmpty, numeric || name else {
            return "its host must be a numeric address or a host name (letters, digits, '-', '.')"
        }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1)
            if pair.first?.lowercased() == "transport", pair.count == 2, !["udp", "tcp", "tls"].contains(pair[1].lowercased()) {
                return "transport=\(pair[1]) is not supported for dial-out (udp, tcp or tls)"
            }
        }
        return nil
    }

    /// The embedded defaults.
    public static let defaults: Settings = {
        do {
            return try Settings(merging: [], origin: "embedded Config/vcbridge.json")
        } catch {
            fatalError("the embedded Config/vcbridge.json is invalid: \(error)")
        }
    }()

    /// The defaults overlaid with the JSON file at `path` (nil: the defaults alone).
    public static func load(overridePath path: String?) throws(SettingsError) -> Settings {
        guard let path else { return defaults }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw SettingsError("settings file \(path) cannot be read")
        }
        return try Settings(merging: [UInt8](data), origin: path)
    }

    private static let known: [String: Set<String>] = [
        "bridge": ["capacity", "listenAddress", "signalingPort", "mediaPort", "talkers", "lostAfterSeconds", "consentSeconds", "timeStretch", "joinTimeoutMs",
                   "maxPendingJoins", "maxPendingJoinsPerAddress"],
        "sip": ["enabled", "port", "digestAlgorithms", "tlsEnabled", "tlsPort", "dialOut", "dialOutRingSeconds", "cascadeCredentials",
                "sites", "keysRequireTLS",
                "dialOutTLSFingerprints", "dialOutTLSCAFile"],
        "schedule": ["setupMinutes", "workingHours", "workingDays", "maxOccurrences"],
        "sites": ["directory"],
        "quality": ["goodMOS", "fairMOS", "poorMOS", "alertAfterSeconds", "sampleSeconds", "historyDays", "httpEnabled",
                    "httpAddress", "httpPort", "httpTLS", "tlsCertificateFile", "tlsPrivateKeyFile"],
        "video": ["senders", "maxKilobitsPerSecond", "maxPacketsPerSecond", "maxPacketBytes", "keyframeRequestIntervalMs",
                  "switchTimeoutMs", "repairWindowMs", "maxRepairsPerSecond", "speakerHoldMs"],
    ]

    init(merging override: [UInt8], origin: String) throws(SettingsError) {
        var tree = try Self.parse(EmbeddedConfig.settingsJSON, origin: "embedded Config/vcbridge.json")
        if !override.isEmpty {
            let top = try Self.parse(override, origin: origin)
            for (section, value) in top {
                guard let keys = Self.known[section] else {
                    throw SettingsError("\(origin): unknown section '\(section)' (known: \(Self.known.keys.sorted().joined(separator: ", ")))")
                }
                guard let entries = value as? [String: Any] else {
                    throw SettingsError("\(origin): '\(section)' must be an object")
                }
                var merged = tree[section] as? [String: Any] ?? [:]
                for (key, v) in entries {
                    guard keys.contains(key) else {
                        throw SettingsError("\(origin): unknown key '\(section).\(key)' (known: \(keys.sorted().joined(separator: ", ")))")
                    }
                    merged[key] = v
                }
                tree[section] = merged
            }
        }
        func value<T>(_ section: String, _ key: String, as type: T.Type) throws(SettingsError) -> T {
            guard let v = (tree[section] as? [String: Any])?[key] as? T else {
                throw SettingsError("\(origin): '\(section).\(key)' is missing or of the wrong type")
            }
            return v
        }
        func integer(_ section: String, _ key: String, in range: ClosedRange<Int>) throws(SettingsError) -> Int {
            let raw = try value(section, key, as: NSNumber.self)
            guard raw.doubleValue.rounded() == raw.doubleValue,
                  range.contains(raw.intValue)
            else { throw SettingsError("\(origin): '\(section).\(key)' must be a whole number from \(range.lowerBound) to \(range.upperBound)") }
            return raw.intValue
        }

        siteDirectory = try value("sites", "directory", as: String.self)
        guard !siteDirectory.isEmpty else { throw SettingsError("\(origin): 'sites.directory' is empty; give vinhphuc-2024, phutho-2025 or a file's path") }
        bridgeCapacity = try integer("bridge", "capacity", in: 1...10_000)
        listenAddress = try value("bridge", "listenAddress", as: String.self)
        signalingPort = try integer("bridge", "signalingPort", in: 0...65535)
        mediaPort = try integer("bridge", "mediaPort", in: 0...65535)
        talkers = try integer("bridge", "talkers", in: 1...8)
        lostAfterSeconds = try integer("bridge", "lostAfterSeconds", in: 2...600)
        // Never shorter than lostAfterSeconds (a config from before this key, with a longer lostAfterSeconds, still starts).
        consentSeconds = max(try integer("bridge", "consentSeconds", in: 2...600), lostAfterSeconds)
        timeStretch = try value("bridge", "timeStretch", as: Bool.self)
        joinTimeoutMilliseconds = try integer("bridge", "joinTimeoutMs", in: 100...60_000)
        maxPendingJoins = try integer("bridge", "maxPendingJoins", in: 1...100_000)
        maxPendingJoinsPerAddress = try integer("bridge", "maxPendingJoinsPerAddress", in: 1...100_000)
        func decimal(_ section: String, _ key: String, in range: ClosedRange<Double>) throws(SettingsError) -> Double {
            let raw = try value(section, key, as: NSNumber.self)
            guard range.contains(raw.doubleValue) else {
                throw SettingsError("\(origin): '\(section).\(key)' must be a number from \(range.lowerBound) to \(range.upperBound)")
            }
            return raw.doubleValue
        }
        quality = QualitySettings(
            goodMOS: try decimal("quality", "goodMOS", in: 1...4.5), fairMOS: try decimal("quality", "fairMOS", in: 1...4.5),
            poorMOS: try decimal("quality", "poorMOS", in: 1...4.5),
            alertAfterSeconds: try integer("quality", "alertAfterSeconds", in: 1...3600),
            sampleSeconds: try integer("quality", "sampleSeconds", in: 1...300),
            historyDays: try integer("quality", "historyDays", in: 1...3660),
            httpEnabled: try value("quality", "httpEnabled", as: Bool.self),
            httpAddress: try value("quality", "httpAddress", as: String.self),
            httpPort: try integer("quality", "httpPort", in: 0...65535))
        let tls = try value("quality", "httpTLS", as: String.self)
        guard let tlsValue = QualitySettings.HTTPTLS(rawValue: tls) else {
            throw SettingsError("\(origin): 'quality.httpTLS' is '\(tls)'; it must be \"auto\", \"on\" or \"off\"")
        }
        quality.httpTLS = tlsValue
        if tlsValue == .off, !QualitySettings.isLoopback(quality.httpAddress) {
            throw SettingsError("\(origin): 'quality.httpTLS' is \"off\" but 'quality.httpAddress' is \(quality.httpAddress): plain HTTP is served only on loopback (127.0.0.1 or ::1); browsers need HTTPS for cameras")
        }
        quality.tlsCertificateFile = try value("quality", "tlsCertificateFile", as: String.self)
        quality.tlsPrivateKeyFile = try value("quality", "tlsPrivateKeyFile", as: String.self)
        guard quality.tlsCertificateFile.isEmpty == quality.tlsPrivateKeyFile.isEmpty else {
            throw SettingsError("\(origin): 'quality.tlsCertificateFile' and 'quality.tlsPrivateKeyFile' go together: give both (PEM certificate, PEM PKCS#8 key) or neither (a self-signed certificate is made at start)")
        }
        guard quality.goodMOS > quality.fairMOS, quality.fairMOS > quality.poorMOS else {
            throw SettingsError("\(origin): the grade thresholds must fall: quality.goodMOS > fairMOS > poorMOS")
        }
        let senders = try value("video", "senders", as: String.self)
        guard let sendersValue = VideoSettings.Senders(rawValue: senders) else {
            throw SettingsError("\(origin): 'video.senders' is '\(senders)'; it must be \"all\" or \"presenters\"")
        }
        video = VideoSettings(
            senders: sendersValue,
            maxKilobitsPerSecond: try integer("video", "maxKilobitsPerSecond", in: 64...50_000),
            maxPacketsPerSecond: try integer("video", "maxPacketsPerSecond", in: 10...10_000),
            maxPacketBytes: try integer("video", "maxPacketBytes", in: 200...1472),
            keyframeRequestIntervalMilliseconds: try integer("video", "keyframeRequestIntervalMs", in: 100...60_000),
            switchTimeoutMilliseconds: try integer("video", "switchTimeoutMs", in: 100...60_000),
            repairWindowMilliseconds: try integer("video", "repairWindowMs", in: 0...5_000),
            maxRepairsPerSecond: try integer("video", "maxRepairsPerSecond", in: 0...10_000),
            speakerHoldMilliseconds: try integer("video", "speakerHoldMs", in: 0...30_000))
        let sipPortValue = try integer("sip", "port", in: 0...65535)
        sipPort = try value("sip", "enabled", as: Bool.self) ? sipPortValue : nil
        let sipTLSPortValue = try integer("sip", "tlsPort", in: 0...65535)
        sipTLSPort = try value("sip", "tlsEnabled", as: Bool.self) ? sipTLSPortValue : nil
        sipDigestAlgorithms = try value("sip", "digestAlgorithms", as: [String].self)
        guard !sipDigestAlgorithms.isEmpty, sipDigestAlgorithms.allSatisfy({ ["SHA-256", "MD5"].contains($0) }),
              Set(sipDigestAlgorithms).count == sipDigestAlgorithms.count else {
            throw SettingsError("\(origin): 'sip.digestAlgorithms' must list \"SHA-256\" and/or \"MD5\", each once, in the order offered")
        }
        sipDialOut = try value("sip", "dialOut", as: [String: String].self)
        for (site, address) in sipDialOut.sorted(by: { $0.key < $1.key }) {
            if let fault = Self.dialOutFault(address) {
                throw SettingsError("\(origin): 'sip.dialOut' gives \(site) the address '\(address.prefix(300))': \(fault)")
            }
        }
        let pins = try value("sip", "dialOutTLSFingerprints", as: [String].self)
        guard pins.count <= 16 else { throw SettingsError("\(origin): 'sip.dialOutTLSFingerprints' lists \(pins.count); at most 16") }
        sipDialOutTLSFingerprints = try pins.map { text throws(SettingsError) -> [UInt8] in
            guard let bytes = Self.sha256Fingerprint(text) else {
                throw SettingsError("\(origin): 'sip.dialOutTLSFingerprints' has '\(text.prefix(120))', not a SHA-256 fingerprint (32 hex pairs)")
            }
            return bytes
        }
        sipDialOutTLSCAFile = try value("sip", "dialOutTLSCAFile", as: String.self)
        if sipDialOutTLSFingerprints.isEmpty && sipDialOutTLSCAFile.isEmpty {
            for (site, address) in sipDialOut.sorted(by: { $0.key < $1.key }) where Self.dialOutUsesTLS(address) {
                throw SettingsError("\(origin): 'sip.dialOut' gives \(site) the address '\(address.prefix(300))': TLS dial-out needs 'sip.dialOutTLSFingerprints' or 'sip.dialOutTLSCAFile' to check the far end's certificate")
            }
        }
        sipDialOutRingSeconds = try integer("sip", "dialOutRingSeconds", in: 1...300)
        sipCascadeCredentials = try value("sip", "cascadeCredentials", as: [String: String].self)
        guard sipCascadeCredentials.isEmpty || (Set(sipCascadeCredentials.keys) == ["username", "password"]
            && sipCascadeCredentials.values.allSatisfy { !$0.isEmpty && $0.count <= 256 }) else {
            throw SettingsError("\(origin): 'sip.cascadeCredentials' must be {} or {\"username\": ..., \"password\": ...}, both given, each 1-256 characters")
        }
        sipSites = try SIPSiteSettings.parse((tree["sip"] as? [String: Any])?["sites"], origin: origin)
        sipKeysRequireTLS = try value("sip", "keysRequireTLS", as: Bool.self)
        setupSeconds = Int64(try integer("schedule", "setupMinutes", in: 0...240)) * 60
        maxOccurrences = try integer("schedule", "maxOccurrences", in: 1...366)
        let hours = try value("schedule", "workingHours", as: String.self)
        let bounds = hours.split(separator: "-")
        do {
            guard bounds.count == 2 else { throw TimeParseError("") }
            let start = try TimeFormat.parseClock(String(bounds[0])).minuteOfDay
            let end = try TimeFormat.parseClock(String(bounds[1])).minuteOfDay
            guard start < end else { throw TimeParseError("") }
            workingHours = start...end
        } catch {
            throw SettingsError("\(origin): 'schedule.workingHours' must look like 07:30-17:00 (start before end)")
        }
        let days = try value("schedule", "workingDays", as: [String].self)
        var set = Set<Weekday>()
        for day in days {
            guard let d = Weekday(name: day) else {
                throw SettingsError("\(origin): 'schedule.workingDays' has '\(day)', not a day (mon ... sun)")
            }
            set.insert(d)
        }
        guard !set.isEmpty else { throw SettingsError("\(origin): 'schedule.workingDays' is empty") }
        workingDays = set
    }

    private static func parse(_ bytes: [UInt8], origin: String) throws(SettingsError) -> [String: Any] {
        do {
            guard let object = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw SettingsError("\(origin): the top level must be a JSON object")
            }
            return object
        } catch let error as SettingsError {
            throw error
        } catch {
            throw SettingsError("\(origin): not valid JSON (\(error.localizedDescription))")
        }
    }
}

/// The `video` section: what a site may send and how the bridge forwards it.
public struct VideoSettings: Sendable, Equatable {
    public enum Senders: String, Sendable {
        /// Every site (speaker video needs it).
        case all
        /// Only the host and the site given the floor.
        case presenters
    }
    public var senders: Senders
    /// Per site, with one second of burst allowance.
    public var maxKilobitsPerSecond: Int
    public var maxPacketsPerSecond: Int
    /// Largest video RTP packet accepted (SRTP removed).
    public var maxPacketBytes: Int
    /// At most one keyframe request forwarded to a source per interval.
    public var keyframeRequestIntervalMilliseconds: Int
    /// How long a stream switch waits for the new source's keyframe before asking again.
    public var switchTimeoutMilliseconds: Int
    /// How much of each source's video is kept to answer NACKs.
    public var repairWindowMilliseconds: Int
    /// Per receiver: packets sent again in answer to its NACKs, per second (one second of burst).
    public var maxRepairsPerSecond: Int
    /// How long a new loudest talker must stay loudest before the speaker video follows.
    public var speakerHoldMilliseconds: Int
}

/// The `quality` section: what technicians see and are warned of.
public struct QualitySettings: Sendable, Equatable {
    /// MOS estimates at or above `goodMOS` are good, at or above `fairMOS` fair, at or above
    /// `poorMOS` poor, below it bad.
    public var goodMOS: Double
    public var fairMOS: Double
    public var poorMOS: Double
    /// A site poor or bad for longer than this raises an alert (a warning in the log).
    public var alertAfterSeconds: Int
    /// History keeps one sample per site every this many seconds.
    public var sampleSeconds: Int
    /// Meetings' history older than this is deleted.
    public var historyDays: Int
    /// The HTTP listener (Prometheus metrics and the status page): off unless enabled; localhost by default.
    public var httpEnabled: Bool
    public var httpAddress: String
    public var httpPort: Int
    /// Whether the HTTP listener speaks TLS.
    public enum HTTPTLS: String, Sendable {
        /// TLS unless bound to loopback (127.0.0.1 or ::1).
        case auto
        /// TLS on any address, loopback included.
        case on
        /// Plain HTTP: only allowed on loopback.
        case off
    }
    public var httpTLS: HTTPTLS = .auto
    /// The certificate (PEM) and its unencrypted PKCS#8 private key (PEM) the bridge shows for both HTTPS and
    /// WebRTC's DTLS; both empty: a self-signed P-256 certificate is made at start.
    public var tlsCertificateFile = ""
    public var tlsPrivateKeyFile = ""

    /// Whether the listener serves TLS on its configured address.
    public var httpServesTLS: Bool {
        switch httpTLS {
        case .on: true
        case .off: false
        case .auto: !Self.isLoopback(httpAddress)
        }
    }

    /// 127.0.0.1 or ::1 (as typed).
    public static func isLoopback(_ address: String) -> Bool { address == "127.0.0.1" || address == "::1" }
}
