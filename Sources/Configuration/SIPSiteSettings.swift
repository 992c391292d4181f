import Foundation

/// One room system's SIP policy (`sip.sites.<site-id>`): how it may prove who it is, what media it may use, and
/// whether its keys must travel over TLS. A site not listed gets the defaults: digest only, SRTP only.
public struct SIPSiteSettings: Sendable, Equatable {
    /// The media a site's call may carry.
    public enum Media: String, Sendable, CaseIterable {
        /// SDES-SRTP only (the default).
        case srtp
        /// Plain RTP (RTP/AVP without `a=crypto`) allowed as well: for room systems that cannot encrypt.
        case rtp
    }

    /// The SIP transport a site must use when its call carries keys.
    public enum Signalling: String, Sendable, CaseIterable {
        case udp, tcp, tls
    }

    /// The address the room system calls from (numeric IPv4 or IPv6, as the kernel reports it: compared after
    /// parsing). A call from it over TCP or TLS without digest credentials is admitted as this site (the connection
    /// proves its source address); over UDP, whose source can be forged, it is challenged as any other call.
    public var address: String?
    public var media: Media = .srtp
    /// `tls`: SDES keys for this site travel only over TLS (a keyed call over UDP or TCP is refused with 403, and
    /// dialling it out needs TLS dial-out). `udp`/`tcp` (or absent): no such requirement beyond `sip.keysRequireTLS`.
    public var signalling: Signalling?

    public init(address: String? = nil, media: Media = .srtp, signalling: Signalling? = nil) {
        self.address = address
        self.media = media
        self.signalling = signalling
    }

    static let keys: Set<String> = ["address", "media", "signalling"]

    /// Reads `sip.sites` (site id → object); the ids are checked against the site directory when the bridge starts.
    static func parse(_ raw: Any?, origin: String) throws(SettingsError) -> [String: SIPSiteSettings] {
        guard let entries = raw as? [String: Any] else {
            throw SettingsError("\(origin): 'sip.sites' must be an object: site id → {\"address\", \"media\", \"signalling\"}")
        }
        var sites: [String: SIPSiteSettings] = [:]
        var owners: [String: String] = [:]
        for (site, value) in entries.sorted(by: { $0.key < $1.key }) {
            let name = "'sip.sites.\(site.prefix(80))'"
            guard let object = value as? [String: Any] else { throw SettingsError("\(origin): \(name) must be an object") }
            for key in object.keys.sorted() where !keys.contains(key) {
                throw SettingsError("\(origin): unknown key '\(key.prefix(80))' in \(name) (known: \(keys.sorted().joined(separator: ", ")))")
            }
            var settings = SIPSiteSettings()
            if let raw = object["address"] {
                guard let text = raw as? String, let normalized = normalizedAddress(text) else {
                    throw SettingsError("\(origin): \(name).address is '\(String(describing: raw).prefix(80))': it must be a numeric IPv4 or IPv6 address (no port, no name)")
                }
                if let other = owners[normalized] {
                    throw SettingsError("\(origin): \(name).address \(text) is also the address of '\(other)': an address admits one site")
                }
                owners[normalized] = site
                settings.address = normalized
            }
            if let raw = object["media"] {
                guard let text = raw as? String, let media = Media(rawValue: text) else {
                    throw SettingsError("\(origin): \(name).media is '\(String(describing: raw).prefix(80))'; it must be \"srtp\" or \"rtp\"")
                }
                settings.media = media
            }
            if let raw = object["signalling"] {
                guard let text = raw as? String, let signalling = Signalling(rawValue: text) else {
                    throw SettingsError("\(origin): \(name).signalling is '\(String(describing: raw).prefix(80))'; it must be \"udp\", \"tcp\" or \"tls\"")
                }
                settings.signalling = signalling
            }
            sites[site] = settings
        }
        return sites
    }

    /// A numeric address in the form the kernel reports a peer's (`inet_ntop`'s), or nil if it is not one.
    public static func normalizedAddress(_ text: String) -> String? {
        guard text.count <= 64, !text.isEmpty else { return nil }
        var v4 = in_addr()
        if !text.contains(":") {
            guard inet_pton(AF_INET, text, &v4) == 1 else { return nil }
            return ntop(AF_INET, &v4, Int(INET_ADDRSTRLEN))
        }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, text, &v6) == 1 else { return nil }
        return ntop(AF_INET6, &v6, Int(INET6_ADDRSTRLEN))
    }

    private static func ntop<T>(_ family: Int32, _ address: inout T, _ size: Int) -> String? {
        var buffer = [CChar](repeating: 0, count: size)
        guard inet_ntop(family, &address, &buffer, socklen_t(size)) != nil else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
