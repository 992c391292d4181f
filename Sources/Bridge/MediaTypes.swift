#if canImport(Glibc)
import Glibc
#endif
import DTLS
import ICE
import Scheduler
import SRTP
import Synchronization
import VideoFormats
import VideoRouter

/// The RTP payload types one site uses: what it sends its audio and video with (what the bridge accepts), and what
/// the bridge sends it with. The same numbers both ways, except on a SIP call whose far end numbered a dynamic codec
/// differently from the bridge's SDP (RFC 3264 §5.1, §6.1: each side sends with the number the other listed).
struct PayloadTypes: Sendable, Equatable {
    var audio: UInt8
    /// The RFC 6464 audio-level header extension's id, if the site sends it.
    var audioLevelID: UInt8?
    var video: [UInt8: VideoCodec]
    /// What the bridge sends audio and video to the site with.
    var sentAudio: UInt8
    var sentVideo: [UInt8: VideoCodec]

    init(audio: UInt8, audioLevelID: UInt8?, video: [UInt8: VideoCodec], sentAudio: UInt8? = nil,
         sentVideo: [UInt8: VideoCodec]? = nil) {
        self.audio = audio
        self.audioLevelID = audioLevelID
        self.video = video
        self.sentAudio = sentAudio ?? audio
        self.sentVideo = sentVideo ?? video
    }

    /// What the native join's welcome announces.
    static let native = PayloadTypes(audio: 111, audioLevelID: 1, video: [96: .vp8, 97: .h264])

    /// The payload type the bridge sends `codec` to the site with; nil if the site did not agree to it.
    func payloadType(for codec: VideoCodec) -> UInt8? { sentVideo.first { $0.value == codec }?.key }
}

/// How a site's media is keyed and reached.
enum MediaTransport: Sendable {
    /// The native join: SRTP keys from the join; the address latches on the first authentic packet.
    case native(profile: SRTPProfile, inboundKey: [UInt8], outboundKey: [UInt8])
    /// A WebRTC peer: ICE-lite answers its checks (a valid check selects its address) and the DTLS
    /// handshake, on the handshake thread, gives the SRTP keys.
    case webRTC(ice: ICECredentials, remoteUfrag: String, peerFingerprint: DTLSFingerprint)
    /// A SIP room system: SDES keys from its offer and the bridge's answer; see ``SIPMediaSetup``.
    case sip(SIPMediaSetup)
}

/// A site's media session as the control side sets it up after a successful join.
struct SessionSetup: Sendable {
    let site: Int
    let siteID: String
    let meeting: MeetingID
    /// SSRC the site sends with (assigned by the bridge in the welcome).
    let endpointSSRC: UInt32
    /// SSRC of the bridge's stream to the site.
    let bridgeSSRC: UInt32
    /// SSRC the site sends its video with.
    let videoSSRC: UInt32
    /// SSRCs of the presenter and speaker video streams the bridge sends the site.
    let presenterSSRC: UInt32
    let speakerSSRC: UInt32
    /// The meeting's host site, and the site given the floor if any (the presenter).
    let host: Int
    let floor: Int?
    let transport: MediaTransport
    let payloadTypes: PayloadTypes
    /// For a peer that takes REMB (a browser): the most video it may send, told once a second.
    var videoCapBitsPerSecond: Int? = nil
}

enum MediaCommand: Sendable {
    case add(SessionSetup)
    /// A WebRTC site's DTLS handshake gave its SRTP keys (for the session whose site audio SSRC is `session`: a
    /// site that joined again since has another).
    case keys(site: Int, session: UInt32, DTLSSRTPKeys)
    /// A WebRTC site's DTLS session failed or closed.
    case transportFailed(site: Int, session: UInt32, reason: String)
    case remove(site: Int, reason: String)
    /// Gives a meeting's floor (the presenter video) to a site; nil gives it back to the host.
    case floor(meeting: MeetingID, site: Int?)
    /// A SIP site asked for a full picture (SIP INFO picture_fast_update, RFC 5168): the source of the video it is
    /// shown is asked for a keyframe (for the session whose site audio SSRC is `session`).
    case pictureFastUpdate(site: Int, session: UInt32)
    case stop
}

enum MediaEvent: Sendable {
    /// Nothing came from the site for the configured time (or its WebRTC transport failed). `ssrc`
    /// names the session (its audio SSRC, unique while it lives), so a site that has joined again
    /// since is not ended with it.
    case lost(site: Int, meeting: MeetingID, ssrc: UInt32)
}

