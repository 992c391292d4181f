#if canImport(Glibc)
import Glibc
#endif
import Admission
import CivilTime
import Foundation
import KeyDerivation
import Scheduler
import SiteDirectory
import Synchronization
import Transport

/// The join listener: accepts signalling connections, runs the join exchange on each (hello →
/// challenge with the bridge's proof → the site's proof → booking check → welcome), then keeps the
/// admitted site's connection until it says bye or the connection drops.
///
/// Before a peer has proved its site's key it costs one descriptor and a little memory, nothing
/// more: one thread polls every such connection (non-blocking), each has a deadline counted from
/// accept (``Limits/timeoutNanoseconds``), and their number is capped in total and per peer
/// (``SocketAddress/peerGroup``: an IPv4 address, an IPv6 /64). Over a cap, or when descriptors run
/// out, an unauthenticated connection is closed to make room (``JoinEviction``: the oldest that has
/// not had its challenge; one that has keeps its place until its deadline), so a genuine site still
/// gets in and finishes while thousands of hostile connections arrive. Only an authenticated
/// connection gets a thread of its own (a session's; at most one per site stays). Refusals of
/// unauthenticated peers are summarised (``RefusalSummary``), not logged one by one.
final class JoinListener: @unchecked Sendable {
    struct Limits: Sendable {
        var timeoutNanoseconds: Int64 = 5_000_000_000
        var maxPending = 1024
        var maxPendingPerAddress = 64
        /// Longest line before the proof (a hello is about 150 bytes).
        var maxLine = 4096
    }

    /// A connection that has not proved its key yet; touched only by the listener's thread.
    private final class Pending {
        let connection: TCPConnection
        let peer: String
        /// What the per-address cap counts (``SocketAddress/peerGroup``).
        let group: String
        let accepted: Int64
        let deadline: Int64
        var challenge: Challenge?

        init(connection: TCPConnection, accepted: Int64, timeout: Int64) {
            self.connection = connection
            peer = connection.peer.map { "\($0)" } ?? "-"
            group = connection.peer?.peerGroup ?? "-"
            self.accepted = accepted
            deadline = accepted + timeout
        }
    }

    /// What the bridge sent in its challenge, to check the site's proof against.
    private struct Challenge {
        let site: Site
        let key: SiteKey?
        let sessionKeys: JoinProtocol.SessionKeys
        let siteNonce: [UInt8]
        let bridgeNonce: [UInt8]
    }

    private unowned let bridge: BridgeServer
    private let listener: TCPListener
    private let limits: Limits
    private let refusals = Mutex(RefusalSummary())
    // The listener thread's own state.
    private var pending: [Int32: Pending] = [:]
    /// When each site whose key file the bridge cannot use was last logged (at most once a minute).
    private var unusableKeysLogged: [String: Int64] = [:]
    private var perGroup: [String: Int] = [:]
    private var trouble = AcceptTrouble()
    private var acceptPausedUntil: Int64 = 0
    /// The cap in force: lowered below ``Limits/maxPending`` while descriptors are short.
    private var pendingCap: Int

    init(bridge: BridgeServer, listener: TCPListener, limits: Limits) {
        self.bridge = bridge
        self.listener = listener
        self.limits = limits
        pendingCap = limits.maxPending
    }

    /// Logs what the refusal summary still holds (at shutdown).
    func flushRefusals() {
        for line in refusals.withLock({ $0.flush(now: monotonicNanoseconds()) }) { Self.log(line) }
    }

