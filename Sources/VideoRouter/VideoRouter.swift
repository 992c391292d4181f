import RTP
import VideoFormats

/// The two video streams the bridge sends each receiver.
public enum VideoStreamKind: Int, Sendable, CaseIterable, CustomStringConvertible {
    /// The host's camera, or the site given the floor.
    case presenter = 0
    /// The current speaker (never the receiver itself, never its presenter).
    case speaker = 1

    public var description: String { self == .presenter ? "presenter" : "speaker" }
}

/// What the router asks of its owner, the media thread, which holds the sockets and SRTP sessions.
public protocol VideoSink: AnyObject {
    /// Protect `packet` (a plain RTP packet as its source sent it, in `codec`) for `receiver` with
    /// its header's SSRC, sequence number and timestamp replaced by these (and its payload type by
    /// the one the receiver uses for `codec`), and send it.
    /// - Returns: the packet exactly as protected and sent (valid until the sink is called again),
    ///   kept to answer the receiver's NACKs; nil if it was not sent.
    func forward(_ packet: UnsafeRawBufferPointer, codec: VideoCodec, to receiver: Int, ssrc: UInt32, sequenceNumber: UInt16,
                 timestamp: UInt32) -> UnsafeRawBufferPointer?
    /// Send `receiver` again a packet exactly as it was protected for it before (a repair): an SRTP
    /// index is never protected twice.
    func resend(_ protected: UnsafeRawBufferPointer, to receiver: Int)
    /// Send `source` a keyframe request about its video (a FIR when `fir`, else a PLI).
    func requestKeyframe(from source: Int, fir: Bool)
}

/// Per-site video figures for technicians (counters since the site joined).
public struct VideoSiteStatistics: Sendable, Equatable {
    public var bytesIn = 0
    public var packetsIn = 0
    public var framesIn = 0
    public var keyframesIn = 0
    public var bytesOut = 0
    public var packetsOut = 0
    /// Keyframe requests (PLI/FIR) the site sent about the streams it receives.
    public var keyframeRequestsReceived = 0
    /// Keyframe requests the bridge sent the site about its own video.
    public var keyframeRequestsSent = 0
    /// Packets the site asked for again (RFC 4585 NACK), how many the cache answered, and how many
    /// were in the cache but over the site's repair allowance (not sent).
    public var nacksReceived = 0
    public var nacksAnswered = 0
    public var nacksOverLimit = 0
    public var droppedOverRate = 0
    public var droppedOversize = 0
    public var droppedPayloadType = 0
    public var droppedNotAllowed = 0
    public var droppedMalformed = 0
    /// Source changes on the site's streams, and switches that waited too long for a keyframe.
    public var switches = 0
    public var switchTimeouts = 0
    /// Which site each of its streams shows now.
    public var presenterSource: Int? = nil
    public var speakerSource: Int? = nil

    public init() {}

    public var dropped: Int { droppedOverRate + droppedOversize + droppedPayloadType + droppedNotAllowed + droppedMalformed }
}

/// Forwards one meeting's video: per receiver a presenter and a speaker stream, each with a stable
/// SSRC, switched between sources only on a keyframe, with sequence numbers and timestamps rewritten
/// so they continue without a gap or a step back. Keyframe requests are coalesced and throttled per
/// source; NACKs are answered with the very bytes sent before, from a short cache per receiver;
/// each site's video is held to the policy's limits. Sources' sequence numbers are compared extended
/// to 64 bits, so streams run for any number of wraps.
///
/// Lives on the media thread. Time is passed in (monotonic nanoseconds). After a receiver's first
/// video packet (which allocates its repair cache) nothing here allocates.
public final class VideoRouter {
    public let policy: VideoPolicy
    /// The meeting's host, presenter unless the floor is given to another site.
    public let host: Int
    /// The site given the floor, if any.
    public private(set) var floor: Int?
    public var presenter: Int { floor ?? host }
    public var speaker: Int? { speakers.speaker }

