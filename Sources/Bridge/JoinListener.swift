import Admission
import CivilTime
import Foundation
import KeyDerivation
import Scheduler
import SiteDirectory
import Transport

/// The join listener: accepts signalling connections, runs the join exchange on each (hello →
/// challenge with the bridge's proof → the site's proof → booking check → welcome), then keeps the
/// admitted site's connection until it says bye or the connection drops.
final class JoinListener: @unchecked Sendable {
    private unowned let bridge: BridgeServer
    private let listener: TCPListener

    init(bridge: BridgeServer, listener: TCPListener) {
        self.bridge = bridge
        self.listener = listener
    }

    func close() { listener.close() }

    func run() {
        while bridge.isRunning {
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
        let directory = bridge.directory
        let profile = bridge.profile
        guard let helloLine = try? connection.receiveLine(timeoutMilliseconds: 5000),
              let hello = JoinProtocol.decode(helloLine), hello["type"] as? String == "hello",
              hello["version"] as? Int == JoinProtocol.version,
              let siteID = hello["site"] as? String,
              let siteNonce = JoinProtocol.bytes(hex: hello["nonce"], length: JoinProtocol.nonceLength)
        else { return refuse(connection, .malformed, site: nil) }
        guard let site = directory.site(siteID) else { return refuse(connection, .unknownSite, site: siteID) }
        // A site without a key (never provisioned, or revoked) cannot authenticate; it is told no more
        // than a wrong key would be, but only after a full exchange, so the two cannot be told apart.
        let key = try? bridge.keys.key(for: site.id)
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
        let (meeting, next) = bridge.store.withLock { store -> (Meeting?, Meeting?) in
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
        if let replaced = bridge.sessions.admit(session) {
            replaced.send(["type": "ended", "reason": "replaced"])
            replaced.connection.shutdownBoth()
        }
        let mailbox = bridge.mailbox
        mailbox.post(.add(SessionSetup(
            site: site.index, siteID: site.id, meeting: meeting.id, endpointSSRC: endpointSSRC, bridgeSSRC: bridgeSSRC,
            videoSSRC: videoSSRC, presenterSSRC: presenterSSRC, speakerSSRC: speakerSSRC, host: meeting.host,
            floor: bridge.floors.withLock { $0[meeting.id] },
            profile: profile, inboundKey: sessionKeys.siteToBridge, outboundKey: sessionKeys.bridgeToSite)))
        // A site given the floor that rejoins takes it back (the media thread forgot it when the site left).
        if bridge.floors.withLock({ $0[meeting.id] }) == site.index { mailbox.post(.floor(meeting: meeting.id, site: site.index)) }
        if !mailbox.waitUntilAdded(endpointSSRC, milliseconds: 500) {
            Log.warning("media-session-slow", ["site": site.id, "meeting": meeting.id])
        }
        let video = bridge.options.settings.video
        session.send([
            "type": "welcome", "meeting": Int(meeting.id), "title": meeting.title, "start": iso(meeting.start),
            "end": iso(meeting.end), "mediaPort": Int(bridge.mediaAddress.port), "ssrc": Int(endpointSSRC),
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
        bridge.quality.joined(site: site.index, meeting: meeting.id)

        // Until the site says bye or the connection drops.
        while bridge.isRunning {
            guard let line = try? connection.receiveLine(timeoutMilliseconds: 1000) else {
                if connection.peerClosed { break } else { continue }  // closed, or just quiet
            }
            if JoinProtocol.decode(line)?["type"] as? String == "bye" { break }
        }
        bridge.sessions.end(site: site.index, session: session, reason: "left", notify: false)
    }
}