    func run() {
        listener.setNonBlocking()
        var fds: [pollfd] = []
        while bridge.isRunning {
            var now = monotonicNanoseconds()
            expire(now: now)
            if let failures = trouble.ended(now: now) {
                pendingCap = limits.maxPending
                Log.info("accepting-again", ["listener": "join", "failedAccepts": failures])
            }
            let listening = now >= acceptPausedUntil
            let order = Array(pending.values)
            fds.removeAll(keepingCapacity: true)
            if listening { fds.append(pollfd(fd: listener.pollDescriptor, events: Int16(POLLIN), revents: 0)) }
            for p in order { fds.append(pollfd(fd: p.connection.pollDescriptor, events: Int16(POLLIN), revents: 0)) }
            var wait: Int64 = 250_000_000
            if let next = order.map(\.deadline).min() { wait = min(wait, next - now) }
            if !listening { wait = min(wait, acceptPausedUntil - now) }
            let ready = poll(&fds, nfds_t(fds.count), Int32(max(0, wait / 1_000_000 + 1)))
            now = monotonicNanoseconds()
            if ready > 0 {
                let first = listening ? 1 : 0
                for (i, p) in order.enumerated() where fds[first + i].revents != 0 {
                    if pending[p.connection.pollDescriptor] === p { read(p, now: now) }
                }
                if listening && fds[0].revents != 0 { acceptWaiting(now: now) }
            }
            for line in refusals.withLock({ $0.due(now: now) }) { Self.log(line) }
            if bridge.mailbox.structures.isDue("join", now: now) {
                bridge.mailbox.structures.publish([
                    "join.pending": pending.count, "join.addresses": perGroup.count,
                    "join.unusableKeysLogged": unusableKeysLogged.count, "join.refusalWindows": refusals.withLock { $0.count },
                ])
            }
        }
        listener.close()
        for p in pending.values { p.connection.close() }
        pending.removeAll()
    }

    // MARK: Before the proof

    /// Accepts what waits (a bounded number per round, so reading is not starved).
    private func acceptWaiting(now: Int64) {
        for _ in 0..<256 {
            let connection: TCPConnection
            do {
                guard let accepted = try listener.acceptIfReady() else { return }
                connection = accepted
            } catch {
                let episode = trouble.failed(now: now)
                if AcceptTrouble.isOutOfDescriptors(error) {
                    if episode {
                        Log.error("descriptors-exhausted", ["listener": "join", "error": error, "pending": pending.count,
                                                            "descriptorLimit": DescriptorLimit.current,
                                                            "action": "closing unauthenticated connections that have no challenge yet"])
                    }
                    // Keep some descriptors free for sessions, key files and the journal.
                    pendingCap = max(1, pending.count - 8)
                    if evict(toFit: pendingCap, now: now) == 0 { acceptPausedUntil = now + AcceptTrouble.backoffNanoseconds }
                } else {
                    if episode { Log.warning("accept-failing", ["listener": "join", "error": error]) }
                    acceptPausedUntil = now + AcceptTrouble.backoffNanoseconds
                }
                return
            }
            let p = Pending(connection: connection, accepted: now, timeout: limits.timeoutNanoseconds)
            connection.maximumLine = limits.maxLine
            // Over a cap, a connection without a challenge gives way; if there is none, the newcomer does.
            if perGroup[p.group, default: 0] >= limits.maxPendingPerAddress {
                guard let victim = victim(group: p.group) else {
                    drop(p, reason: "over-capacity", now: now)
                    continue
                }
                drop(victim, reason: "over-capacity", now: now)
            }
            if pending.count >= pendingCap {
                evict(toFit: pendingCap - 1, now: now)
                if pending.count >= pendingCap {
                    drop(p, reason: "over-capacity", now: now)
                    continue
                }
            }
            pending[connection.pollDescriptor] = p
            perGroup[p.group, default: 0] += 1
        }
    }

    /// Closes connections without a challenge until at most `count` remain (or none is left to close).
    /// - Returns: how many it closed.
    @discardableResult
    private func evict(toFit count: Int, now: Int64) -> Int {
        var closed = 0
        while pending.count > max(0, count), let victim = victim(group: nil) {
            drop(victim, reason: "over-capacity", now: now)
            closed += 1
        }
        return closed
    }

    /// The connection to close to make room, among all or those of one peer group (``JoinEviction``).
    private func victim(group: String?) -> Pending? {
        JoinEviction.victim(among: pending.values.lazy.filter { group == nil || $0.group == group },
                            accepted: \.accepted, challenged: { $0.challenge != nil })
    }