    private var sites: [SiteState?]
    private var speakers: SpeakerSelector
    /// A source counts as sending video if a packet came within this time.
    private static let activeNanoseconds: Int64 = 2_000_000_000
    /// A request this soon after a keyframe was sent before its sender could have seen that keyframe.
    private static let staleRequestNanoseconds: Int64 = 250_000_000

    public init(capacity: Int, host: Int, policy: VideoPolicy) {
        self.policy = policy
        self.host = host
        sites = [SiteState?](repeating: nil, count: capacity)
        speakers = SpeakerSelector(hold: policy.speakerHoldNanoseconds)
    }

    public var isEmpty: Bool { !sites.contains { $0 != nil } }
    /// The sites the router holds state for (receivers and sources).
    public var siteCount: Int { sites.lazy.filter { $0 != nil }.count }

    /// A site joined: `streamSSRCs` are the SSRCs of the presenter and speaker streams sent to it.
    public func add(site: Int, presenterSSRC: UInt32, speakerSSRC: UInt32) {
        remove(site: site)
        sites[site] = SiteState(presenterSSRC: presenterSSRC, speakerSSRC: speakerSSRC)
    }

    public func remove(site: Int) {
        guard sites[site] != nil else { return }
        sites[site] = nil
        speakers.remove(site)
        if floor == site { floor = nil }
        for case let other? in sites {
            for kind in VideoStreamKind.allCases where other.streams[kind.rawValue].source == site {
                other.streams[kind.rawValue].source = nil
                other.streams[kind.rawValue].pending = nil
            }
        }
    }

    /// Gives the floor to `site` (nil: back to the host). Streams follow on the new presenter's keyframe.
    public func giveFloor(to site: Int?, now: Int64, sink: any VideoSink) {
        floor = site == host ? nil : site
        evaluate(now: now, sink: sink)
    }

    public func statistics(of site: Int) -> VideoSiteStatistics? {
        guard let state = sites[site] else { return nil }
        var s = state.statistics
        s.presenterSource = state.streams[0].source
        s.speakerSource = state.streams[1].source
        return s
    }

    /// The source a receiver's stream shows now (nil: none, or no such receiver).
    public func source(of kind: VideoStreamKind, for receiver: Int) -> Int? {
        sites[receiver]?.streams[kind.rawValue].source
    }

    // MARK: Packets from sources

