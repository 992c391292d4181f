/// One `a=` line. Attributes this module understands are typed (their value checked against its grammar when
/// parsed); every other attribute is kept as ``other(name:value:)`` so nothing is lost and a description
/// can be written back.
public enum SDPAttribute: Hashable, Sendable {
    /// `a=rtpmap:<pt> <name>/<clock>[/<params>]` (RFC 8866 §6.6).
    case rtpmap(RTPMap)
    /// `a=fmtp:<format> <parameters>` (RFC 8866 §6.15).
    case fmtp(FormatParameters)
    /// `a=rtcp-fb:<pt|*> <type> [<parameter>]` (RFC 4585 §4.2).
    case rtcpFeedback(RTCPFeedback)
    /// `a=extmap:<id>[/<direction>] <uri> [<attributes>]` (RFC 8285 §8).
    case extmap(ExtensionMap)
    /// `a=ssrc:<ssrc> <attribute>[:<value>]` (RFC 5576 §4.1).
    case ssrc(SSRCAttribute)
    /// `a=ssrc-group:<semantics> <ssrc> ...` (RFC 5576 §4.2).
    case ssrcGroup(SSRCGroup)
    /// `a=msid:<stream id> [<track id>]` (RFC 8830).
    case msid(MediaStreamID)
    /// `a=mid:<tag>` (RFC 5888 §4).
    case mid(String)
    /// `a=group:<semantics> <tag> ...` (RFC 5888 §5), e.g. BUNDLE (RFC 8843).
    case group(MediaGroup)
    /// `a=sendrecv`, `a=sendonly`, `a=recvonly`, `a=inactive` (RFC 8866 §6.7).
    case direction(MediaDirection)
    /// `a=ice-ufrag:<ufrag>` (RFC 8839 §5.4): 4 to 256 ice-chars.
    case iceUfrag(String)
    /// `a=ice-pwd:<password>` (RFC 8839 §5.4): 22 to 256 ice-chars.
    case icePwd(String)
    /// `a=ice-options:<option> ...` (RFC 8839 §5.6).
    case iceOptions([String])
    /// `a=ice-lite` (RFC 8839 §5.3), session level.
    case iceLite
    /// `a=fingerprint:<hash function> <hex:hex:...>` (RFC 8122 §5).
    case fingerprint(Fingerprint)
    /// `a=setup:<role>` (RFC 4145 §4, RFC 8842).
    case setup(SetupRole)
    /// `a=rtcp-mux` (RFC 5761).
    case rtcpMux
    /// `a=rtcp-rsize` (RFC 5506).
    case rtcpReducedSize
    /// `a=candidate:<value>` (RFC 8839 §5.1), kept as written.
    case candidate(String)
    /// `a=end-of-candidates` (RFC 8840).
    case endOfCandidates
    /// Any other attribute: the name and, for `a=name:value`, the value as written.
    case other(name: String, value: String?)

    /// The attribute's name as it appears after `a=`.
    public var name: String {
        switch self {
        case .rtpmap: "rtpmap"
        case .fmtp: "fmtp"
        case .rtcpFeedback: "rtcp-fb"
        case .extmap: "extmap"
        case .ssrc: "ssrc"
        case .ssrcGroup: "ssrc-group"
        case .msid: "msid"
        case .mid: "mid"
        case .group: "group"
        case .direction(let direction): direction.rawValue
        case .iceUfrag: "ice-ufrag"
        case .icePwd: "ice-pwd"
        case .iceOptions: "ice-options"
        case .iceLite: "ice-lite"
        case .fingerprint: "fingerprint"
        case .setup: "setup"
        case .rtcpMux: "rtcp-mux"
        case .rtcpReducedSize: "rtcp-rsize"
        case .candidate: "candidate"
        case .endOfCandidates: "end-of-candidates"
        case .other(let name, _): name
        }
    }

