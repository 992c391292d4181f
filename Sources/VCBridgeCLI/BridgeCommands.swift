#if canImport(Glibc)
import Glibc
#endif
import Admission
import AudioSignal
import Bridge
import Configuration
import DTLS
import Endpoint
import Foundation
import Impairment
import QualityModel
import SDP
import SRTP
import Transport
import VideoFormats

/// `vcbridge serve`.
struct ServeCommand: Command {
    static let name = "serve"
    static let abstract = "Run the bridge: joins, audio mixing for every meeting in progress, following the schedule live."
    static let usage = "vcbridge serve [--data-dir DIR] [--config FILE] [--listen ADDRESS] [--signal-port N] [--media-port N] [--sip-port N] [--sip-tls-port N]\n  ends cleanly on SIGINT or SIGTERM"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--listen", "--signal-port", "--media-port", "--sip-port", "--sip-tls-port"])
    }

    func run() throws {
        let context = try Context(arguments)
        var options = BridgeServer.Options(dataDirectory: context.dataDirectory, settings: context.settings)
        if let listen = try arguments.value("--listen") { options.listenAddress = listen }
        if let port = try arguments.integer("--signal-port", in: 0...65535) { options.signalingPort = port }
        if let port = try arguments.integer("--media-port", in: 0...65535) { options.mediaPort = port }
        if let port = try arguments.integer("--sip-port", in: 0...65535) { options.sipPort = port }
        if let port = try arguments.integer("--sip-tls-port", in: 0...65535) { options.sipTLSPort = port }
        if mkdir(context.dataDirectory, 0o750) != 0 && errno != EEXIST {
            throw StoreFailure("cannot create the data directory \(context.dataDirectory): \(String(cString: strerror(errno)))")
        }
        let server: BridgeServer
        do {
            server = try BridgeServer(options: options)
        } catch {
            throw CommandFailure("cannot start the bridge: \(error)")
        }
        try server.run()
    }
}

/// `vcbridge site key|revoke`.
struct SiteCommand: Command {
    static let name = "site"
    static let abstract = "Create or rotate a site's secret (writing the key file for its technician), or revoke it."
    static let usage = "vcbridge site key SITE [--out FILE]\n       vcbridge site revoke SITE"

    let action: String
    let arguments: Arguments

    init(arguments: [String]) throws {
        guard let action = arguments.first, ["key", "revoke"].contains(action) else {
            throw ValidationError("expected 'key' or 'revoke'")
        }
        self.action = action
        self.arguments = try Arguments(Array(arguments.dropFirst()), options: action == "key" ? ["--out"] : [], positionals: 1)
        guard self.arguments.positionals.count == 1 else { throw ValidationError("missing SITE") }
    }

    func run() throws {
        let context = try Context(arguments)
        let site = try context.site(arguments.positionals[0], option: "SITE")
        if mkdir(context.dataDirectory, 0o750) != 0 && errno != EEXIST {
            throw StoreFailure("cannot create the data directory \(context.dataDirectory): \(String(cString: strerror(errno)))")
        }
        let store = SiteKeyStore(dataDirectory: context.dataDirectory)
        do {
            switch action {
            case "key":
                let key = try store.rotate(site: site.id, siteName: site.name)
                let out = try arguments.value("--out") ?? "\(site.id).key"
                try store.writeOwnerOnly(key.fileText(siteName: site.name), to: out)
                Output.line("\(key.generation == 1 ? "created" : "rotated") the key of \(site.name) (\(site.id)), generation \(key.generation); key file for its technician: \(out) (owner-only)")
                Output.line(Self.sipLine(key, settings: context.settings))
                if key.generation > 1 { _ = endRunningSession(context, site: site.id, reason: "key-rotated") }
            default:
                guard try store.revoke(site: site.id) else { throw CommandFailure("\(site.id) has no key to revoke") }
                let ended = endRunningSession(context, site: site.id, reason: "revoked")
                Output.line("revoked the key of \(site.name) (\(site.id)); it is refused until a new key is made"
                    + (ended ? "; its session on the running bridge was ended" : ""))
            }
        } catch let error as KeyStoreError {
            throw StoreFailure(error.description)
        }
    }

    /// What a hall's SIP room system is configured with (docs/PROTOCOL.md, "SIP room systems"): the URI to dial,
    /// the digest username (the site's id) and password (derived from its secret), SRTP by SDES.
    static func sipLine(_ key: SiteKey, settings: Settings) -> String {
        let password = (try? SIPDigestPassword.password(site: key.site, secret: key.secret)) ?? "(cannot be derived)"
        let host = ["0.0.0.0", "::"].contains(settings.listenAddress) ? "BRIDGE-ADDRESS" : settings.listenAddress
        let hostText = host.contains(":") ? "[\(host)]" : host
        let port = settings.sipPort ?? 5060
        let tls = settings.sipTLSPort.map { " (or over TLS: sip:meeting@\(hostText):\($0);transport=tls)" } ?? ""
        return "SIP room system: dial sip:meeting@\(hostText):\(port)\(tls), digest username \(key.site), password \(password), "
            + "SRTP (SDES) mandatory\(settings.sipPort == nil ? " (SIP is off on this bridge: sip.enabled in its settings)" : "")"
    }

    /// Asks a running bridge (through its control socket) to end the site's session now.
    private func endRunningSession(_ context: Context, site: String, reason: String) -> Bool {
        guard let answer = try? controlRequest(context.dataDirectory, ["command": "end", "site": site, "reason": reason]) else {
            return false
        }
        return answer["type"] as? String == "ok"
    }
}

/// One request to the running bridge's control socket.
func controlRequest(_ dataDirectory: String, _ request: [String: Any]) throws -> [String: Any] {
    let path = dataDirectory + "/bridge.sock"
    let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw CommandFailure("cannot create a socket") }
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { close(fd); throw CommandFailure("path too long") }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        raw.copyBytes(from: bytes)
        raw[bytes.count] = 0
    }
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
    }
    guard connected == 0 else {
        let code = errno
        close(fd)
        if code == EACCES || code == EPERM {
            throw CommandFailure("permission denied on the bridge's control socket \(path): it is the bridge's owner's only; "
                                 + "run this as the user the bridge runs as")
        }
        throw CommandFailure("no bridge is running with data directory \(dataDirectory) (\(path))")
    }
    let connection = TCPConnection(descriptor: fd, peer: nil)
    connection.maximumLine = 16 << 20  // a status of every site is long
    try connection.send(line: JoinProtocol.encode(request))
    guard let line = try connection.receiveLine(timeoutMilliseconds: 5000),
          let answer = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else { throw CommandFailure("the bridge did not answer") }
    return answer
}