    /// Takes a video packet (already authenticated and decrypted) from `site` and forwards it to
    /// every stream showing that site. `codec` is what the site's payload type stands for (nil: a
    /// type it did not negotiate). Packets over the limits, of unknown payload types, too large,
    /// malformed, or from a site not allowed to send are dropped and counted.
    public func receive(_ packet: UnsafeRawBufferPointer, header: RTPHeader, codec: VideoCodec?, from site: Int, now: Int64,
                        sink: any VideoSink) {
        guard let source = sites[site] else { return }
        if policy.senders == .presenters && site != host && site != floor {
            source.statistics.droppedNotAllowed += 1
            return
        }
        guard let codec else {
            source.statistics.droppedPayloadType += 1
            return
        }
        guard packet.count <= policy.maximumPacketBytes else {
            source.statistics.droppedOversize += 1
            return
        }
        guard source.admit(bytes: packet.count, now: now, policy: policy) else {
            source.statistics.droppedOverRate += 1
            return
        }
        guard let info = try? VideoPacketInfo.inspect(UnsafeRawBufferPointer(rebasing: packet[header.payloadRange]), codec: codec) else {
            source.statistics.droppedMalformed += 1
            return
        }
        source.lastVideoAt = now
        source.statistics.packetsIn += 1
        source.statistics.bytesIn += packet.count
        if !source.hasTimestamp || header.timestamp != source.lastTimestamp {
            if !source.hasTimestamp || Wrapping.isLaterTimestamp(header.timestamp, than: source.lastTimestamp) {
                source.statistics.framesIn += 1
            }
            source.hasTimestamp = true
            source.lastTimestamp = header.timestamp
        }
        let switchPoint = info.startsFrame && info.isKeyframe
        if switchPoint {
            if source.lastKeyframeTimestamp != header.timestamp || !source.sawKeyframe {
                source.statistics.keyframesIn += 1
                source.lastKeyframeTimestamp = header.timestamp
                source.sawKeyframe = true
            }
            source.requestPending = false  // this keyframe answers every request made before it
            source.keyframeSinceRequest = true
            source.lastKeyframeAt = now
        }
        let extended = source.extendSequence(header.sequenceNumber)

        for r in sites.indices where r != site {
            guard let receiver = sites[r] else { continue }
            for kind in VideoStreamKind.allCases {
                var stream = receiver.streams[kind.rawValue]
                if stream.source != site {
                    guard switchPoint, desiredSource(of: kind, for: r, current: stream.source, now: now) == site else { continue }
                    stream.switchTo(site, sequence: header.sequenceNumber, extendedSequence: extended,
                                    timestamp: header.timestamp, now: now)
                    receiver.statistics.switches += 1
                } else if extended < stream.firstSourceSequence {
                    continue  // older than the packet the stream switched on
                }
                let (sequence, timestamp) = stream.outgoing(sequence: header.sequenceNumber, timestamp: header.timestamp, now: now)
                receiver.streams[kind.rawValue] = stream
                guard let sent = sink.forward(packet, codec: codec, to: r, ssrc: stream.ssrc, sequenceNumber: sequence,
                                              timestamp: timestamp)
                else { continue }
                receiver.statistics.packetsOut += 1
                receiver.statistics.bytesOut += packet.count
                if receiver.sent == nil {
                    receiver.sent = SentPacketCache(bytes: policy.sentCacheBytes, slotsPerStream: policy.cacheSlots,
                                                    streams: VideoStreamKind.allCases.count)
                }
                receiver.sent!.store(sent, stream: kind.rawValue, sequence: sequence, now: now)
            }
        }
    }

    // MARK: Feedback from receivers

    /// Handles a receiver's feedback about one of its streams: NACKs are answered from the cache
    /// (what it cannot answer becomes a keyframe request), PLI and FIR go to the stream's source
    /// through that source's throttle.
    public func feedback(_ feedback: RTCPFastPath.Feedback, from site: Int, now: Int64, sink: any VideoSink) {
        guard let receiver = sites[site] else { return }
        switch feedback {
        case .pictureLoss(_, let media):
            guard let kind = receiver.kind(ofSSRC: media) else { return }
            receiver.statistics.keyframeRequestsReceived += 1
            if let source = receiver.streams[kind.rawValue].source { requestKeyframe(from: source, fir: false, now: now, sink: sink) }
        case .fullIntraRequest(_, let media, _):
            guard let kind = receiver.kind(ofSSRC: media) else { return }
            receiver.statistics.keyframeRequestsReceived += 1
            if let source = receiver.streams[kind.rawValue].source { requestKeyframe(from: source, fir: true, now: now, sink: sink) }
        case .nack(_, let media, let packetID, let bitmask):
            guard let kind = receiver.kind(ofSSRC: media) else { return }
            var unrepaired = false
            for bit in -1..<16 where bit < 0 || bitmask & (1 << bit) != 0 {
                let wanted = packetID &+ UInt16(bit + 1)
                receiver.statistics.nacksReceived += 1
                guard let packet = receiver.sent?.packet(stream: kind.rawValue, sequence: wanted, now: now,
                                                         window: policy.repairWindowNanoseconds)
                else {
                    unrepaired = true
                    continue
                }
                // A receiver cannot make the bridge resend without bound (a NACK can name thousands of packets).
                guard receiver.admitRepair(now: now, policy: policy) else {
                    receiver.statistics.nacksOverLimit += 1
                    continue
                }
                receiver.statistics.nacksAnswered += 1
                receiver.statistics.packetsOut += 1
                receiver.statistics.bytesOut += packet.count
                sink.resend(packet, to: site)
            }
            if unrepaired, let source = receiver.streams[kind.rawValue].source {
                requestKeyframe(from: source, fir: false, now: now, sink: sink)
            }
        }
    }

