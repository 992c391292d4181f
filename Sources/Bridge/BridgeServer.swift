#if canImport(Glibc)
import Glibc
#endif
import Admission
import CivilTime
import DTLS
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

/// `vcbridge serve`: the bridge process, and the composition root of its threads.
///
/// Threads: the media thread (``MediaEngine``: all media and codec/SRTP state); the join listener
/// (``JoinListener``), with one thread per signalling connection (the exchange, then notices to the
/// site); the schedule follower (``ScheduleFollower``: reads new bookings every 250 ms, warns, ends
/// meetings, applies revocations); the quality thread; the control socket; the HTTP listener; and
/// the main thread, which waits for SIGINT/SIGTERM.
public final class BridgeServer: @unchecked Sendable {
    public struct Options: Sendable {
        public var dataDirectory: String
        public var settings: Settings
        public var listenAddress: String
        public var signalingPort: Int
        public var mediaPort: Int
        /// The SIP listener's port (UDP and TCP); nil: off.
        public var sipPort: Int?
        /// The SIP-over-TLS port; nil: off (also off when SIP is).
        public var sipTLSPort: Int?

        public init(dataDirectory: String, settings: Settings) {
            self.dataDirectory = dataDirectory
            self.settings = settings
            listenAddress = settings.listenAddress
            signalingPort = settings.signalingPort
            mediaPort = settings.mediaPort
            sipPort = settings.sipPort
            sipTLSPort = settings.sipTLSPort
        }
    }

    let options: Options
    /// The site directory the settings name (`sites.directory`).
    let directory: SiteDirectory
    let keys: SiteKeyStore
    let mailbox = MediaMailbox()
    let sessions: SessionTable
    let store: Mutex<ScheduleStore>
    let listener: TCPListener
    let mediaSocket: Handoff<UDPSocket>
    public let signalingAddress: SocketAddress
    public let mediaAddress: SocketAddress
    let profile = SRTPProfile.aeadAES128GCM
    private let running = Mutex(true)
    let controlPath: String
    /// Sites given the floor, per meeting (absent: the host presents).
    let floors = Mutex<[MeetingID: Int]>([:])
    /// The WebRTC front-end (on the HTTP listener) and its DTLS certificate, made at start.
    private(set) var webRTC: WebRTCFrontEnd!
    /// The SIP listener for room systems, when on.
    private(set) var sip: SIPFrontEnd?
    let quality: QualityMonitor

    var isRunning: Bool { running.withLock { $0 } }

    public init(options: Options) throws {
        self.options = options
        directory = try SiteDirectory.named(options.settings.siteDirectory)
        keys = SiteKeyStore(dataDirectory: options.dataDirectory)
        let rules = ScheduleRules(capacity: options.settings.bridgeCapacity, setupSeconds: options.settings.setupSeconds,
                                  maxOccurrences: options.settings.maxOccurrences)
        let schedule = try ScheduleStore(dataDirectory: options.dataDirectory, directory: directory, rules: rules)
        if let repair = schedule.repair { Log.warning("store-repaired", ["detail": repair]) }
        store = Mutex(schedule)
        let host = try SocketAddress(ip: options.listenAddress, port: UInt16(options.signalingPort))
        listener = try TCPListener(bindTo: host, backlog: 4096)
        let media = try SIPFrontEnd.bindMediaSocket(host.with(port: UInt16(options.mediaPort)), evenPort: options.sipPort != nil)
        try media.enableArrivalTimes()
        try media.enableDropCounts()
        mediaSocket = Handoff(value: media)
        signalingAddress = listener.localAddress
        mediaAddress = media.localAddress
        controlPath = options.dataDirectory + "/bridge.sock"
        quality = QualityMonitor(settings: options.settings.quality, directory: directory, dataDirectory: options.dataDirectory)
        sessions = SessionTable(mailbox: mailbox, quality: quality)
        // One identity for WebRTC's DTLS and the web listener's HTTPS: the configured files, or made now.
        let q = options.settings.quality
        let certificate: DTLSCertificate
        if !q.tlsCertificateFile.isEmpty {
            do { certificate = try DTLSCertificate.load(certificateFile: q.tlsCertificateFile, privateKeyFile: q.tlsPrivateKeyFile) } catch {
                throw BridgeError("cannot use quality.tlsCertificateFile '\(q.tlsCertificateFile)' with quality.tlsPrivateKeyFile '\(q.tlsPrivateKeyFile)': \(error)")
            }
        } else {
            certificate = try Self.keptCertificate(in: options.dataDirectory)
        }
        webRTC = WebRTCFrontEnd(bridge: self, handshakes: WebRTCHandshakes(certificate: certificate))
        if options.sipPort == nil, !options.settings.sipDialOut.isEmpty {
            throw BridgeError("sip.dialOut names halls to call, but SIP is off: set sip.enabled (or --sip-port)")
        }
        sip = try options.sipPort.map {
            try SIPFrontEnd(bridge: self, host: host, port: UInt16($0), tlsPort: options.sipTLSPort.map { UInt16($0) }, certificate: certificate)
        }
    }

