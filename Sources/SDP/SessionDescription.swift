/// A session description (RFC 8866): the session part and its media sections.
///
/// Parse outside text with ``init(parsing:limits:)-(String,_)``; write one with ``text``. Attributes keep
/// their order; the accessors in `SessionDescription+Accessors.swift` find typed ones and resolve values
/// that may be given at session or media level.
public struct SessionDescription: Hashable, Sendable {
    /// `o=`.
    public var origin: Origin
    /// `s=` (often `-`).
    public var sessionName: String
    /// `i=`.
    public var information: String?
    /// `c=` at session level.
    public var connection: ConnectionData?
    /// `b=` lines.
    public var bandwidths: [Bandwidth]
    /// `t=` lines with their `r=` lines.
    public var timings: [Timing]
    /// Fields kept as written: `u=`, `e=`, `p=` (written before `c=`), `z=`, `k=` (written after `t=`).
    public var otherFields: [SDPField]
    /// Session-level `a=` lines in order.
    public var attributes: [SDPAttribute]
    /// The media sections in order.
    public var media: [MediaDescription]

    public init(origin: Origin, sessionName: String = "-", information: String? = nil,
                connection: ConnectionData? = nil, bandwidths: [Bandwidth] = [],
                timings: [Timing] = [Timing(start: 0, stop: 0)], otherFields: [SDPField] = [],
                attributes: [SDPAttribute] = [], media: [MediaDescription] = []) {
        self.origin = origin
        self.sessionName = sessionName
        self.information = information
        self.connection = connection
        self.bandwidths = bandwidths
        self.timings = timings
        self.otherFields = otherFields
        self.attributes = attributes
        self.media = media
    }
}

/// One media section: its `m=` line and the lines after it.
public struct MediaDescription: Hashable, Sendable {
    /// `audio`, `video`, `application`, ... as written.
    public var kind: String
    /// 0 means rejected or disabled (RFC 3264 §6), unless the section is `bundle-only`.
    public var port: UInt16
    /// The `/<number of ports>` after the port, when given.
    public var portCount: Int?
    /// `UDP/TLS/RTP/SAVPF`, `RTP/AVP`, `UDP/DTLS/SCTP`, ...
    public var proto: String
    /// The formats as written: payload types for RTP protocols.
    public var formats: [String]
    /// `i=`.
    public var information: String?
    /// `c=` for this section.
    public var connection: ConnectionData?
    /// `b=` lines.
    public var bandwidths: [Bandwidth]
    /// `k=` lines (obsolete), kept as written.
    public var otherFields: [SDPField]
    /// `a=` lines in order.
    public var attributes: [SDPAttribute]

    public init(kind: String, port: UInt16, portCount: Int? = nil, proto: String, formats: [String],
                information: String? = nil, connection: ConnectionData? = nil, bandwidths: [Bandwidth] = [],
                otherFields: [SDPField] = [], attributes: [SDPAttribute] = []) {
        self.kind = kind
        self.port = port
        self.portCount = portCount
        self.proto = proto
        self.formats = formats
        self.information = information
        self.connection = connection
        self.bandwidths = bandwidths
        self.otherFields = otherFields
        self.attributes = attributes
    }
}

/// `o=<username> <sess-id> <sess-version> <nettype> <addrtype> <unicast-address>`.
public struct Origin: Hashable, Sendable {
    public var username: String
    /// Decimal digits, kept as written (browsers use up to 20 digits).
    public var sessionID: String
    /// Decimal digits, kept as written.
    public var sessionVersion: String
    public var networkType: String
    public var addressType: String
    public var address: String

    public init(username: String = "-", sessionID: String, sessionVersion: String, networkType: String = "IN",
                addressType: String = "IP4", address: String = "0.0.0.0") {
        self.username = username
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }
}

/// `c=<nettype> <addrtype> <connection-address>`.
public struct ConnectionData: Hashable, Sendable {
    public var networkType: String
    /// `IP4` or `IP6` (others kept as written).
    public var addressType: String
    /// The address, with any `/ttl` or `/count` suffix as written.
    public var address: String

    public init(networkType: String = "IN", addressType: String, address: String) {
        self.networkType = networkType
        self.addressType = addressType
        self.address = address
    }
}

/// `b=<bwtype>:<bandwidth>`.
public struct Bandwidth: Hashable, Sendable {
    /// `AS`, `CT`, `TIAS`, ...
    public var type: String
    /// kb/s for AS and CT, b/s for TIAS.
    public var value: UInt64

    public init(type: String, value: UInt64) {
        self.type = type
        self.value = value
    }
}

/// `t=<start> <stop>` and its `r=` lines.
public struct Timing: Hashable, Sendable {
    /// NTP seconds; 0 for unbounded.
    public var start: UInt64
    public var stop: UInt64
    /// `r=` lines as written.
    public var repeats: [String]

    public init(start: UInt64, stop: UInt64, repeats: [String] = []) {
        self.start = start
        self.stop = stop
        self.repeats = repeats
    }
}

/// A line kept as written: its type letter and value.
public struct SDPField: Hashable, Sendable {
    public var type: Character
    public var value: String

    public init(type: Character, value: String) {
        self.type = type
        self.value = value
    }
}