/// `vcbridge endpoint`.
struct EndpointCommand: Command {
    static let name = "endpoint"
    static let abstract = "Join as a site with its key file: send a tone or a WAV file, record what is heard, report reception."
    static let usage = "vcbridge endpoint --key-file FILE --bridge HOST:PORT [--site SITE] [--tone HZ [--talk ON/OFF[+OFFSET]] | --wav FILE | --silent] [--record FILE] [--duration D] [--media-via HOST:PORT] [--dump-sent FILE] [--dump-heard FILE] [--video FILE [--fps N] [--video-loop]] [--record-video PREFIX] [--json]\n  --video: send encoded video at its frame rate: VP8 in IVF (.ivf) or H.264 Annex B (.h264/.264, --fps, default 25)\n  --record-video: write the presenter and speaker video received to PREFIX-presenter.ivf|.h264 and PREFIX-speaker...\n  --dump-sent: write every sent audio packet (sequence, timestamp, Opus payload in hex, monotonic ns), for quality benchmarks\n  --dump-heard: write every audio packet received from the bridge the same way (with its arrival time)\n  --media-via: send media through an impairment relay (vcbridge relay) instead of straight to the bridge\n  --talk 4s/6s+2s: the tone talks 4 s, is silent 6 s, starting 2 s into that cycle"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--site", "--key-file", "--bridge", "--media-via", "--tone", "--talk", "--wav", "--record", "--duration", "--dump-sent", "--dump-heard",
                                                         "--video", "--fps", "--record-video"],
                                       flags: ["--silent", "--json", "--video-loop"])
        _ = try self.arguments.required("--key-file")
        _ = try self.arguments.required("--bridge")
        let sources = [try self.arguments.value("--tone"), try self.arguments.value("--wav")].compactMap { $0 }.count
            + (self.arguments.flag("--silent") ? 1 : 0)
        guard sources <= 1 else { throw ValidationError("give one of --tone, --wav, --silent") }
    }

    func run() throws {
        let keyPath = try arguments.required("--key-file")
        let key: SiteKey
        do { key = try SiteKey(contentsOfFile: keyPath) } catch { throw CommandFailure("--key-file: \(error)") }
        if let site = try arguments.value("--site"), site != key.site {
            throw ValidationError("--site \(site) does not match the key file, which is for \(key.site)")
        }
        let bridge: SocketAddress
        do { bridge = try SocketAddress(parsing: try arguments.required("--bridge")) } catch {
            throw ValidationError("--bridge must be a numeric HOST:PORT, like 127.0.0.1:7400")
        }
        let source: ReferenceEndpoint.Source
        if let tone = try arguments.value("--tone") {
            guard let hz = Double(tone), hz > 20, hz < 20_000 else { throw ValidationError("--tone must be a frequency in Hz (20-20000)") }
            if let talk = try arguments.value("--talk") {
                let context = try Context(arguments)
                let parts = talk.split(separator: "+")
                let onOff = parts[0].split(separator: "/")
                guard onOff.count == 2, parts.count <= 2 else { throw ValidationError("--talk must look like 4s/6s or 4s/6s+2s") }
                let on = Double(try context.duration(String(onOff[0]), option: "--talk"))
                let off = Double(try context.duration(String(onOff[1]), option: "--talk"))
                let offset = parts.count == 2 ? Double(try context.duration(String(parts[1]), option: "--talk")) : 0
                guard on > 0, off >= 0 else { throw ValidationError("--talk needs a talking time above zero") }
                source = .talkingTone(frequency: hz, amplitude: 0.25, on: on, off: off, offset: offset)
            } else {
                source = .tone(frequency: hz, amplitude: 0.25)
            }
        } else if let wav = try arguments.value("--wav") {
            do { source = .samples(try WAVFile.read(wav)) } catch { throw ValidationError("--wav: \(error)") }
        } else if arguments.flag("--silent") {
            source = .silence
        } else {
            source = .tone(frequency: 440, amplitude: 0.25)
        }
        var duration: Double? = nil
        if let text = try arguments.value("--duration") {
            let context = try Context(arguments)
            duration = Double(try context.duration(text, option: "--duration"))
        }
        var options = ReferenceEndpoint.Options(key: key, bridge: bridge, source: source, duration: duration)
        if let via = try arguments.value("--media-via") {
            do { options.mediaVia = try SocketAddress(parsing: via) } catch { throw ValidationError("--media-via must be a numeric HOST:PORT") }
        }
        options.keepSentPackets = try arguments.value("--dump-sent") != nil
        options.keepHeardPackets = try arguments.value("--dump-heard") != nil
        if let path = try arguments.value("--video") {
            options.video = try readVideoFile(path, fps: try arguments.integer("--fps", in: 1...120) ?? 25)
            options.videoLoop = arguments.flag("--video-loop")
        } else if try arguments.value("--fps") != nil || arguments.flag("--video-loop") {
            throw ValidationError("--fps and --video-loop need --video FILE")
        }
        let endpoint = ReferenceEndpoint(options: options)
        // SIGINT stops the endpoint cleanly (it says goodbye and writes its recording).
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        let blocked = signals
        let stopper = Thread {
            var received: Int32 = 0
            var set = blocked
            sigwait(&set, &received)
            endpoint.stopRequested.withLock { $0 = true }
        }
        stopper.start()
        let report: ReferenceEndpoint.Report
        do {
            report = try endpoint.run()
        } catch let error as EndpointError {
            throw CommandFailure(error.description)
        }
        if let path = try arguments.value("--record") {
            try WAVFile.write(report.recording, to: path)
        }
        for (option, packets) in [("--dump-sent", report.sentPackets), ("--dump-heard", report.heardPackets)] {
            guard let path = try arguments.value(option) else { continue }
            try (packets.map(\.line).joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        if let prefix = try arguments.value("--record-video") {
            for (name, recorder) in [("presenter", report.presenterVideo), ("speaker", report.speakerVideo)] {
                guard let recorder, !recorder.frames.isEmpty else { continue }
                let file = VideoFile(codec: recorder.codec, rate: options.video?.rate ?? 30, scale: options.video?.scale ?? 1,
                                     frames: recorder.frames)
                let path = "\(prefix)-\(name).\(recorder.codec == .vp8 ? "ivf" : "h264")"
                guard FileManager.default.createFile(atPath: path, contents: Data(file.serialized())) else {
                    throw CommandFailure("cannot write \(path)")
                }
            }
        }
        let j = report.jitterBuffer
        var videoLines: [String] = []
        var videoJSON: [String: String] = [:]
        if let v = report.videoSent {
            videoLines.append("  video out \(v.sent.count) frames (\(v.sent.filter(\.isKeyframe).count) keyframes), \(v.packetsSent) packets, "
                + "\(v.keyframeRequests) keyframe requests answered (\(v.framesSkipped) frames skipped to a keyframe)")
            videoJSON["videoFramesSent"] = "\(v.sent.count)"
            videoJSON["videoKeyframeRequests"] = "\(v.keyframeRequests)"
        }
        for (name, recorder) in [("presenter", report.presenterVideo), ("speaker", report.speakerVideo)] {
            guard let r = recorder else { continue }
            let t = r.statistics
            videoLines.append("  \(name.padding(toLength: 9, withPad: " ", startingAt: 0)) \(t.frames) frames (\(t.keyframes) keyframes), "
                + "\(t.packets) packets, \(t.packetsLost) lost, \(t.packetsRecovered) repaired, \(t.framesDropped) frames dropped, "
                + "\(t.freezes) freezes (\(String(format: "%.1f", t.freezeSeconds)) s); asked \(t.nacksSent) NACKs, \(t.keyframeRequestsSent) keyframes")
            videoJSON["\(name)Frames"] = "\(t.frames)"
            videoJSON["\(name)Keyframes"] = "\(t.keyframes)"
            videoJSON["\(name)PacketsLost"] = "\(t.packetsLost)"
            videoJSON["\(name)FramesDropped"] = "\(t.framesDropped)"
            videoJSON["\(name)Freezes"] = "\(t.freezes)"
            videoJSON["\(name)PacketsRepaired"] = "\(t.packetsRecovered)"
            videoJSON["\(name)TimestampRegressions"] = "\(t.timestampRegressions)"
        }
        if arguments.flag("--json") {
            try printJSON([
                "site": key.site, "meeting": "\(report.meeting)", "endedBy": report.endedBy,
                "seconds": String(format: "%.1f", report.seconds), "packetsSent": "\(report.packetsSent)",
                "packetsReceived": "\(report.packetsReceived)", "packetsLost": "\(report.packetsLost)",
                "jitterMs": String(format: "%.1f", report.jitterMilliseconds), "late": "\(j.packetsLate)",
                "authenticationFailures": "\(report.authenticationFailures)", "duplicates": "\(report.duplicates)", "encoderExpectedLossPercent": "\(report.encoderExpectedLossPercent)",
                "concealed": "\(j.framesConcealed)", "recoveredByFEC": "\(j.framesRecoveredByFEC)",
                "jitterBufferTargetMs": "\(j.targetDelayMilliseconds)",
                // Each time the bridge was lost and joined again, comma-separated in order.
                "rejoins": "\(report.rejoins.count)",
                "lostAtUnixMs": report.rejoins.map { "\($0.lostAtUnixMilliseconds)" }.joined(separator: ","),
                "rejoinedAtUnixMs": report.rejoins.map { $0.rejoinedAtUnixMilliseconds.map { "\($0)" } ?? "-" }.joined(separator: ","),
                "rejoinAttempts": report.rejoins.map { "\($0.attempts)" }.joined(separator: ","),
                "rejoinRecordingSample": report.rejoins.map { "\($0.recordingOffset)" }.joined(separator: ","),
                "firstJoinAttempts": "\(report.firstJoinAttempts)",
            ].merging(videoJSON) { a, _ in a })
            return
        }
        Output.line("""
            \(key.site): meeting #\(report.meeting) "\(report.title)", \(String(format: "%.1f", report.seconds)) s, ended by \(report.endedBy)
              sent      \(report.packetsSent) packets
              received  \(report.packetsReceived) packets, \(report.packetsLost) lost, jitter \(String(format: "%.1f", report.jitterMilliseconds)) ms, \(report.authenticationFailures) failed authentication, \(report.duplicates) duplicates
              playout   \(j.framesPlayed) frames played, \(j.framesRecoveredByFEC) rebuilt by FEC, \(j.framesConcealed) concealed, \(j.packetsLate) late, \(j.framesDTX) DTX; buffer target \(j.targetDelayMilliseconds) ms
            """)
        for r in report.rejoins {
            let back = r.rejoinedAtUnixMilliseconds.map { "joined again \(String(format: "%.2f", Double($0 - r.lostAtUnixMilliseconds) / 1000)) s later" } ?? "not joined again"
            Output.line("  rejoin    bridge lost (\(r.reason)), \(back) after \(r.attempts) attempt(s), fresh keys")
        }
        for line in videoLines { Output.line(line) }
        for notice in report.notices { Output.line("  notice    \(notice)") }
    }
}

/// Reads a video file: IVF (VP8) by its signature, otherwise an H.264 Annex B stream at `fps`.
func readVideoFile(_ path: String, fps: Int) throws -> VideoFile {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("--video: cannot read \(path)") }
    let bytes = [UInt8](data)
    do {
        let file = bytes.starts(with: Array("DKIF".utf8)) ? try VideoFile.parseIVF(bytes) : try VideoFile.parseAnnexB(bytes, framesPerSecond: fps)
        guard file.frames.first?.isKeyframe == true else { throw ValidationError("--video: \(path) does not start with a keyframe") }
        return file
    } catch let error as VideoFormatError {
        throw ValidationError("--video: \(path): \(error)")
    }
}

