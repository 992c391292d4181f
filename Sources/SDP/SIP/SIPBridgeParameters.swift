/// The bridge's side of a SIP call's media, as its offers and answers announce it: address, ports, SRTP keys.
/// Keys are made by the caller (a CSPRNG in the SIP layer), never inside SDP, so the same inputs write the same text.
public struct SIPBridgeParameters: Hashable, Sendable {
    /// The media address (an IPv4 or IPv6 literal) for `c=` and `o=`.
    public var address: String
    /// The audio RTP port; RTCP is the next port unless rtcp-mux is agreed.
    public var audioPort: UInt16
    /// The video RTP port; nil when the bridge takes no video on this call. It may be ``audioPort``: the bridge has one
    /// media socket and tells a call's streams apart by SSRC and payload type.
    public var videoPort: UInt16?
    /// The bridge's SRTP master key and salt for what it sends on audio, and on video.
    public var audioKey: SDESKey
    public var videoKey: SDESKey
    /// The highest H.264 level_idc the bridge receives and sends (0x1F: level 3.1, 720p30).
    public var h264MaxLevel: UInt8
    /// `o=` session id and version (the version goes up with each new offer or answer in a dialog, RFC 3264 §8).
    public var sessionID: UInt64
    public var sessionVersion: UInt64

    /// - Throws: ``SIPParameterError`` for an address that is not an IP literal, port 0, odd audio or video ports
    ///   (RTCP takes port + 1), equal keys for audio and video, or an H.264 level outside 1.0-5.2.
    public init(address: String, audioPort: UInt16, videoPort: UInt16? = nil, audioKey: SDESKey, videoKey: SDESKey,
                h264MaxLevel: UInt8 = 0x1F, sessionID: UInt64, sessionVersion: UInt64 = 1) throws(SIPParameterError) {
        guard IPAddressText.family(of: address) != nil else {
            throw SIPParameterError("'\(address)' is not an IPv4 or IPv6 address")
        }
        for port in [audioPort] + (videoPort.map { [$0] } ?? []) {
            guard port != 0, port % 2 == 0, port < UInt16.max else {
                throw SIPParameterError("RTP port \(port) must be even and not 0 (RTCP takes the next one)")
            }
        }
        guard audioKey != videoKey else { throw SIPParameterError("audio and video need different SRTP keys") }
        guard (10...52).contains(h264MaxLevel) else {
            throw SIPParameterError("H.264 level_idc \(h264MaxLevel) is outside 10-52")
        }
        self.address = address
        self.audioPort = audioPort
        self.videoPort = videoPort
        self.audioKey = audioKey
        self.videoKey = videoKey
        self.h264MaxLevel = h264MaxLevel
        self.sessionID = sessionID
        self.sessionVersion = sessionVersion
    }

    /// `IP4` or `IP6`.
    var addressType: String { IPAddressText.family(of: address) ?? "IP4" }
}

/// What a site's configuration allows on a SIP call.
public struct SIPMediaPolicy: Hashable, Sendable {
    /// Plain RTP only when a site's config says so (issue 15): then an offer without usable crypto is answered
    /// unencrypted, and the bridge's own offers use `RTP/AVP` with `a=crypto` (SRTP when the far end takes it,
    /// as baresip's `mediaenc=srtp` does), instead of `RTP/SAVP`.
    public var allowsPlainRTP: Bool
    /// Whether the bridge's own offers use the AVPF profile (`RTP/SAVPF`). Off by default: older room systems
    /// refuse an AVPF m-line, and the `a=rtcp-fb` lines are offered either way.
    public var offersAVPF: Bool

    public init(allowsPlainRTP: Bool = false, offersAVPF: Bool = false) {
        self.allowsPlainRTP = allowsPlainRTP
        self.offersAVPF = offersAVPF
    }
}

/// A bridge-side value that cannot go into a SIP offer or answer (a configuration or programming error).
public struct SIPParameterError: Error, Hashable, Sendable, CustomStringConvertible {
    public let detail: String
    init(_ detail: String) { self.detail = detail }
    public var description: String { "SIP media parameters: \(detail)" }
}