    private func expire(now: Int64) {
        for p in pending.values where p.deadline <= now { drop(p, reason: "timeout", site: p.challenge?.site.id, now: now) }
    }

    private func read(_ p: Pending, now: Int64) {
        do {
            let open = try p.connection.readAvailable()
            while pending[p.connection.pollDescriptor] === p, let line = try p.connection.bufferedLine() {
                handle(line, from: p, now: now)
            }
            if !open, pending[p.connection.pollDescriptor] === p {
                // After the challenge, a peer that leaves is one that could not check the bridge's
                // proof or make its own: as far as the bridge knows, a failed authentication.
                if let challenge = p.challenge {
                    drop(p, reason: JoinRefusal.authenticationFailed.rawValue, site: challenge.site.id, now: now)
                } else {
                    drop(p, reason: "closed-early", now: now)
                }
            }
        } catch {
            refuse(p, .malformed, site: p.challenge?.site.id, now: now)
        }
    }

    private func handle(_ line: String, from p: Pending, now: Int64) {
        guard let challenge = p.challenge else { return hello(line, from: p, now: now) }
        guard let message = JoinProtocol.decode(line), message["type"] as? String == "proof",
              let proof = JoinProtocol.bytes(hex: message["proof"], length: 32),
              let expected = try? JoinProtocol.proof(.site, keys: challenge.sessionKeys, site: challenge.site.id,
                                                     siteNonce: challenge.siteNonce, bridgeNonce: challenge.bridgeNonce),
              let key = challenge.key, HMACSHA256.constantTimeEqual(proof, expected)
        else { return refuse(p, .authenticationFailed, site: challenge.site.id, now: now) }
        // Authenticated: the rest of the join and the session get a thread of their own.
        remove(p)
        p.connection.setBlocking(true)
        let handoff = Handoff(value: (p.connection, challenge.site, key, challenge.sessionKeys))
        Thread { self.admit(handoff.value.0, site: handoff.value.1, key: handoff.value.2, sessionKeys: handoff.value.3) }.start()
    }

    private func hello(_ line: String, from p: Pending, now: Int64) {
        guard let hello = JoinProtocol.decode(line), hello["type"] as? String == "hello",
              hello["version"] as? Int == JoinProtocol.version,
              let siteID = hello["site"] as? String,
              let siteNonce = JoinProtocol.bytes(hex: hello["nonce"], length: JoinProtocol.nonceLength)
        else { return refuse(p, .malformed, site: nil, now: now) }
        guard let site = bridge.directory.site(siteID) else { return refuse(p, .unknownSite, site: siteID, now: now) }
        // A site without a key (never provisioned, or revoked) cannot authenticate; it is told no more
        // than a wrong key would be, but only after a full exchange, so the two cannot be told apart.
        let key: SiteKey?
        do {
            key = try bridge.keys.key(for: site.id)
        } catch {
            // The operator's problem (a key file others can read, or damaged): the site is refused as
            // for a wrong key, and the log says why, once a minute at most.
            key = nil
            if now - (unusableKeysLogged[site.id] ?? .min / 2) >= 60_000_000_000 {
                unusableKeysLogged[site.id] = now
                Log.error("site-key-unusable", ["site": site.id, "error": "\(error)"])
            }
        }
        let secret = key?.secret ?? ((try? SecureRandom.bytes(SiteKey.secretLength)) ?? [UInt8](repeating: 0, count: 32))
        guard let bridgeNonce = try? SecureRandom.bytes(JoinProtocol.nonceLength),
              let sessionKeys = try? JoinProtocol.deriveKeys(secret: secret, site: site.id, siteNonce: siteNonce,
                                                             bridgeNonce: bridgeNonce,
                                                             keyingMaterialLength: bridge.profile.keyingMaterialLength),
              let bridgeProof = try? JoinProtocol.proof(.bridge, keys: sessionKeys, site: site.id, siteNonce: siteNonce,
                                                        bridgeNonce: bridgeNonce)
        else { return refuse(p, .malformed, site: site.id, now: now) }
        p.challenge = Challenge(site: site, key: key, sessionKeys: sessionKeys, siteNonce: siteNonce, bridgeNonce: bridgeNonce)
        do {
            try p.connection.send(line: Self.challengeLine(nonce: bridgeNonce, proof: bridgeProof))
        } catch {
            drop(p, reason: "closed-early", site: site.id, now: now)
        }
    }