/// The E-model estimate for what the bridge receives from a site: loss that concealment had to
/// cover, and one-way delay of half the round trip plus the bridge's jitter buffer.
private func mosText(_ s: [String: Any], model: EModel, thresholds: QualityThresholds) -> String {
    func number(_ key: String) -> Double { (s[key] as? Double) ?? Double(s[key] as? Int ?? 0) }
    let played = number("packetsReceived") + number("concealed")
    guard played > 0 else { return "-" }
    let lossPercent = 100 * number("concealed") / played
    let delay = max(0, number("roundTripMs")) / 2 + number("jitterBufferDelayMs")
    let mos = model.mos(lossPercent: lossPercent, oneWayDelayMilliseconds: delay)
    return String(format: "%.2f %@", mos, thresholds.grade(mos: mos).rawValue)
}

/// `vcbridge status`: the running bridge's sites, as technicians watch them.
struct StatusCommand: Command {
    static let name = "status"
    static let abstract = "Show the running bridge's sites: state, talkers, loss, jitter, buffer delay, concealment, round trip."
    static let usage = "vcbridge status [--data-dir DIR] [--json]"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: [], flags: ["--json"])
    }

    func run() throws {
        let context = try Context(arguments)
        let status = try controlRequest(context.dataDirectory, ["command": "status"])
        if arguments.flag("--json") {
            let data = try JSONSerialization.data(withJSONObject: status, options: [.prettyPrinted, .sortedKeys])
            Output.line(String(decoding: data, as: UTF8.self))
            return
        }
        let sites = (status["sites"] as? [[String: Any]] ?? []).sorted { ($0["site"] as? String ?? "") < ($1["site"] as? String ?? "") }
        Output.line("bridge pid \(status["pid"] ?? "?"): \(sites.count) site(s) connected; mixer tick late p50 \(status["tickLateP50Us"] ?? 0) µs, "
            + "p99 \(status["tickLateP99Us"] ?? 0) µs; \(status["encodesLastTick"] ?? 0) encode(s) last tick")
        guard !sites.isEmpty else { return }
        var table = Table(["SITE", "NAME", "MEETING", "TALKING", "LEVEL", "RECV", "LOST", "JITTER", "BUFFER", "CONCEALED", "FEC", "RTT",
                           "AUTH FAIL", "MOS (EST.)", "VIDEO IN", "VIDEO OUT", "SHOWS"])
        let model = EModel()
        let q = context.settings.quality  // the same grades as `vcbridge quality`
        let thresholds = QualityThresholds(good: q.goodMOS, fair: q.fairMOS, poor: q.poorMOS)
        func number(_ key: String, _ s: [String: Any]) -> Double { (s[key] as? Double) ?? Double(s[key] as? Int ?? 0) }
        for s in sites {
            let id = s["site"] as? String ?? "?"
            let rtt = number("roundTripMs", s)
            table.add([
                id, context.directory.site(id)?.name ?? "?", "#\(s["meeting"] ?? "?")", (s["talker"] as? Bool ?? false) ? "yes" : "",
                "-\(s["level"] ?? 127) dBov", "\(s["packetsReceived"] ?? 0)", "\(s["packetsLost"] ?? 0)",
                String(format: "%.1f ms", number("jitterMs", s)),
                "\(s["jitterBufferDelayMs"] ?? 0)/\(s["jitterBufferTargetMs"] ?? 0) ms", "\(s["concealed"] ?? 0)",
                "\(s["recoveredByFEC"] ?? 0)", rtt < 0 ? "-" : String(format: "%.1f ms", rtt), "\(s["authenticationFailures"] ?? 0)",
                mosText(s, model: model, thresholds: thresholds), videoIn(s["video"] as? [String: Any] ?? [:]),
                String(format: "%.0f kb/s", number("outKbps", s["video"] as? [String: Any] ?? [:])),
                videoShown(s["video"] as? [String: Any] ?? [:]),
            ])
        }
        Output.line(table.render())
    }
}

