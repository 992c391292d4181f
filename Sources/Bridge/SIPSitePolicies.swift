import Configuration
import SDP
import SIP
import SiteDirectory

/// The per-site SIP policy in force (`sip.sites`, `sip.keysRequireTLS`), checked against the site directory when the
/// bridge starts: who may be admitted by its registered address, who may use plain RTP, whose keys need TLS.
struct SIPSitePolicies {
    private var bySite: [String: SIPSiteSettings] = [:]
    /// Registered addresses (normalized) → site id.
    private var byAddress: [String: String] = [:]
    let keysRequireTLS: Bool

    /// - Throws: `BridgeError` naming a site id that is not in the directory, or a dial-out whose keys must travel over
    ///   TLS to an address that is not dialled over TLS.
    init(settings: Settings, directory: SiteDirectory) throws {
        keysRequireTLS = settings.sipKeysRequireTLS
        for (id, site) in settings.sipSites.sorted(by: { $0.key < $1.key }) {
            guard directory.site(id) != nil else {
                throw BridgeError("sip.sites names '\(id.prefix(80))', which is not a site in the directory")
            }
            bySite[id] = site
            if let address = site.address { byAddress[address] = id }
        }
        for (id, address) in settings.sipDialOut.sorted(by: { $0.key < $1.key }) where keysNeedTLS(site: id)
            && !address.lowercased().hasPrefix("sips:") && !address.lowercased().contains("transport=tls") {
            throw BridgeError("sip.dialOut calls \(id) at \(address.prefix(120)), but its SDES keys must travel over TLS ("
                + (keysRequireTLS ? "sip.keysRequireTLS" : "sip.sites.\(id).signalling \"tls\"")
                + "): give a sips: address (or ;transport=tls)")
        }
    }

    init() { keysRequireTLS = false }

    /// A site's policy (the defaults for a site not listed).
    func settings(for site: String) -> SIPSiteSettings { bySite[site] ?? SIPSiteSettings() }

    /// The site registered at `host` (a peer's address as the kernel gave it), if any.
    func site(registeredAt host: String) -> String? {
        byAddress[SIPSiteSettings.normalizedAddress(host) ?? host]
    }

    /// What the site's calls may carry.
    func mediaPolicy(for site: String) -> SIPMediaPolicy {
        SIPMediaPolicy(allowsPlainRTP: settings(for: site).media == .rtp)
    }

    /// Whether SDES keys for `site` may only travel over TLS.
    func keysNeedTLS(site: String) -> Bool { keysRequireTLS || settings(for: site).signalling == .tls }

    /// Why keys cannot be exchanged with `site` over `transport`, as a reason phrase, or nil when they may.
    func keysRefusal(site: String, transport: SIPTransportKind) -> String? {
        guard transport != .tls, keysNeedTLS(site: site) else { return nil }
        let rule = keysRequireTLS ? "sip.keysRequireTLS" : "sip.sites.\(site).signalling tls"
        return "SDES keys for \(site) travel only over TLS (\(rule)); this call came over \(transport.rawValue.uppercased()): call the bridge's TLS port"
    }

    /// Whether an SDP body carries SDES keys (`a=crypto` in any media section).
    static func carriesKeys(_ body: [UInt8]) -> Bool {
        guard !body.isEmpty else { return false }
        guard let description = try? SessionDescription(parsing: body) else { return true }  // refused later anyway
        return description.media.contains { $0.attributes.contains { $0.name == "crypto" } }
            || description.attributes.contains { $0.name == "crypto" }
    }
}