    /// The challenge as `JoinProtocol.encode` writes it (sorted keys, no spaces; hex needs no escaping), written
    /// directly: a forged hello costs the listener thread no JSON serialisation (10,000 a second in Scripts/hostile.sh).
    static func challengeLine(nonce: [UInt8], proof: [UInt8]) -> String {
        #"{"nonce":"\#(JoinProtocol.hex(nonce))","proof":"\#(JoinProtocol.hex(proof))","type":"challenge"}"#
    }

    /// The refusals unauthenticated peers get, encoded once.
    private static let refusalLines: [JoinRefusal: String] = Dictionary(uniqueKeysWithValues: [
        JoinRefusal.unknownSite, .authenticationFailed, .notBooked, .malformed, .bridgeFull,
    ].map { ($0, JoinProtocol.encode(["type": "refused", "reason": $0.rawValue])) })

    /// Tells an unauthenticated peer why (as far as it may know) and closes its connection.
    private func refuse(_ p: Pending, _ reason: JoinRefusal, site: String?, now: Int64) {
        try? p.connection.send(line: Self.refusalLines[reason] ?? JoinProtocol.encode(["type": "refused", "reason": reason.rawValue]))
        drop(p, reason: reason.rawValue, site: site, now: now)
    }

    /// Closes an unauthenticated connection and counts the refusal.
    private func drop(_ p: Pending, reason: String, site: String? = nil, now: Int64) {
        remove(p)
        p.connection.close()
        if let line = refusals.withLock({ $0.refused(reason: reason, peer: p.peer, site: site, now: now) }) { Self.log(line) }
    }

    private func remove(_ p: Pending) {
        guard pending[p.connection.pollDescriptor] === p else { return }
        pending[p.connection.pollDescriptor] = nil
        perGroup[p.group, default: 1] -= 1
        if perGroup[p.group] == 0 { perGroup[p.group] = nil }
    }

    private static func log(_ line: RefusalSummary.Line) {
        if let seconds = line.seconds {
            Log.warning("join-refused", ["reason": line.reason, "count": line.count, "seconds": seconds,
                                         "peers": line.peers.joined(separator: ",")])
        } else {
            Log.warning("join-refused", ["site": line.site ?? "-", "reason": line.reason, "peer": line.peers.first ?? "-",
                                         "note": "more refusals for this reason are counted and summarised each minute"])
        }
    }

    // MARK: After the proof

    /// Tells an authenticated site why it was refused (one log line each: these peers hold a key).
    private func refuse(_ connection: TCPConnection, _ reason: JoinRefusal, site: String, extra: [String: Any] = [:],
                        detail: String? = nil) {
        var message: [String: Any] = ["type": "refused", "reason": reason.rawValue]
        message.merge(extra) { $1 }
        try? connection.send(line: JoinProtocol.encode(message))
        let peer = connection.peer.map { "\($0)" } ?? "-"
        if let detail {
            Log.warning("join-refused", ["site": site, "reason": reason.rawValue, "peer": peer, "detail": detail])
        } else {
            Log.warning("join-refused", ["site": site, "reason": reason.rawValue, "peer": peer])
        }
        connection.close()
    }