/// "1480 kb/s 25 fps" (and dropped packets if any) for a site's video in, or "-" when it sends none.
private func videoIn(_ v: [String: Any]) -> String {
    func number(_ key: String) -> Double { (v[key] as? Double) ?? Double(v[key] as? Int ?? 0) }
    guard number("packetsIn") > 0 else { return "-" }
    let dropped = ["droppedOverRate", "droppedOversize", "droppedPayloadType", "droppedNotAllowed", "droppedMalformed"]
        .reduce(0) { $0 + number($1) }
    // A browser's camera is asked (REMB) for at most this much, less while its video is lost.
    let asked = number("rembKbps") > 0 ? String(format: ", asked ≤ %.0f", number("rembKbps")) : ""
    return String(format: "%.0f kb/s %.0f fps", number("inKbps"), number("framesPerSecond"))
        + (dropped > 0 ? String(format: ", %.0f dropped", dropped) : "") + asked
}

/// Which sites a receiver's presenter and speaker streams show.
private func videoShown(_ v: [String: Any]) -> String {
    let presenter = v["presenter"] as? String ?? ""
    let speaker = v["speaker"] as? String ?? ""
    if presenter.isEmpty && speaker.isEmpty { return "-" }
    return "\(presenter.isEmpty ? "-" : presenter) / \(speaker.isEmpty ? "-" : speaker)"
}

