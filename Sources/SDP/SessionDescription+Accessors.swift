extension SessionDescription {
    /// The session-level `a=group` lines.
    public var groups: [MediaGroup] {
        attributes.compactMap { if case .group(let group) = $0 { group } else { nil } }
    }

    /// The first BUNDLE group (RFC 8843), if any.
    public var bundleGroup: MediaGroup? { groups.first { $0.isBundle } }

    /// Whether the session part has `a=ice-lite`.
    public var isICELite: Bool { attributes.contains(.iceLite) }

    /// The media section with this mid.
    public func media(withMid mid: String) -> MediaDescription? { media.first { $0.mid == mid } }

    /// ICE credentials for `section`: its own `a=ice-ufrag`/`a=ice-pwd`, else the session's (RFC 8839 §5.4).
    public func iceCredentials(for section: MediaDescription) -> ICECredentials? {
        guard let ufrag = section.attributes.iceUfrag ?? attributes.iceUfrag,
              let pwd = section.attributes.icePwd ?? attributes.icePwd else { return nil }
        return ICECredentials(ufrag: ufrag, pwd: pwd)
    }

    /// ICE options for `section`: its own, else the session's.
    public func iceOptions(for section: MediaDescription) -> [String] {
        section.attributes.iceOptions ?? attributes.iceOptions ?? []
    }

    /// Fingerprints for `section`: its own, else the session's (RFC 8122 §5).
    public func fingerprints(for section: MediaDescription) -> [Fingerprint] {
        let own = section.attributes.fingerprints
        return own.isEmpty ? attributes.fingerprints : own
    }

    /// The setup role for `section`: its own, else the session's; nil when neither says.
    public func setupRole(for section: MediaDescription) -> SetupRole? {
        section.attributes.setupRole ?? attributes.setupRole
    }

    /// The direction of `section`: its own, else the session's, else `sendrecv` (RFC 8866 §6.7).
    public func direction(for section: MediaDescription) -> MediaDirection {
        section.attributes.direction ?? attributes.direction ?? .sendrecv
    }

    /// `c=` of `section`, else the session's.
    public func connection(for section: MediaDescription) -> ConnectionData? { section.connection ?? connection }
}

/// ICE credentials of one side (RFC 8839 §5.4).
public struct ICECredentials: Hashable, Sendable {
    public var ufrag: String
    public var pwd: String

    public init(ufrag: String, pwd: String) {
        self.ufrag = ufrag
        self.pwd = pwd
    }
}

extension MediaDescription {
    /// `a=mid`.
    public var mid: String? { attributes.compactMap { if case .mid(let mid) = $0 { mid } else { nil } }.first }
    /// This section's own direction attribute (nil when it has none; see ``SessionDescription/direction(for:)``).
    public var direction: MediaDirection? { attributes.direction }
    /// `a=rtcp-mux`.
    public var hasRTCPMux: Bool { attributes.contains(.rtcpMux) }
    /// `a=rtcp-rsize`.
    public var hasReducedSizeRTCP: Bool { attributes.contains(.rtcpReducedSize) }
    /// `a=bundle-only` (RFC 8843 §6): a port of 0 then does not mean rejected.
    public var isBundleOnly: Bool { attributes.contains(.other(name: "bundle-only", value: nil)) }
    /// Whether the protocol is RTP-based (the formats are payload types).
    public var isRTP: Bool { proto.uppercased().contains("RTP/") }

    /// The formats as payload types (empty for a protocol that is not RTP).
    public var payloadTypes: [UInt8] { isRTP ? formats.compactMap { UInt8($0) } : [] }
    public var rtpMaps: [RTPMap] { attributes.compactMap { if case .rtpmap(let map) = $0 { map } else { nil } } }
    public var formatParameters: [FormatParameters] {
        attributes.compactMap { if case .fmtp(let fmtp) = $0 { fmtp } else { nil } }
    }
    public var rtcpFeedback: [RTCPFeedback] {
        attributes.compactMap { if case .rtcpFeedback(let fb) = $0 { fb } else { nil } }
    }
    public var extensionMaps: [ExtensionMap] {
        attributes.compactMap { if case .extmap(let ext) = $0 { ext } else { nil } }
    }
    public var ssrcAttributes: [SSRCAttribute] {
        attributes.compactMap { if case .ssrc(let ssrc) = $0 { ssrc } else { nil } }
    }
    public var ssrcGroups: [SSRCGroup] {
        attributes.compactMap { if case .ssrcGroup(let group) = $0 { group } else { nil } }
    }
    public var msid: MediaStreamID? {
        attributes.compactMap { if case .msid(let msid) = $0 { msid } else { nil } }.first
    }
    /// `a=candidate` values as written.
    public var candidates: [String] {
        attributes.compactMap { if case .candidate(let candidate) = $0 { candidate } else { nil } }
    }