/// Per-site figures the media thread publishes once a second.
public struct SiteMediaStatistics: Sendable, Equatable {
    /// Monotonic time the figures were taken (nanoseconds).
    public var at: Int64 = 0
    public var site: Int
    public var siteID: String
    public var meeting: MeetingID
    public var address: String
    /// How the site joined (`native`, `webrtc`, `sip`) and the audio codec it sends and hears.
    public var transport = "native"
    public var audioCodec = "opus"
    /// A SIP site's media (`srtp`, or `rtp` when its policy allows plain RTP and it sent no keys) and signalling
    /// transport (`udp`, `tcp`, `tls`); nil for other sites.
    public var sipMedia: String?
    public var sipSignalling: String?
    public var packetsReceived = 0
    public var bytesReceived = 0
    public var packetsLost: Int32 = 0
    public var jitterMilliseconds = 0.0
    public var authenticationFailures = 0
    public var replays = 0
    /// A room system's packets of another payload type than its audio (telephone-event, comfort noise), dropped.
    public var otherPayloadsDropped = 0
    public var relatches = 0
    public var packetsSent = 0
    public var talker = false
    public var talkerSeconds = 0.0
    /// Last RFC 6464 level heard (dBov; 127 silence).
    public var level = 127
    public var late = 0
    public var duplicates = 0
    public var reordered = 0
    public var concealed = 0
    public var recoveredByFEC = 0
    public var dtxFrames = 0
    public var jitterBufferTargetMilliseconds: Int64 = 0
    public var jitterBufferDelayMilliseconds: Int64 = 0
    /// Authentic RTCP packets from the site, and (a SIP room system without rtcp-mux) where its RTCP goes.
    public var rtcpPacketsReceived = 0
    public var rtcpAddress: String? = nil
    /// Playout adjustments in speech (time-stretching, webrtc-stats' names) and in pauses (whole frames).
    public var removedSamplesForAcceleration = 0
    public var insertedSamplesForDeceleration = 0
    public var framesDroppedInPauses = 0
    public var framesInsertedInPauses = 0
    /// What the site's own receiver reports say about the bridge's stream to it.
    public var remoteFractionLost = 0.0
    public var remoteJitterMilliseconds = 0.0
    public var roundTripMilliseconds: Double? = nil
    public var secondsSinceLastPacket = 0.0
    /// Video counters since the site joined, and rates over the last second.
    public var video = VideoSiteStatistics()
    public var videoInKilobitsPerSecond = 0.0
    public var videoOutKilobitsPerSecond = 0.0
    public var videoFramesPerSecond = 0.0
    public var videoKeyframesPerSecond = 0.0
    /// Ids of the sites its presenter and speaker streams show.
    public var presenterShown: String? = nil
    public var speakerShown: String? = nil
    /// For a peer that takes REMB: the most video it was last asked to send (bits per second), and
    /// the loss that decision followed (nil: nothing measured).
    public var rembBitsPerSecond: Int? = nil
    public var rembLossFraction: Double? = nil
    /// The worst fraction lost the site reported (RTCP report blocks, the last 2 s) about the
    /// presenter and speaker streams it receives; nil if none.
    public var videoReportedLossFraction: Double? = nil
}

/// Mixer clock figures.
public struct TickStatistics: Sendable, Equatable {
    public var ticks = 0
    public var lateP50Microseconds = 0
    public var lateP99Microseconds = 0
    /// Over the last 10 s only.
    public var lateP99RecentMicroseconds = 0
    /// Tick slices whose receive budget was spent with datagrams left in the socket, and the datagrams the
    /// kernel dropped on the media socket since start because its buffer was full (wraps at 2^32).
    public var receiveBudgetExhausted = 0
    public var receiveDroppedByKernel = 0
    public var encodesLastTick = 0
    public var unknownSSRCPackets = 0
    public var malformedPackets = 0
    /// STUN and DTLS datagrams not answered or taken: no session's ufrag, a check without valid
    /// integrity, a DTLS record from an address ICE did not select.
    public var refusedWebRTCPackets = 0
    /// Video copies sent since start, and how long each took from its source packet's arrival (the
    /// return of the read that got it) to the return of the send that carried it.
    public var videoPacketsForwarded = 0
    public var videoForwardP50Microseconds = 0
    public var videoForwardP99Microseconds = 0
}

/// How the control threads and the media thread talk: small queues behind mutexes, taken once
/// per tick by the media thread.
final class MediaMailbox: Sendable {
    let commands = Mutex<[MediaCommand]>([])
    let events = Mutex<[MediaEvent]>([])
    let statistics = Mutex<[SiteMediaStatistics]>([])
    let ticks = Mutex(TickStatistics())
    /// The sizes of the bridge's per-site and per-peer tables, each published by the thread that owns it.
    let structures = StructureCounts()
    let stopped = Mutex(false)
    /// Endpoint SSRCs of sessions the media thread has taken on (the join waits for its own before
    /// welcoming the site, so the site's first packets are not dropped as unknown).
    let added = Mutex<Set<UInt32>>([])
    /// Keyframe requests for SIP cameras that take them only by SIP INFO (no RTCP feedback agreed): the site and
    /// its session (site audio SSRC). The media thread appends (room kept, so no allocation); the SIP thread sends
    /// the INFOs and empties it.
    let pictureFastUpdates = Mutex<[(site: Int, session: UInt32)]>({
        var room: [(site: Int, session: UInt32)] = []
        room.reserveCapacity(MediaMailbox.maximumPictureFastUpdates)
        return room
    }())
    /// At most this many wait (the router asks each source at most once a second).
    static let maximumPictureFastUpdates = 256

    /// Waits (polling, at most `milliseconds`) until the media thread has the session for `ssrc`.
    func waitUntilAdded(_ ssrc: UInt32, milliseconds: Int) -> Bool {
        for _ in 0..<milliseconds {
            if added.withLock({ $0.remove(ssrc) != nil }) { return true }
            usleep(1000)
        }
        return false
    }

    func post(_ command: MediaCommand) { commands.withLock { $0.append(command) } }
}