    /// The value after `a=name:`, or nil for a property attribute.
    public var value: String? {
        switch self {
        case .rtpmap(let map):
            let parameters = map.encodingParameters.map { "/\($0)" } ?? ""
            return "\(map.payloadType) \(map.encodingName)/\(map.clockRate)\(parameters)"
        case .fmtp(let fmtp): return "\(fmtp.format) \(fmtp.parameters)"
        case .rtcpFeedback(let fb):
            let pt = fb.payloadType.map(String.init) ?? "*"
            return fb.parameter.map { "\(pt) \(fb.type) \($0)" } ?? "\(pt) \(fb.type)"
        case .extmap(let ext):
            var text = String(ext.id)
            if let direction = ext.direction { text += "/\(direction.rawValue)" }
            text += " \(ext.uri)"
            if let attributes = ext.attributes { text += " \(attributes)" }
            return text
        case .ssrc(let ssrc):
            return ssrc.value.map { "\(ssrc.ssrc) \(ssrc.attribute):\($0)" } ?? "\(ssrc.ssrc) \(ssrc.attribute)"
        case .ssrcGroup(let group): return ([group.semantics] + group.ssrcs.map(String.init)).joined(separator: " ")
        case .msid(let msid): return msid.appData.map { "\(msid.streamID) \($0)" } ?? msid.streamID
        case .mid(let mid): return mid
        case .group(let group): return ([group.semantics] + group.mids).joined(separator: " ")
        case .iceUfrag(let ufrag): return ufrag
        case .icePwd(let pwd): return pwd
        case .iceOptions(let options): return options.joined(separator: " ")
        case .fingerprint(let fingerprint): return "\(fingerprint.hashFunction) \(fingerprint.hexadecimal)"
        case .setup(let role): return role.rawValue
        case .candidate(let candidate): return candidate
        case .other(_, let value): return value
        case .direction, .iceLite, .rtcpMux, .rtcpReducedSize, .endOfCandidates: return nil
        }
    }

    /// The line's text after `a=`.
    public var text: String { value.map { "\(name):\($0)" } ?? name }
}

/// `a=rtpmap`: a payload type's encoding.
public struct RTPMap: Hashable, Sendable {
    /// 0-127.
    public var payloadType: UInt8
    /// As written (`opus`, `VP8`, `H264`); compare case-insensitively.
    public var encodingName: String
    /// Hz.
    public var clockRate: UInt32
    /// For audio the channel count (`2` for Opus), as written; nil when absent.
    public var encodingParameters: String?

    public init(payloadType: UInt8, encodingName: String, clockRate: UInt32, encodingParameters: String? = nil) {
        self.payloadType = payloadType
        self.encodingName = encodingName
        self.clockRate = clockRate
        self.encodingParameters = encodingParameters
    }

    /// The channel count (1 when absent, RFC 8866 §6.6), nil when the parameter is not a number.
    public var channels: Int? {
        guard let parameters = encodingParameters else { return 1 }
        return Int(parameters)
    }

    /// Whether the encoding name is `name`, ignoring case (encoding names are case-insensitive, RFC 4855).
    public func isEncoding(_ name: String) -> Bool { encodingName.lowercased() == name.lowercased() }
}

/// `a=fmtp`: format parameters, kept as written; ``parameterList`` splits the usual `name=value;...` form.
public struct FormatParameters: Hashable, Sendable {
    /// The format (a payload type for RTP media) as written.
    public var format: String
    /// Everything after the format and its space, as written.
    public var parameters: String

    public init(format: String, parameters: String) {
        self.format = format
        self.parameters = parameters
    }

    /// `parameters` split on `;` into names and values (a part without `=` has no value), spaces around parts removed.
    public var parameterList: [(name: String, value: String?)] {
        parameters.split(separator: ";").compactMap { part in
            let trimmed = part.trimmingSpaces
            if trimmed.isEmpty { return nil }
            if let equals = trimmed.firstIndex(of: "=") {
                return (String(trimmed[..<equals]), String(trimmed[trimmed.index(after: equals)...]))
            }
            return (String(trimmed), nil)
        }
    }

    /// The value of the first parameter called `name` (ignoring case), nil when absent or valueless.
    public func parameter(_ name: String) -> String? {
        let wanted = name.lowercased()
        return parameterList.first { $0.name.lowercased() == wanted }?.value
    }

    /// The payload type this applies to, when the format is one.
    public var payloadType: UInt8? { UInt8(format).flatMap { $0 <= 127 ? $0 : nil } }
}

/// `a=rtcp-fb`: one RTCP feedback message a payload type (or all, `*`) accepts.
public struct RTCPFeedback: Hashable, Sendable {
    /// nil for `*` (every payload type of the section).
    public var payloadType: UInt8?
    /// `nack`, `ccm`, `goog-remb`, `transport-cc`, ...
    public var type: String
    /// `pli` in `nack pli`, `fir` in `ccm fir`; nil when absent.
    public var parameter: String?

    public init(payloadType: UInt8?, type: String, parameter: String? = nil) {
        self.payloadType = payloadType
        self.type = type
        self.parameter = parameter
    }

    /// Whether this applies to `payloadType` (its own or the wildcard).
    public func applies(to payloadType: UInt8) -> Bool { self.payloadType == nil || self.payloadType == payloadType }
}