    /// An authenticated site: the booking check, admission (if its key is still the one it proved),
    /// the welcome, then the session's lifetime.
    private func admit(_ connection: TCPConnection, site: Site, key: SiteKey, sessionKeys: JoinProtocol.SessionKeys) {
        let profile = bridge.profile
        // Is the site booked now (setup window included)?
        let (meeting, next) = bridge.booking(of: site)
        guard let meeting else {
            return refuse(connection, .notBooked, site: site.id, extra: next.map { ["next": bridge.describe($0)] } ?? [:])
        }
        // The key may have been revoked or rotated since the hello: it is read again as the session is
        // registered, under the table's lock, so the schedule follower's revocation pass sees either
        // the session or the new key. The new session replaces an old one of the same site only now.
        let keys = bridge.keys
        let admission = bridge.sessions.admit(keyStillValid: { (try? keys.key(for: site.id))??.generation == key.generation }) {
            Admitted(site: site, meeting: meeting.id, generation: key.generation, connection: connection, end: meeting.end, ssrcs: $0)
        }
        guard case .admitted(let session, let replaced) = admission else {
            return refuse(connection, .authenticationFailed, site: site.id, detail: "the key was revoked or rotated during the join")
        }
        if let replaced {
            replaced.send(["type": "ended", "reason": "replaced"])
            replaced.connection?.shutdownBoth()
        }
        let ssrcs = session.ssrcs
        let mailbox = bridge.mailbox
        mailbox.post(.add(SessionSetup(
            site: site.index, siteID: site.id, meeting: meeting.id, endpointSSRC: ssrcs.siteAudio, bridgeSSRC: ssrcs.bridgeAudio,
            videoSSRC: ssrcs.siteVideo, presenterSSRC: ssrcs.presenter, speakerSSRC: ssrcs.speaker, host: meeting.host,
            floor: bridge.floors.withLock { $0[meeting.id] },
            transport: .native(profile: profile, inboundKey: sessionKeys.siteToBridge, outboundKey: sessionKeys.bridgeToSite),
            payloadTypes: .native)))
        // A site given the floor that rejoins takes it back (the media thread forgot it when the site left).
        if bridge.floors.withLock({ $0[meeting.id] }) == site.index { mailbox.post(.floor(meeting: meeting.id, site: site.index)) }
        if !mailbox.waitUntilAdded(ssrcs.siteAudio, milliseconds: 500) {
            Log.warning("media-session-slow", ["site": site.id, "meeting": meeting.id])
        }
        let video = bridge.options.settings.video
        let videoWelcome: [String: Any] = [
            "ssrc": Int(ssrcs.siteVideo), "presenterSSRC": Int(ssrcs.presenter), "speakerSSRC": Int(ssrcs.speaker),
            "payloadTypes": ["VP8": 96, "H264": 97], "maxPacketBytes": video.maxPacketBytes,
            "maxKilobitsPerSecond": video.maxKilobitsPerSecond,
            "maySend": video.senders == .all || site.index == meeting.host,
        ]
        let welcome: [String: Any] = [
            "type": "welcome", "meeting": Int(meeting.id), "title": meeting.title, "start": iso(meeting.start),
            "end": iso(meeting.end), "mediaPort": Int(bridge.mediaAddress.port), "ssrc": Int(ssrcs.siteAudio),
            "bridgeSSRC": Int(ssrcs.bridgeAudio), "profile": "AEAD_AES_128_GCM", "payloadType": Int(PayloadTypes.native.audio),
            "audioLevelId": Int(PayloadTypes.native.audioLevelID ?? 1), "video": videoWelcome,
        ]
        session.send(welcome)
        Log.info("join", ["site": site.id, "meeting": meeting.id, "peer": connection.peer.map { "\($0)" } ?? "-",
                          "generation": key.generation])
        bridge.quality.joined(site: site.index, meeting: meeting.id)

        // Until the site says bye, the connection drops or fails (a line over the limit included), or
        // the session is no longer the site's (ended or replaced).
        while bridge.isRunning && bridge.sessions.isCurrent(session) {
            let line: String?
            do { line = try connection.receiveLine(timeoutMilliseconds: 1000) } catch { break }
            guard let line else {
                if connection.peerClosed { break } else { continue }  // closed, or just quiet
            }
            if JoinProtocol.decode(line)?["type"] as? String == "bye" { break }
        }
        bridge.sessions.end(site: site.index, session: session, reason: "left", notify: false)
    }
}