/// `vcbridge relay`: the seeded impairment relay.
struct RelayCommand: Command {
    static let name = "relay"
    static let abstract = "Relay UDP media between endpoints and the bridge with seeded loss, bursts, delay, jitter and duplication."
    static let usage = """
        vcbridge relay --listen HOST:PORT --to HOST:PORT [--seed N] [--loss PERCENT] [--burst PACKETS] [--delay MS] [--jitter MS]
                       [--duplicate PERCENT] [--uplink-only] [--duration D] [--fate-log FILE]
          endpoints send media to --listen (vcbridge endpoint --media-via HOST:PORT); --to is the bridge's media port.
          --jitter is the standard deviation of a normal delay around --delay (packets overtake each other);
          --burst > 1 makes losses come in Gilbert-Elliott bursts of that mean length.
        """

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--listen", "--to", "--seed", "--loss", "--burst", "--delay", "--jitter",
                                                             "--duplicate", "--duration", "--fate-log"], flags: ["--uplink-only"])
        _ = try self.arguments.required("--listen")
        _ = try self.arguments.required("--to")
    }

    private func number(_ name: String, in range: ClosedRange<Double>) throws -> Double {
        guard let text = try arguments.value(name) else { return 0 }
        guard let v = Double(text), range.contains(v) else {
            throw ValidationError("\(name) must be a number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return v
    }

    func run() throws {
        let listen: SocketAddress, to: SocketAddress
        do {
            listen = try SocketAddress(parsing: try arguments.required("--listen"))
            to = try SocketAddress(parsing: try arguments.required("--to"))
        } catch {
            throw ValidationError("--listen and --to must be numeric HOST:PORT")
        }
        let profile = ImpairmentProfile(
            loss: try number("--loss", in: 0...100) / 100, meanBurst: max(1, try number("--burst", in: 0...100)),
            delayMilliseconds: try number("--delay", in: 0...5000), jitterMilliseconds: try number("--jitter", in: 0...2000),
            duplicate: try number("--duplicate", in: 0...100) / 100)
        let seed = UInt64(try arguments.integer("--seed", in: 0...Int.max) ?? 1)
        var duration: Double? = nil
        if let text = try arguments.value("--duration") {
            duration = Double(try Context(arguments).duration(text, option: "--duration"))
        }
        let relay = try ImpairmentRelay(listen: listen, target: to, upstream: profile,
                                        downstream: arguments.flag("--uplink-only") ? ImpairmentProfile() : profile, seed: seed)
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        Output.error("relay: listening on \(relay.listenAddress), forwarding to \(to); loss \(profile.loss * 100) % (bursts of \(profile.meanBurst)), delay \(profile.delayMilliseconds) ms ± \(profile.jitterMilliseconds) ms, duplicate \(profile.duplicate * 100) %, seed \(seed)")
        var pending = sigset_t()
        try relay.run(seconds: duration) {
            sigpending(&pending)
            return sigismember(&pending, SIGINT) == 1 || sigismember(&pending, SIGTERM) == 1
        }
        if let path = try arguments.value("--fate-log") {
            // One line per upstream packet of each client, in order: client, rtp|rtcp, and delays in ms ('lost' if dropped).
            var lines: [String] = []
            for (client, fates) in relay.upstreamFates {
                for fate in fates {
                    lines.append("\(client) \(fate.rtcp ? "rtcp" : "rtp") " + (fate.delays.isEmpty ? "lost" : fate.delays.map { String(format: "%.1f", $0) }.joined(separator: ",")))
                }
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        }
        Output.line("relay: up \(relay.up.forwarded) packets (\(relay.up.dropped) dropped, \(relay.up.duplicated) duplicated); "
            + "down \(relay.down.forwarded) (\(relay.down.dropped) dropped, \(relay.down.duplicated) duplicated)")
    }
}

/// `vcbridge loadtest`.
struct LoadTestCommand: Command {
    static let name = "loadtest"
    static let abstract = "Run N endpoints in one process against a running bridge and report delivery, CPU and memory."
    static let usage = "vcbridge loadtest --sites N [--skip S] --talkers K --duration D --bridge HOST:PORT [--webrtc [--web HOST:PORT] [--srtp gcm|cm] [--offer-threads T]] [--video-senders V [--video-kbps R] [--video-fps F] [--video-send-log FILE]] [--sip-sites M [--sip-codec g722|pcma|pcmu|opus] [--sip-talkers T] [--sip HOST:PORT]] [--progress-every D] [--data-dir DIR] [--json]\n  uses the keys in the data directory of the first N sites that have one (after skipping --skip S of them); they must be booked now\n  --webrtc: every site joins as a browser does (SDP offer over HTTP to the web listener, default the configured quality.httpAddress:httpPort, plain HTTP on loopback; ICE checks; DTLS client on NSS; SRTP from the exporter) and the join time of each (offer to first audio packet) is reported\n  --srtp: the only SRTP profile the WebRTC sites offer: gcm (AEAD_AES_128_GCM) or cm (AES_CM_128_HMAC_SHA1_80); default both, GCM preferred\n  --offer-threads: threads posting the offers at once (default 4, so that with the connections still closing they stay under the web listener's 8 from one address; two more threads run the sites' checks and handshakes)\n  --video-senders: the first V sites also send synthetic VP8 (default 1500 kb/s, 25 fps, 1,200-byte packets) and every site measures what arrives\n  --video-send-log: writes when each video packet left (µs after the first, a line each), for Scripts/bench/forward_floor to replay\n  --sip-sites: the last M of the N sites call the bridge's SIP port (--sip, default the configured sip.port on the --bridge host; loopback only) as room systems do: INVITE with an SDES-SRTP offer of --sip-codec (default g722), the digest answered with the site's SIP password, ACK, SRTP audio 20 ms a packet without audio levels, BYE at the end; each from a loopback address of its own (127.0.1.x)\n  --sip-talkers: of the K talkers, T are SIP sites (default 0)\n  --progress-every: every D (e.g. 60s) a line on stderr: audio packets/s per site (min, median), sites with none, video frames/s per receiver, rejoins"

    let arguments: Arguments

    init(arguments: [String]) throws {
        self.arguments = try Arguments(arguments, options: ["--sites", "--skip", "--talkers", "--duration", "--bridge", "--video-senders", "--video-kbps",
                                                            "--video-fps", "--video-send-log", "--web", "--srtp", "--offer-threads",
                                                            "--sip-sites", "--sip-codec", "--sip-talkers", "--sip", "--progress-every"],
                                       flags: ["--json", "--webrtc"])
        _ = try self.arguments.required("--bridge")
    }

    /// utime + stime of a process, in seconds, and its resident memory in MB.
    static func usage(pid: Int) -> (cpu: Double, rssMB: Double)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let utime = Double(fields[11]), let stime = Double(fields[12]) else { return nil }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        var rss = 0.0
        if let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }) {
            rss = (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
        }
        return ((utime + stime) / ticks, rss)
    }

    /// One logfmt line on stderr per interval: audio packets/s per site (min, median), sites that got no audio, video
    /// frames/s per receiver (min, median), rejoins so far.
    static func printProgress(_ p: LoadTest.Progress) {
        func median(_ v: [Double]) -> Double { v.isEmpty ? 0 : v[v.count / 2] }
        var line = String(format: "event=loadtest-progress elapsed=%.0f interval=%.1f sites=%d audioMin=%.1f audioMedian=%.1f silentSites=%d",
                          p.elapsedSeconds, p.intervalSeconds, p.audioPerSecond.count, p.audioPerSecond.first ?? 0,
                          median(p.audioPerSecond), p.audioPerSecond.filter { $0 == 0 }.count)
        if !p.videoFramesPerSecond.isEmpty {
            line += String(format: " videoReceivers=%d videoFramesMin=%.1f videoFramesMedian=%.1f", p.videoFramesPerSecond.count,
                           p.videoFramesPerSecond.first ?? 0, median(p.videoFramesPerSecond))
        }
        line += " rejoins=\(p.rejoins)\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    func run() throws {
        let context = try Context(arguments)
        let count = try arguments.integer("--sites", in: 1...256) ?? 147
        let talkers = try arguments.integer("--talkers", in: 0...count) ?? 3
        let duration = Double(try context.duration(try arguments.value("--duration") ?? "30s", option: "--duration"))
        guard duration >= 5 else { throw ValidationError("--duration must be at least 5s") }
        let bridge: SocketAddress
        do { bridge = try SocketAddress(parsing: try arguments.required("--bridge")) } catch {
            throw ValidationError("--bridge must be a numeric HOST:PORT")
        }
        let videoSenders = try arguments.integer("--video-senders", in: 0...count) ?? 0
        let videoKilobits = try arguments.integer("--video-kbps", in: 64...20_000) ?? 1500
        let videoFPS = try arguments.integer("--video-fps", in: 1...60) ?? 25
        if let path = try arguments.value("--video-send-log"), !FileManager.default.createFile(atPath: path, contents: nil) {
            throw ValidationError("--video-send-log: cannot create \(path)")
        }
        var webRTC: LoadTest.WebRTCOptions?
        if arguments.flag("--webrtc") {
            let webText = try arguments.value("--web") ?? "\(context.settings.quality.httpAddress):\(context.settings.quality.httpPort)"
            let web: SocketAddress
            do { web = try SocketAddress(parsing: webText) } catch { throw ValidationError("--web must be a numeric HOST:PORT, not '\(webText)'") }
            guard [try SocketAddress(ip: "127.0.0.1", port: web.port), try SocketAddress(ip: "::1", port: web.port)].contains(web) else {
                throw ValidationError("--web \(webText): the load generator speaks plain HTTP, so only to a web listener on loopback")
            }
            let profiles: [SRTPProfile]
            switch try arguments.value("--srtp") {
            case nil: profiles = DTLSSession.defaultSRTPProfiles
            case "gcm": profiles = [.aeadAES128GCM]
            case "cm": profiles = [.aesCM128HMACSHA1_80]
            case let other?: throw ValidationError("--srtp is 'gcm' or 'cm', not '\(other)'")
            }
            webRTC = LoadTest.WebRTCOptions(web: web, srtpProfiles: profiles)
            webRTC?.offerThreads = try arguments.integer("--offer-threads", in: 1...8) ?? 4
        } else if try arguments.value("--web") != nil || arguments.value("--srtp") != nil || arguments.value("--offer-threads") != nil {
            throw ValidationError("--web, --srtp and --offer-threads go with --webrtc")
        }
        var sip: LoadTest.SIPOptions?
        if let sipSites = try arguments.integer("--sip-sites", in: 0...count), sipSites > 0 {
            let codecName = try arguments.value("--sip-codec") ?? "g722"
            guard let codec = SIPAudioCodec(rawValue: codecName) else {
                throw ValidationError("--sip-codec is g722, pcma, pcmu or opus, not '\(codecName)'")
            }
            let sipTalkers = try arguments.integer("--sip-talkers", in: 0...min(talkers, sipSites)) ?? 0
            let address: SocketAddress
            if let text = try arguments.value("--sip") {
                do { address = try SocketAddress(parsing: text) } catch { throw ValidationError("--sip must be a numeric HOST:PORT, not '\(text)'") }
            } else {
                guard let port = context.settings.sipPort, port != 0 else {
                    throw ValidationError("--sip-sites: SIP is off (or on a kernel-chosen port) in the settings; give --sip HOST:PORT")
                }
                address = bridge.with(port: UInt16(port))
            }
            guard address == (try SocketAddress(ip: "127.0.0.1", port: address.port)) else {
                throw ValidationError("--sip \(address): SIP sites each take a loopback address of their own, so only a bridge on 127.0.0.1")
            }
            guard webRTC == nil || sipSites < count else { throw ValidationError("--sip-sites: leave at least one site for --webrtc") }
            sip = LoadTest.SIPOptions(bridge: address, sites: sipSites, codec: codec, talkers: sipTalkers)
        } else if try arguments.value("--sip-codec") != nil || arguments.value("--sip-talkers") != nil || arguments.value("--sip") != nil {
            throw ValidationError("--sip-codec, --sip-talkers and --sip go with --sip-sites")
        }
        let store = SiteKeyStore(dataDirectory: context.dataDirectory)
        var keys: [SiteKey] = []
        var skip = try arguments.integer("--skip", in: 0...1000) ?? 0
        do {
            for site in context.directory.sites where keys.count < count {
                guard let key = try store.key(for: site.id) else { continue }
                if skip > 0 { skip -= 1 } else { keys.append(key) }
            }
        } catch { throw CommandFailure(error.description) }
        guard keys.count == count else {
            throw CommandFailure("only \(keys.count) sites have keys in \(store.directory); make them with 'vcbridge site key'")
        }
        let status = try? controlRequest(context.dataDirectory, ["command": "status"])
        let pid = status?["pid"] as? Int
        let before = pid.flatMap(Self.usage)
        let started = Date()
        let peak = Shared(before?.rssMB ?? 0)
        // The mixer's figures while every site is connected (sampled until the last seconds of the run).
        let running = Shared<[String: Int]>([:])
        // The bridge's CPU time when every site was first seen connected, and at the last sample: the steady meeting
        // without the joins.
        let steady = Shared<(first: (at: Double, cpu: Double)?, last: (at: Double, cpu: Double)?)>((nil, nil))
        let dataDirectory = context.dataDirectory
        let sampler = Thread {
            while Date().timeIntervalSince(started) < duration + 2 {
                if let pid, let u = Self.usage(pid: pid) { peak.withLock { $0 = max($0, u.rssMB) } }
                if Date().timeIntervalSince(started) < duration - 1,
                   let s = try? controlRequest(dataDirectory, ["command": "status"]), (s["sites"] as? [Any])?.count ?? 0 >= count {
                    if let pid, let u = Self.usage(pid: pid) {
                        let sample = (at: Date().timeIntervalSince(started), cpu: u.cpu)
                        steady.withLock { $0 = ($0.first ?? sample, sample) }
                    }
                    running.withLock {
                        $0 = ["tickLateP50Us": s["tickLateP50Us"] as? Int ?? -1, "tickLateP99Us": s["tickLateP99Us"] as? Int ?? -1,
                              "encodesLastTick": s["encodesLastTick"] as? Int ?? -1,
                              "videoForwardP50Us": s["videoForwardP50Us"] as? Int ?? -1, "videoForwardP99Us": s["videoForwardP99Us"] as? Int ?? -1]
                    }
                }
                Thread.sleep(forTimeInterval: 2)
            }
        }
        sampler.start()
        let results: [LoadTest.SiteResult]
        var options = LoadTest.Options(bridge: bridge, keys: Array(keys), talkers: talkers, duration: duration)
        options.videoSenders = videoSenders
        options.videoKilobitsPerSecond = videoKilobits
        options.videoFramesPerSecond = videoFPS
        options.webRTC = webRTC
        options.sip = sip
        options.keepVideoSendTimes = try arguments.value("--video-send-log") != nil
        if let every = try arguments.value("--progress-every") {
            options.progressEvery = Double(try context.duration(every, option: "--progress-every"))
            guard options.progressEvery! >= 1 else { throw ValidationError("--progress-every must be at least 1s") }
            options.progress = { Self.printProgress($0) }
        }
        let loadTest = LoadTest(options: options)
        do {
            results = try loadTest.run()
        } catch let error as EndpointError {
            throw CommandFailure(error.description)
        }
        let elapsed = Date().timeIntervalSince(started)
        let peakRSS = peak.withLock { $0 }
        let after = pid.flatMap(Self.usage)
        let final = running.withLock { $0 }
        let cpu = (before != nil && after != nil) ? (after!.cpu - before!.cpu) / elapsed * 100 : -1
        let steadyCPU: Double = steady.withLock { s in
            guard let first = s.first, let last = s.last, last.at - first.at >= 4 else { return -1 }
            return (last.cpu - first.cpu) / (last.at - first.at) * 100
        }
        let rates = results.map(\.receivedPerSecond).sorted()
        let starved = results.filter { $0.receivedPerSecond < 49 }
        var summary: [String: Any] = [
            "sites": results.count, "talkers": talkers, "seconds": duration,
            "bridgeCPUPercent": cpu, "bridgeSteadyCPUPercent": steadyCPU, "bridgeCPUSeconds": (before != nil && after != nil) ? after!.cpu - before!.cpu : -1,
            "elapsedSeconds": elapsed, "bridgeRSSMB": after?.rssMB ?? -1, "bridgePeakRSSMB": peakRSS,
            "deliveryMinPerSecond": rates.first ?? 0, "deliveryMedianPerSecond": rates.isEmpty ? 0 : rates[rates.count / 2],
            "deliveryMaxPerSecond": rates.last ?? 0, "sitesBelow49PerSecond": starved.map(\.site),
            "authenticationFailures": results.map(\.authenticationFailures).reduce(0, +),
            "tickLateP50Us": final["tickLateP50Us"] ?? -1, "tickLateP99Us": final["tickLateP99Us"] ?? -1,
            "encodesLastTick": final["encodesLastTick"] ?? -1,
        ]
        // Every time a site lost the bridge and joined again (wall-clock milliseconds; -1: not yet).
        let rejoins = results.flatMap { r in
            r.rejoins.map { j -> [String: Any] in
                ["site": r.site, "reason": j.reason, "attempts": j.attempts, "lostAtUnixMs": j.lostAtUnixMilliseconds,
                 "rejoinedAtUnixMs": j.rejoinedAtUnixMilliseconds ?? -1, "firstAudioAtUnixMs": j.firstAudioAtUnixMilliseconds ?? -1,
                 "audioReceived": j.audioReceived, "audioPerSecond": j.audioPerSecond]
            }
        }
        if !rejoins.isEmpty { summary["rejoins"] = rejoins }
        summary["generator"] = ["tickLateMaxMs": loadTest.loop.tickLateMaxMilliseconds,
                                "ticksLateOver40Ms": loadTest.loop.ticksLateOver40Milliseconds,
                                "framesSkipped": loadTest.loop.framesSkipped] as [String: Any]
        // Each site's first join: attempts (more than 1: the bridge was not there yet), when (-1: never), audio since.
        summary["firstJoins"] = results.map { r -> [String: Any] in
            ["site": r.site, "attempts": r.firstJoinAttempts, "joinedAtUnixMs": r.firstJoinedAtUnixMilliseconds ?? -1,
             "audioPerSecond": r.audioPerSecondSinceFirstJoin]
        }
        let gaveUp = results.compactMap { r in r.gaveUp.map { "\(r.site): \($0)" } }
        if !gaveUp.isEmpty { summary["stoppedRejoining"] = gaveUp }
        let video = loadTest.video
        let videoRates = video.receivedPerSecond.sorted()
        if let path = try arguments.value("--video-send-log") {
            let first = video.sendTimes.first ?? 0
            let lines = video.sendTimes.map { String(($0 - first) / 1000) + "\n" }.joined()
            guard FileManager.default.createFile(atPath: path, contents: Data(lines.utf8)) else {
                throw CommandFailure("cannot write --video-send-log \(path)")
            }
        }
        if options.videoSenders > 0 {
            summary["video"] = [
                "senders": options.videoSenders, "packetsSent": video.packetsSent, "bytesSent": video.bytesSent,
                "sentPacketsPerSecond": Double(video.packetsSent) / duration, "packetsReceived": video.packetsReceived,
                "receiversMinPacketsPerSecond": videoRates.first ?? 0,
                "receiversMedianPacketsPerSecond": videoRates.isEmpty ? 0 : videoRates[videoRates.count / 2],
                "authenticationFailures": video.authenticationFailures, "keyframeRequests": video.keyframeRequests,
                "endToEndDelayP50Us": video.delayP50Microseconds, "endToEndDelayP99Us": video.delayP99Microseconds,
                "endToEndDelayMaxUs": video.delayMaxMicroseconds,
                "bridgeForwardP50Us": final["videoForwardP50Us"] ?? -1, "bridgeForwardP99Us": final["videoForwardP99Us"] ?? -1,
            ] as [String: Any]
        }
        let joins = loadTest.joins
        if webRTC != nil {
            let times = joins.joinMilliseconds
            func percentile(_ q: Double) -> Double { times.isEmpty ? -1 : times[min(times.count - 1, Int(Double(times.count) * q))] }
            summary["webRTC"] = [
                "joined": times.count, "failures": joins.failures, "joinP50Ms": percentile(0.5), "joinP99Ms": percentile(0.99),
                "joinMaxMs": times.last ?? -1, "offerSpreadMs": joins.offerSpreadMilliseconds,
                "allJoinedMs": joins.allJoinedMilliseconds, "srtpProfiles": joins.profiles,
                "stagesP50Ms": ["answer": joins.answeredP50Milliseconds, "checks": joins.checkedP50Milliseconds,
                                "dtls": joins.handshakeP50Milliseconds, "firstAudio": joins.firstAudioP50Milliseconds],
            ] as [String: Any]
        }
        let sipCalls = loadTest.sipCalls
        let sipRates = sipCalls.receivedPerSecond
        let nativeRates = results.dropLast(sip?.sites ?? 0).map(\.receivedPerSecond).sorted()
        if let sip {
            summary["sip"] = [
                "sites": sip.sites, "codec": sip.codec.rawValue, "talkers": sip.talkers, "connected": sipCalls.connected,
                "failures": sipCalls.failures, "callsMs": sipCalls.callsMilliseconds, "hungUp": sipCalls.hungUp,
                "deliveryMinPerSecond": sipRates.first ?? 0, "deliveryMedianPerSecond": sipRates.isEmpty ? 0 : sipRates[sipRates.count / 2],
                "nativeDeliveryMinPerSecond": nativeRates.first ?? 0,
            ] as [String: Any]
        }
        if arguments.flag("--json") {
            let data = try JSONSerialization.data(withJSONObject: summary, options: [.prettyPrinted, .sortedKeys])
            Output.line(String(decoding: data, as: UTF8.self))
            return
        }
        Output.line("""
            loadtest: \(results.count) sites, \(talkers) talkers, \(Int(duration)) s
              delivery per site   min \(String(format: "%.1f", rates.first ?? 0)), median \(String(format: "%.1f", rates.isEmpty ? 0 : rates[rates.count / 2])), max \(String(format: "%.1f", rates.last ?? 0)) packets/s\(starved.isEmpty ? "" : "; below 49/s: " + starved.map(\.site).joined(separator: ", "))
              bridge              CPU \(String(format: "%.1f", cpu)) % of one core (with every site in: \(steadyCPU < 0 ? "-" : String(format: "%.1f", steadyCPU)) %), RSS \(String(format: "%.1f", after?.rssMB ?? -1)) MB (peak \(String(format: "%.1f", peakRSS)) MB)
              mixer clock         late p50 \(summary["tickLateP50Us"]!) µs, p99 \(summary["tickLateP99Us"]!) µs; \(summary["encodesLastTick"]!) encodes per tick
            """)
        if !rejoins.isEmpty {
            let back = results.flatMap(\.rejoins).compactMap { j in j.rejoinedAtUnixMilliseconds.map { $0 - j.lostAtUnixMilliseconds } }.sorted()
            Output.line("  rejoins             \(rejoins.count) (\(back.count) joined again, lost to welcome \(back.first ?? -1)-\(back.last ?? -1) ms)")
        }
        if options.videoSenders > 0 {
            Output.line("""
                  video               \(String(format: "%.0f", Double(video.packetsSent) / duration)) packets/s sent by \(options.videoSenders) site(s); per receiver min \(String(format: "%.1f", videoRates.first ?? 0)), median \(String(format: "%.1f", videoRates.isEmpty ? 0 : videoRates[videoRates.count / 2])) packets/s
                  video delay         send to arrival p50 \(video.delayP50Microseconds) µs, p99 \(video.delayP99Microseconds) µs; in the bridge p50 \(final["videoForwardP50Us"] ?? -1) µs, p99 \(final["videoForwardP99Us"] ?? -1) µs
                """)
        }
        if webRTC != nil {
            let times = joins.joinMilliseconds
            func ms(_ q: Double) -> String { times.isEmpty ? "-" : String(format: "%.0f", times[min(times.count - 1, Int(Double(times.count) * q))]) }
            Output.line("""
                  WebRTC joins        \(times.count) of \(results.count) joined (\(joins.profiles.map { "\($0.value) \($0.key)" }.sorted().joined(separator: ", "))); offer to first audio p50 \(ms(0.5)) ms, p99 \(ms(0.99)) ms, max \(ms(1)) ms
                  WebRTC join stages  medians: answer \(String(format: "%.1f", joins.answeredP50Milliseconds)) ms, ICE check \(String(format: "%.1f", joins.checkedP50Milliseconds)) ms, DTLS \(String(format: "%.1f", joins.handshakeP50Milliseconds)) ms, first audio \(String(format: "%.1f", joins.firstAudioP50Milliseconds)) ms
                  WebRTC offers       all posted within \(String(format: "%.0f", joins.offerSpreadMilliseconds)) ms; every site had audio \(String(format: "%.0f", joins.allJoinedMilliseconds)) ms after the first offer
                """)
            for failure in joins.failures.prefix(10) { Output.line("  join failed: \(failure)") }
        }
        if let sip {
            Output.line("""
                  SIP sites           \(sipCalls.connected) of \(sip.sites) connected on \(sip.codec.rawValue) (calls took \(String(format: "%.0f", sipCalls.callsMilliseconds)) ms), \(sipCalls.hungUp) BYEs answered; per SIP site min \(String(format: "%.1f", sipRates.first ?? 0)), median \(String(format: "%.1f", sipRates.isEmpty ? 0 : sipRates[sipRates.count / 2])) packets/s
                """)
            for failure in sipCalls.failures.prefix(10) { Output.line("  call failed: \(failure)") }
        }
    }
}