/// `a=extmap`: an RTP header extension and its identifier.
public struct ExtensionMap: Hashable, Sendable {
    /// 1-14 (one-byte), 1-255 (two-byte), or 4096-4351 (offered for negotiation), RFC 8285 §5-6.
    public var id: UInt16
    public var direction: MediaDirection?
    public var uri: String
    /// Extension attributes after the URI, as written.
    public var attributes: String?

    public init(id: UInt16, direction: MediaDirection? = nil, uri: String, attributes: String? = nil) {
        self.id = id
        self.direction = direction
        self.uri = uri
        self.attributes = attributes
    }

    /// RFC 6464 client-to-mixer audio level.
    public static let audioLevelURI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
}

/// `a=ssrc`: one source attribute.
public struct SSRCAttribute: Hashable, Sendable {
    public var ssrc: UInt32
    /// `cname`, `msid`, ...
    public var attribute: String
    public var value: String?

    public init(ssrc: UInt32, attribute: String, value: String? = nil) {
        self.ssrc = ssrc
        self.attribute = attribute
        self.value = value
    }
}

/// `a=ssrc-group`: sources related by `semantics` (`FID` for RTX, `SIM`, `FEC-FR`); the first is the primary.
public struct SSRCGroup: Hashable, Sendable {
    public var semantics: String
    public var ssrcs: [UInt32]

    public init(semantics: String, ssrcs: [UInt32]) {
        self.semantics = semantics
        self.ssrcs = ssrcs
    }
}

/// `a=msid`: the media stream (and track) a section's media belongs to.
public struct MediaStreamID: Hashable, Sendable {
    public var streamID: String
    /// The track identifier when given.
    public var appData: String?

    public init(streamID: String, appData: String? = nil) {
        self.streamID = streamID
        self.appData = appData
    }
}

/// `a=group`: media sections grouped by `semantics` (`BUNDLE`, `LS`, ...), named by their mids.
public struct MediaGroup: Hashable, Sendable {
    public var semantics: String
    public var mids: [String]

    public init(semantics: String, mids: [String]) {
        self.semantics = semantics
        self.mids = mids
    }

    /// Whether this is a BUNDLE group (RFC 8843), ignoring case.
    public var isBundle: Bool { semantics.uppercased() == "BUNDLE" }
}

/// A media direction attribute (RFC 8866 §6.7, RFC 3264 §6.1).
public enum MediaDirection: String, Hashable, Sendable, CaseIterable {
    case sendrecv, sendonly, recvonly, inactive

    /// Whether the side that wrote it sends.
    public var sends: Bool { self == .sendrecv || self == .sendonly }
    /// Whether the side that wrote it receives.
    public var receives: Bool { self == .sendrecv || self == .recvonly }

    /// The direction with the given sending and receiving.
    public init(sends: Bool, receives: Bool) {
        switch (sends, receives) {
        case (true, true): self = .sendrecv
        case (true, false): self = .sendonly
        case (false, true): self = .recvonly
        case (false, false): self = .inactive
        }
    }
}

/// `a=setup` (RFC 4145): which side opens the DTLS connection.
public enum SetupRole: String, Hashable, Sendable, CaseIterable {
    /// This side is the DTLS client.
    case active
    /// This side is the DTLS server.
    case passive
    /// Either (only in offers).
    case actpass
    /// Neither for now.
    case holdconn
}

/// `a=fingerprint` (RFC 8122): a certificate's hash.
public struct Fingerprint: Hashable, Sendable {
    /// The hash function name in lower case (`sha-256`).
    public var hashFunction: String
    public var bytes: [UInt8]

    public init(hashFunction: String, bytes: [UInt8]) {
        self.hashFunction = hashFunction.lowercased()
        self.bytes = bytes
    }

    /// A SHA-256 fingerprint (32 bytes).
    public static func sha256(_ bytes: [UInt8]) -> Fingerprint { Fingerprint(hashFunction: "sha-256", bytes: bytes) }

    /// Upper-case hex pairs joined by `:` as browsers write them.
    public var hexadecimal: String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for (index, byte) in bytes.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ":")) }
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The digest length of hash functions RFC 8122 names, nil for others.
    static func digestLength(of hashFunction: String) -> Int? {
        switch hashFunction {
        case "md2", "md5": 16
        case "sha-1": 20
        case "sha-224": 28
        case "sha-256": 32
        case "sha-384": 48
        case "sha-512": 64
        default: nil
        }
    }
}

extension Substring {
    var trimmingSpaces: Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}
