#if canImport(Glibc)
import Glibc
#endif
import Admission
import CivilTime
import Configuration
import Foundation
import KeyDerivation
import SRTP
import Scheduler
import SiteDirectory
import Synchronization
import Transport
import VideoRouter

/// A failure to start or run the bridge.
public struct BridgeError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// `vcbridge serve`: the bridge process.
///
/// Threads: the media thread (``MediaEngine``: all media and codec/SRTP state); the join listener,
/// with one thread per signalling connection (the exchange, then notices to the site); the
/// schedule follower (reads new bookings every 250 ms, warns, ends meetings, applies revocations);
/// the control socket; and the main thread, which waits for SIGINT/SIGTERM.
public final class BridgeServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var dataDirectory: String
        public var settings: Settings
        public var listenAddress: String
        public var signalingPort: Int
        public var mediaPort: Int

        public init(dataDirectory: String, settings: Settings) {
            self.dataDirectory = dataDirectory
            self.settings = settings
            listenAddress = settings.listenAddress
            signalingPort = settings.signalingPort
            mediaPort = settings.mediaPort
        }
    }

    /// A site admitted to a meeting, as the control threads track it.
    final class Admitted: @unchecked Sendable {
        let site: Site
        let meeting: MeetingID
        let generation: Int
        let connection: TCPConnection
        let sendLock = Mutex(())
        var warnedAt: Set<Int> = []
        var knownEnd: Timestamp

        init(site: Site, meeting: MeetingID, generation: Int, connection: TCPConnection, end: Timestamp) {
            self.site = site
            self.meeting = meeting
            self.generation = generation
            self.connection = connection
            knownEnd = end
        }

        func send(_ message: [String: Any]) {
            let line = JoinProtocol.encode(message)
            sendLock.withLock { _ in try? connection.send(line: line) }
        }
    }

    let options: Options
    let directory = SiteDirectory.embedded
    let keys: SiteKeyStore
    let mailbox = MediaMailbox()
    let admitted = Mutex<[Int: Admitted]>([:])
    let store: Mutex<ScheduleStore>
    let listener: TCPListener
    let mediaSocket: Handoff<UDPSocket>
    public let signalingAddress: SocketAddress
    public let mediaAddress: SocketAddress
    let profile = SRTPProfile.aeadAES128GCM
    let running = Mutex(true)
    let controlPath: String
    /// Sites given the floor, per meeting (absent: the host presents).
    let floors = Mutex<[MeetingID: Int]>([:])
    let quality: QualityMonitor

    public init(options: Options) throws {
        self.options = options
        keys = SiteKeyStore(dataDirectory: options.dataDirectory)
        let rules = ScheduleRules(capacity: options.settings.bridgeCapacity, setupSeconds: options.settings.setupSeconds,
                                  maxOccurrences: options.settings.maxOccurrences)
        store = Mutex(try ScheduleStore(dataDirectory: options.dataDirectory, directory: directory, rules: rules))
        let host = try SocketAddress(ip: options.listenAddress, port: UInt16(options.signalingPort))
        listener = try TCPListener(bindTo: host)
        let media = try UDPSocket(bindTo: host.with(port: UInt16(options.mediaPort)), receiveBufferBytes: 4 << 20)
        try media.enableArrivalTimes()
        mediaSocket = Handoff(value: media)
        signalingAddress = listener.localAddress
        mediaAddress = media.localAddress
        controlPath = options.dataDirectory + "/bridge.sock"
        quality = QualityMonitor(settings: options.settings.quality, directory: directory, dataDirectory: options.dataDirectory)
    }

    /// Runs until SIGINT or SIGTERM, then ends every session cleanly.
    public func run() throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)  // every thread started below inherits the mask

        let media = mediaSocket
        let mailbox = self.mailbox
        let talkers = options.settings.talkers
        let lostAfter = options.settings.lostAfterSeconds
        let video = Self.videoPolicy(options.settings.video)
        let mediaThread = Thread {
            MediaEngine(socket: media.value, mailbox: mailbox, talkers: talkers, lostAfterSeconds: lostAfter, video: video).run()
        }
        mediaThread.name = "media"
        mediaThread.stackSize = 8 << 20
        mediaThread.start()
        Thread { self.acceptLoop() }.start()
        Thread { self.followSchedule() }.start()
        Thread { self.followQuality() }.start()
        let control = try ControlSocket(path: controlPath, server: self)
        Thread { control.serve() }.start()
        let http = try startMonitoring()

        Log.info("listening", ["signaling": signalingAddress, "media": mediaAddress, "control": controlPath,
                               "data": options.dataDirectory, "talkers": talkers])
        var received: Int32 = 0
        sigwait(&signals, &received)
        Log.info("stopping", ["signal": received == SIGINT ? "SIGINT" : "SIGTERM"])
        running.withLock { $0 = false }
        mailbox.post(.stop)
        for _ in 0..<100 where !mailbox.stopped.withLock({ $0 }) { usleep(10_000) }
        for session in admitted.withLock({ Array($0.values) }) {
            session.send(["type": "ended", "reason": "bridge-shutdown"])
            session.connection.shutdownBoth()
        }
        listener.close()
        control.close()
        http?.close()
        Log.info("stopped")
    }

    // MARK: Joins

    private func acceptLoop() {
        while running.withLock({ $0 }) {
            guard let connection = try? listener.accept() else { return }
            let handoff = Handoff(value: connection)
            Thread { self.serve(handoff.value) }.start()
        }
    }

    private func refuse(_ connection: TCPConnection, _ reason: JoinRefusal, site: String?, extra: [String: Any] = [:]) {
        var message: [String: Any] = ["type": "refused", "reason": reason.rawValue]
        message.merge(extra) { $1 }
        try? connection.send(line: JoinProtocol.encode(message))
        Log.warning("join-refused", ["site": site ?? "-", "reason": reason.rawValue, "peer": connection.peer.map { "\($0)" } ?? "-"])
        connection.close()
    }

    /// One signalling connection: the join exchange, then the session's lifetime.
    private func serve(_ connection: TCPConnection) {
        guard let helloLine = try? connection.receiveLine(timeoutMilliseconds: 5000),
              let hello = JoinProtocol.decode(helloLine), hello["type"] as? String == "hello",
              hello["version"] as? Int == JoinProtocol.version,
              let siteID = hello["site"] as? String,
              let siteNonce = JoinProtocol.bytes(hex: hello["nonce"], length: JoinProtocol.nonceLength)
        else { return refuse(connection, .malformed, site: nil) }
        guard let site = directory.site(siteID) else { return refuse(connection, .unknownSite, site: siteID) }
        // A site without a key (never provisioned, or revoked) cannot authenticate; it is told no more
        // than a wrong key would be, but only after a full exchange, so the two cannot be told apart.
        let key = try? keys.key(for: site.id)
        let secret = key?.secret ?? ((try? SecureRandom.bytes(SiteKey.secretLength)) ?? [UInt8](repeating: 0, count: 32))
        guard let bridgeNonce = try? SecureRandom.bytes(JoinProtocol.nonceLength),
              let sessionKeys = try? JoinProtocol.deriveKeys(secret: secret, site: site.id, siteNonce: siteNonce,
                                                             bridgeNonce: bridgeNonce,
                                                             keyingMaterialLength: profile.keyingMaterialLength),
              let bridgeProof = try? JoinProtocol.proof(.bridge, keys: sessionKeys, site: site.id, siteNonce: siteNonce,
                                                        bridgeNonce: bridgeNonce)
        else { return refuse(connection, .malformed, site: site.id) }
        try? connection.send(line: JoinProtocol.encode([
            "type": "challenge", "nonce": JoinProtocol.hex(bridgeNonce), "proof": JoinProtocol.hex(bridgeProof),
        ]))
        guard let proofLine = try? connection.receiveLine(timeoutMilliseconds: 5000),
              let proofMessage = JoinProtocol.decode(proofLine), proofMessage["type"] as? String == "proof",
              let proof = JoinProtocol.bytes(hex: proofMessage["proof"], length: 32),
              let expected = try? JoinProtocol.proof(.site, keys: sessionKeys, site: site.id, siteNonce: siteNonce,
                                                     bridgeNonce: bridgeNonce),
              let key, HMACSHA256.constantTimeEqual(proof, expected)
        else { return refuse(connection, .authenticationFailed, site: site.id) }

        // Authenticated. Is the site booked now (setup window included)?
        let now = Timestamp(wallClock().seconds)
        let (meeting, next) = store.withLock { store -> (Meeting?, Meeting?) in
            _ = try? store.refresh()
            let current = store.schedule.active(at: now).first { $0.sites.contains(site.index) }
            let upcoming = store.schedule.agenda(site: site.index, from: now, to: now + 366 * 86400)
                .first { $0.isActive && $0.sites.contains(site.index) && $0.reservedFrom > now }
            return (current, upcoming)
        }
        guard let meeting else {
            var extra: [String: Any] = [:]
            if let next {
                extra["next"] = ["meeting": Int(next.id), "title": next.title, "start": iso(next.start),
                                 "end": iso(next.end), "roomReadyFrom": iso(next.reservedFrom)]
            }
            return refuse(connection, .notBooked, site: site.id, extra: extra)
        }
        let endpointSSRC = UInt32.random(in: 1...UInt32.max)
        let bridgeSSRC = UInt32.random(in: 1...UInt32.max)
        let videoSSRC = UInt32.random(in: 1...UInt32.max)
        let presenterSSRC = UInt32.random(in: 1...UInt32.max)
        let speakerSSRC = UInt32.random(in: 1...UInt32.max)
        let session = Admitted(site: site, meeting: meeting.id, generation: key.generation, connection: connection, end: meeting.end)
        // The new session replaces an old one of the same site only now that it has authenticated.
        let replaced = admitted.withLock { sessions -> Admitted? in
            let old = sessions[site.index]
            sessions[site.index] = session
            return old
        }
        if let replaced {
            replaced.send(["type": "ended", "reason": "replaced"])
            replaced.connection.shutdownBoth()
        }
        mailbox.post(.add(SessionSetup(
            site: site.index, siteID: site.id, meeting: meeting.id, endpointSSRC: endpointSSRC, bridgeSSRC: bridgeSSRC,
            videoSSRC: videoSSRC, presenterSSRC: presenterSSRC, speakerSSRC: speakerSSRC, host: meeting.host,
            floor: floors.withLock { $0[meeting.id] },
            profile: profile, inboundKey: sessionKeys.siteToBridge, outboundKey: sessionKeys.bridgeToSite)))
        // A site given the floor that rejoins takes it back (the media thread forgot it when the site left).
        if floors.withLock({ $0[meeting.id] }) == site.index { mailbox.post(.floor(meeting: meeting.id, site: site.index)) }
        if !mailbox.waitUntilAdded(endpointSSRC, milliseconds: 500) {
            Log.warning("media-session-slow", ["site": site.id, "meeting": meeting.id])
        }
        let video = options.settings.video
        session.send([
            "type": "welcome", "meeting": Int(meeting.id), "title": meeting.title, "start": iso(meeting.start),
            "end": iso(meeting.end), "mediaPort": Int(mediaAddress.port), "ssrc": Int(endpointSSRC),
            "bridgeSSRC": Int(bridgeSSRC), "profile": "AEAD_AES_128_GCM", "payloadType": Int(MediaEngine.payloadType),
            "audioLevelId": Int(MediaEngine.audioLevelID),
            "video": [
                "ssrc": Int(videoSSRC), "presenterSSRC": Int(presenterSSRC), "speakerSSRC": Int(speakerSSRC),
                "payloadTypes": ["VP8": 96, "H264": 97], "maxPacketBytes": video.maxPacketBytes,
                "maxKilobitsPerSecond": video.maxKilobitsPerSecond,
                "maySend": video.senders == .all || site.index == meeting.host,
            ] as [String: Any],
        ])
        Log.info("join", ["site": site.id, "meeting": meeting.id, "peer": connection.peer.map { "\($0)" } ?? "-",
                          "generation": key.generation])
        quality.joined(site: site.index, meeting: meeting.id)

        // Until the site says bye or the connection drops.
        while running.withLock({ $0 }) {
            guard let line = try? connection.receiveLine(timeoutMilliseconds: 1000) else {
                if connection.peerClosed { break } else { continue }  // closed, or just quiet
            }
            if JoinProtocol.decode(line)?["type"] as? String == "bye" { break }
        }
        end(site: site.index, session: session, reason: "left", notify: false)
    }

    /// Ends a site's session (if `session` is still its current one).
    func end(site: Int, session: Admitted? = nil, reason: String, notify: Bool = true) {
        let removed = admitted.withLock { sessions -> Admitted? in
            guard let current = sessions[site], session == nil || current === session else { return nil }
            sessions[site] = nil
            return current
        }
        guard let removed else { return }
        mailbox.post(.remove(site: site, reason: reason))
        quality.ended(site: site, meeting: removed.meeting, reason: reason)
        if notify { removed.send(["type": "ended", "reason": reason]) }
        removed.connection.shutdownBoth()
        Log.info("session-ended", ["site": removed.site.id, "meeting": removed.meeting, "reason": reason])
    }

    // MARK: Following the schedule

    private func followSchedule() {
        while running.withLock({ $0 }) {
            usleep(250_000)
            let now = Timestamp(wallClock().seconds)
            for event in mailbox.events.withLock({ events -> [MediaEvent] in defer { events.removeAll() }; return events }) {
                if case .lost(let site, _) = event { end(site: site, reason: "lost") }
            }
            let sessions = admitted.withLock { Array($0.values) }
            let meetings = store.withLock { store -> [MeetingID: Meeting] in
                _ = try? store.refresh()
                var found: [MeetingID: Meeting] = [:]
                for s in sessions where found[s.meeting] == nil { found[s.meeting] = store.schedule.meeting(s.meeting) }
                return found
            }
            for s in sessions {
                guard let m = meetings[s.meeting], m.status == .scheduled, m.sites.contains(s.site.index) else {
                    end(site: s.site.index, session: s, reason: "cancelled")
                    continue
                }
                if now >= m.end {
                    end(site: s.site.index, session: s, reason: "meeting-over")
                    continue
                }
                if m.end != s.knownEnd {
                    s.knownEnd = m.end
                    s.warnedAt = s.warnedAt.filter { Int64($0) * 60 >= m.end - now }
                    s.send(["type": "extended", "end": iso(m.end)])
                }
                for minutes in [5, 1] where m.end - now <= Int64(minutes) * 60 && !s.warnedAt.contains(minutes) {
                    s.warnedAt.insert(minutes)
                    s.send(["type": "warning", "minutesLeft": minutes, "end": iso(m.end)])
                    Log.info("end-warning", ["site": s.site.id, "meeting": s.meeting, "minutes": minutes])
                }
            }
            // A revoked or rotated key ends the session. Keys change only by replacing or removing
            // files, which changes the directory: read them again only then.
            let stamp = keysDirectoryStamp()
            if stamp != lastKeysStamp {
                lastKeysStamp = stamp
                for s in sessions where (try? keys.key(for: s.site.id))??.generation != s.generation {
                    end(site: s.site.index, session: s, reason: "revoked")
                }
            }
        }
    }

    private var lastKeysStamp: Int64 = -1

    // MARK: Quality

    /// Once a second: live figures, alerts and history; hourly, the history retention.
    private func followQuality() {
        var nextRetention: Int64 = 0
        while running.withLock({ $0 }) {
            let now = monotonicNanoseconds()
            if now >= nextRetention {
                quality.applyRetention()
                nextRetention = now + 3_600_000_000_000
            }
            quality.step(statistics: mailbox.statistics.withLock { $0 }, now: now)
            usleep(1_000_000 - useconds_t((monotonicNanoseconds() - now) / 1000 % 1_000_000))
        }
    }

    /// The control socket's `quality` command: every site of the meetings in progress.
    func qualityView(site siteID: String?) -> [String: Any] {
        let now = Timestamp(wallClock().seconds)
        let meetings = store.withLock { store -> [Meeting] in
            _ = try? store.refresh()
            return store.schedule.active(at: now)
        }
        var detail: Int? = nil
        if let siteID {
            guard let site = directory.site(siteID) else { return ["type": "error", "error": "unknown site '\(siteID)'"] }
            detail = site.index
        }
        var view = quality.view(meetings: meetings, detailFor: detail)
        view["type"] = "quality"
        return view
    }

    /// The keys directory's modification time in nanoseconds (0 if it is missing).
    private func keysDirectoryStamp() -> Int64 {
        var st = stat()
        guard stat(keys.directory, &st) == 0 else { return 0 }
        return Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec)
    }

    func iso(_ t: Timestamp) -> String {
        let l = LocalDateTime(t, in: .vietnam)
        return "\(l.date)T\(l.timeText):\(l.second < 10 ? "0" : "")\(l.second)+07:00"
    }

    /// Gives a meeting's floor to a site (nil: back to the host). The site must be one of the meeting's.
    func giveFloor(meeting: MeetingID, site: Int?) {
        floors.withLock { $0[meeting] = site }
        mailbox.post(.floor(meeting: meeting, site: site))
        Log.info("floor", ["meeting": meeting, "site": site.map { directory.sites[$0].id } ?? "host"])
    }

    /// The control socket's `floor` command: by site (give it the floor of its current meeting) or by
    /// meeting (give the floor back to the host).
    func floorCommand(site siteID: String?, meeting meetingNumber: Int?) -> [String: Any] {
        let now = Timestamp(wallClock().seconds)
        let active = store.withLock { store -> [Meeting] in
            _ = try? store.refresh()
            return store.schedule.active(at: now)
        }
        if let siteID {
            guard let site = directory.site(siteID) else { return ["type": "error", "error": "unknown site '\(siteID)'"] }
            guard let meeting = active.first(where: { $0.sites.contains(site.index) }) else {
                return ["type": "error", "error": "site \(site.id) is in no meeting now"]
            }
            giveFloor(meeting: meeting.id, site: site.index == meeting.host ? nil : site.index)
            return ["type": "ok", "meeting": Int(meeting.id), "presenter": site.id]
        }
        if let meetingNumber {
            guard let meeting = active.first(where: { Int($0.id) == meetingNumber }) else {
                return ["type": "error", "error": "meeting \(meetingNumber) is not in progress"]
            }
            giveFloor(meeting: meeting.id, site: nil)
            return ["type": "ok", "meeting": Int(meeting.id), "presenter": directory.sites[meeting.host].id]
        }
        return ["type": "error", "error": "floor needs a site or a meeting"]
    }

    static func videoPolicy(_ settings: VideoSettings) -> VideoPolicy {
        var policy = VideoPolicy()
        policy.senders = settings.senders == .all ? .all : .presenters
        policy.maximumBitsPerSecond = settings.maxKilobitsPerSecond * 1000
        policy.maximumPacketsPerSecond = settings.maxPacketsPerSecond
        policy.maximumPacketBytes = settings.maxPacketBytes
        policy.keyframeRequestIntervalNanoseconds = Int64(settings.keyframeRequestIntervalMilliseconds) * 1_000_000
        policy.switchTimeoutNanoseconds = Int64(settings.switchTimeoutMilliseconds) * 1_000_000
        policy.repairWindowNanoseconds = Int64(settings.repairWindowMilliseconds) * 1_000_000
        policy.maximumRepairsPerSecond = settings.maxRepairsPerSecond
        policy.speakerHoldNanoseconds = Int64(settings.speakerHoldMilliseconds) * 1_000_000
        return policy
    }

    // MARK: Status for the control socket

    func status() -> [String: Any] {
        func finite(_ v: Double) -> Double { v.isFinite ? v : -1 }
        let stats = mailbox.statistics.withLock { $0 }
        let ticks = mailbox.ticks.withLock { $0 }
        return [
            "sites": stats.map { s -> [String: Any] in
                [
                    "site": s.siteID, "meeting": Int(s.meeting), "address": s.address, "talker": s.talker,
                    "packetsReceived": s.packetsReceived, "packetsLost": Int(s.packetsLost), "packetsSent": s.packetsSent,
                    "jitterMs": finite(s.jitterMilliseconds), "late": s.late, "duplicates": s.duplicates, "reordered": s.reordered,
                    "concealed": s.concealed, "recoveredByFEC": s.recoveredByFEC, "dtxFrames": s.dtxFrames,
                    "jitterBufferTargetMs": Int(s.jitterBufferTargetMilliseconds),
                    "jitterBufferDelayMs": Int(s.jitterBufferDelayMilliseconds), "level": s.level,
                    "talkerSeconds": finite(s.talkerSeconds), "authenticationFailures": s.authenticationFailures,
                    "replays": s.replays, "relatches": s.relatches, "remoteFractionLost": finite(s.remoteFractionLost),
                    "remoteJitterMs": finite(s.remoteJitterMilliseconds), "roundTripMs": finite(s.roundTripMilliseconds ?? -1),
                    "video": [
                        "inKbps": s.videoInKilobitsPerSecond, "outKbps": s.videoOutKilobitsPerSecond,
                        "framesPerSecond": s.videoFramesPerSecond, "keyframesPerSecond": s.videoKeyframesPerSecond,
                        "packetsIn": s.video.packetsIn, "packetsOut": s.video.packetsOut,
                        "framesIn": s.video.framesIn, "keyframesIn": s.video.keyframesIn,
                        "keyframeRequestsSent": s.video.keyframeRequestsSent,
                        "keyframeRequestsReceived": s.video.keyframeRequestsReceived,
                        "nacksReceived": s.video.nacksReceived, "nacksAnswered": s.video.nacksAnswered, "nacksOverLimit": s.video.nacksOverLimit,
                        "droppedOverRate": s.video.droppedOverRate, "droppedOversize": s.video.droppedOversize,
                        "droppedPayloadType": s.video.droppedPayloadType, "droppedNotAllowed": s.video.droppedNotAllowed,
                        "droppedMalformed": s.video.droppedMalformed, "switches": s.video.switches,
                        "switchTimeouts": s.video.switchTimeouts,
                        "presenter": s.presenterShown ?? "", "speaker": s.speakerShown ?? "",
                    ] as [String: Any],
                ]
            },
            "pid": Int(getpid()),
            "ticks": ticks.ticks, "tickLateP50Us": ticks.lateP50Microseconds, "tickLateP99Us": ticks.lateP99Microseconds,
            "encodesLastTick": ticks.encodesLastTick, "unknownSSRCPackets": ticks.unknownSSRCPackets,
            "malformedPackets": ticks.malformedPackets, "videoPacketsForwarded": ticks.videoPacketsForwarded,
            "videoForwardP50Us": ticks.videoForwardP50Microseconds, "videoForwardP99Us": ticks.videoForwardP99Microseconds,
        ]
    }
}