    // MARK: The tick

    /// Called every mixer tick with the loudest current talker: follows the speaker, starts and
    /// retries switches, and sends throttled keyframe requests that are due.
    public func tick(loudestTalker: Int?, now: Int64, sink: any VideoSink) {
        speakers.update(loudest: loudestTalker, now: now)
        evaluate(now: now, sink: sink)
    }

    private func evaluate(now: Int64, sink: any VideoSink) {
        for r in sites.indices {
            guard let receiver = sites[r] else { continue }
            for kind in VideoStreamKind.allCases {
                var stream = receiver.streams[kind.rawValue]
                let desired = desiredSource(of: kind, for: r, current: stream.source, now: now)
                if desired == stream.source {
                    stream.pending = nil
                } else if let desired, desired != stream.pending {
                    stream.pending = desired
                    stream.pendingSince = now
                    requestKeyframe(from: desired, fir: false, now: now, sink: sink)
                } else if let pending = stream.pending, now - stream.pendingSince >= policy.switchTimeoutNanoseconds {
                    // No keyframe yet: keep showing the current source and ask again.
                    receiver.statistics.switchTimeouts += 1
                    stream.pendingSince = now
                    requestKeyframe(from: pending, fir: false, now: now, sink: sink)
                }
                receiver.streams[kind.rawValue] = stream
            }
        }
        for s in sites.indices {
            guard let source = sites[s], source.requestPending, now - source.lastRequestAt >= policy.keyframeRequestIntervalNanoseconds
            else { continue }
            sendRequest(to: s, source: source, fir: source.pendingFIR, now: now, sink: sink)
        }
    }

    /// Which source a receiver's stream should show; the current one when nothing better sends video.
    private func desiredSource(of kind: VideoStreamKind, for receiver: Int, current: Int?, now: Int64) -> Int? {
        let presenter = self.presenter
        switch kind {
        case .presenter:
            guard presenter != receiver else { return nil }
            return isSending(presenter, now: now) ? presenter : current
        case .speaker:
            func eligible(_ site: Int?) -> Int? {
                guard let site, site != receiver, site != presenter, isSending(site, now: now) else { return nil }
                return site
            }
            return eligible(speakers.speaker) ?? eligible(speakers.previous) ?? (current == presenter ? nil : current)
        }
    }

    private func isSending(_ site: Int, now: Int64) -> Bool {
        guard let at = sites[site]?.lastVideoAt else { return false }
        return now - at < Self.activeNanoseconds
    }

    /// At most one request per source per interval. The first goes at once; one made within the
    /// interval is covered by it, unless the keyframe that answered it came long enough ago that
    /// the requester must have seen it (then the picture broke again): such requests wait and go
    /// out as one when the interval is over.
    private func requestKeyframe(from site: Int, fir: Bool, now: Int64, sink: any VideoSink) {
        guard let source = sites[site], source.lastVideoAt != nil else { return }
        if now - source.lastRequestAt >= policy.keyframeRequestIntervalNanoseconds {
            sendRequest(to: site, source: source, fir: fir, now: now, sink: sink)
        } else if source.keyframeSinceRequest && now - source.lastKeyframeAt >= Self.staleRequestNanoseconds {
            source.requestPending = true
            source.pendingFIR = source.pendingFIR || fir
        }
    }

    private func sendRequest(to site: Int, source: SiteState, fir: Bool, now: Int64, sink: any VideoSink) {
        source.lastRequestAt = now
        source.keyframeSinceRequest = false
        source.requestPending = false
        source.pendingFIR = false
        source.statistics.keyframeRequestsSent += 1
        sink.requestKeyframe(from: site, fir: fir)
    }
}