    /// Each payload type of the `m=` line with its rtpmap, fmtp and rtcp-fb lines (wildcard feedback included).
    public var codecs: [Codec] {
        var maps: [UInt8: RTPMap] = [:]
        var parameters: [UInt8: FormatParameters] = [:]
        var feedback: [UInt8: [RTCPFeedback]] = [:]
        var wildcard: [RTCPFeedback] = []
        for attribute in attributes {
            switch attribute {
            case .rtpmap(let map): if maps[map.payloadType] == nil { maps[map.payloadType] = map }
            case .fmtp(let fmtp):
                if let pt = fmtp.payloadType, parameters[pt] == nil { parameters[pt] = fmtp }
            case .rtcpFeedback(let fb):
                if let pt = fb.payloadType { feedback[pt, default: []].append(fb) } else { wildcard.append(fb) }
            default: break
            }
        }
        // Wildcard lines apply to every payload type; keep the section's order of lines.
        return payloadTypes.map { pt in
            let own = feedback[pt] ?? []
            let merged = wildcard.isEmpty ? own : rtcpFeedback.filter { $0.applies(to: pt) }
            return Codec(payloadType: pt, rtpMap: maps[pt], parameters: parameters[pt], feedback: merged)
        }
    }

    /// The codec of one payload type, when the `m=` line lists it.
    public func codec(payloadType: UInt8) -> Codec? { codecs.first { $0.payloadType == payloadType } }

    /// The id mapped to `uri`, if any.
    public func extensionID(for uri: String) -> UInt16? { extensionMaps.first { $0.uri == uri }?.id }

    /// The SSRCs signalled in this section in order of appearance, each once.
    public var ssrcs: [UInt32] {
        var seen: Set<UInt32> = []
        return ssrcAttributes.compactMap { seen.insert($0.ssrc).inserted ? $0.ssrc : nil }
    }

    /// The signalled SSRCs without those that only repair others (the second and later of `FID` and `FEC-FR`
    /// groups: retransmission and FEC streams).
    public var primarySSRCs: [UInt32] {
        var repair: Set<UInt32> = []
        for group in ssrcGroups where ["FID", "FEC-FR", "FEC"].contains(group.semantics.uppercased()) {
            repair.formUnion(group.ssrcs.dropFirst())
        }
        return ssrcs.filter { !repair.contains($0) }
    }

    /// The value of source attribute `name` (e.g. `cname`) of `ssrc`.
    public func sourceAttribute(_ name: String, of ssrc: UInt32) -> String? {
        ssrcAttributes.first { $0.ssrc == ssrc && $0.attribute == name }?.value
    }
}

/// A payload type of a media section with what its attributes say about it.
public struct Codec: Hashable, Sendable {
    public var payloadType: UInt8
    /// nil for a static payload type listed without rtpmap.
    public var rtpMap: RTPMap?
    public var parameters: FormatParameters?
    public var feedback: [RTCPFeedback]

    /// The encoding name (`opus`, `VP8`), from the rtpmap or RFC 3551's static table for 0 and 8.
    public var encodingName: String? {
        if let rtpMap { return rtpMap.encodingName }
        switch payloadType {
        case 0: return "PCMU"
        case 8: return "PCMA"
        case 9: return "G722"
        default: return nil
        }
    }

    /// Whether this codec accepts feedback `type` with `parameter` (nil: the bare type, e.g. `nack`).
    public func acceptsFeedback(_ type: String, _ parameter: String? = nil) -> Bool {
        feedback.contains { $0.type == type && $0.parameter == parameter }
    }
}

extension [SDPAttribute] {
    var iceUfrag: String? { lazy.compactMap { if case .iceUfrag(let v) = $0 { v } else { nil } }.first }
    var icePwd: String? { lazy.compactMap { if case .icePwd(let v) = $0 { v } else { nil } }.first }
    var iceOptions: [String]? { lazy.compactMap { if case .iceOptions(let v) = $0 { v } else { nil } }.first }
    var fingerprints: [Fingerprint] { compactMap { if case .fingerprint(let v) = $0 { v } else { nil } } }
    var setupRole: SetupRole? { lazy.compactMap { if case .setup(let v) = $0 { v } else { nil } }.first }
    var direction: MediaDirection? { lazy.compactMap { if case .direction(let v) = $0 { v } else { nil } }.first }
}