    /// The self-signed certificate made at the first start and kept in the data directory (`https-certificate.pem`,
    /// `https-key.pem`, 0600), so that browsers and pinned clients see the same one after a restart. Made again
    /// when either file is missing; one that cannot be kept is used for this run with a warning.
    static func keptCertificate(in dataDirectory: String) throws -> DTLSCertificate {
        let certificateFile = dataDirectory + "/https-certificate.pem", keyFile = dataDirectory + "/https-key.pem"
        if FileManager.default.fileExists(atPath: certificateFile), FileManager.default.fileExists(atPath: keyFile) {
            do { return try DTLSCertificate.load(certificateFile: certificateFile, privateKeyFile: keyFile) } catch {
                throw BridgeError("cannot use the kept certificate \(certificateFile) with \(keyFile): \(error) (delete both to make a new one)")
            }
        }
        let certificate: DTLSCertificate
        do { certificate = try DTLSCertificate.selfSigned(commonName: "vcbridge", validDays: 3650) } catch {
            throw BridgeError("cannot make the certificate for WebRTC and HTTPS: \(error)")
        }
        do { try certificate.write(certificateFile: certificateFile, privateKeyFile: keyFile) } catch {
            Log.warning("certificate-not-kept", ["file": certificateFile, "error": "\(error)",
                                                 "note": "a new certificate will be made at the next start"])
        }
        return certificate
    }

    /// Runs until SIGINT or SIGTERM, then ends every session cleanly.
    public func run() throws {
        var signals = sigset_t()
        sigemptyset(&signals)
        sigaddset(&signals, SIGINT)
        sigaddset(&signals, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &signals, nil)  // every thread started below inherits the mask
        let descriptors = DescriptorLimit.raise()

        let media = mediaSocket
        let mailbox = self.mailbox
        let talkers = options.settings.talkers
        let lostAfter = options.settings.lostAfterSeconds
        let consent = options.settings.consentSeconds
        let timeStretch = options.settings.timeStretch
        let video = Self.videoPolicy(options.settings.video)
        let handshakes = webRTC.handshakes
        let mediaThread = Thread {
            MediaEngine(socket: media.value, mailbox: mailbox, talkers: talkers, lostAfterSeconds: lostAfter, consentSeconds: consent, video: video,
                        timeStretch: timeStretch, handshakes: handshakes).run()
        }
        mediaThread.name = "media"
        mediaThread.stackSize = 8 << 20
        mediaThread.start()
        // Every thread started from here on (and the threads those start) inherits nice 10: inside a CPU
        // quota for the whole process the media thread comes first (ThreadPriority). Start none before the media thread.
        ThreadPriority.yieldToMedia()
        let handshakeThread = Thread { handshakes.run(socket: media, mailbox: mailbox) }
        handshakeThread.name = "dtls"
        handshakeThread.start()
        let settings = options.settings
        let joins = JoinListener(bridge: self, listener: listener, limits: JoinListener.Limits(
            timeoutNanoseconds: Int64(settings.joinTimeoutMilliseconds) * 1_000_000, maxPending: settings.maxPendingJoins,
            maxPendingPerAddress: settings.maxPendingJoinsPerAddress))
        Thread { joins.run() }.start()
        let follower = ScheduleFollower(bridge: self)
        Thread { follower.run() }.start()
        Thread { self.followQuality() }.start()
        let control = try ControlSocket(path: controlPath, server: self)
        Thread { control.serve() }.start()
        let http = try startMonitoring()
        if let sip { Thread { sip.run() }.start() }

        Log.info("listening", ["signaling": signalingAddress, "media": mediaAddress, "sip": sip.map { "\($0.address)" } ?? "off", "sipTLS": sip?.tlsAddress.map { "\($0)" } ?? "off", "control": controlPath,
                               "data": options.dataDirectory, "talkers": talkers, "descriptors": descriptors])
        var received: Int32 = 0
        sigwait(&signals, &received)
        Log.info("stopping", ["signal": received == SIGINT ? "SIGINT" : "SIGTERM"])
        running.withLock { $0 = false }
        mailbox.post(.stop)
        for _ in 0..<100 where !mailbox.stopped.withLock({ $0 }) { usleep(10_000) }
        for session in sessions.all {
            session.send(["type": "ended", "reason": "bridge-shutdown"])
            session.connection?.shutdownBoth()
        }
        handshakes.post(.shutdown)
        control.close()
        http?.close()
        joins.flushRefusals()
        Log.info("stopped")
    }

    /// Ends a site's session (if `session` is still its current one).
    func end(site: Int, session: Admitted? = nil, reason: String, notify: Bool = true) {
        sessions.end(site: site, session: session, reason: reason, notify: notify)
    }

    // MARK: Quality

    /// Once a second: live figures, alerts and history; hourly, the history retention.
    private func followQuality() {
        var nextRetention: Int64 = 0
        while isRunning {
            let now = monotonicNanoseconds()
            if now >= nextRetention {
                quality.applyRetention()
                nextRetention = now + 3_600_000_000_000
            }
            quality.step(statistics: mailbox.statistics.withLock { $0 }, now: now)
            usleep(1_000_000 - useconds_t((monotonicNanoseconds() - now) / 1000 % 1_000_000))
        }
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

}

/// A moment as the join messages carry it: ISO 8601 in Vietnam time.
func iso(_ t: Timestamp) -> String {
    let l = LocalDateTime(t, in: .vietnam)
    return "\(l.date)T\(l.timeText):\(l.second < 10 ? "0" : "")\(l.second)+07:00"
}
