#if canImport(Glibc)
import Glibc
#endif
import Admission
import CivilTime
import Configuration
import KeyDerivation
import SDP
import SIP
import Scheduler
import SiteDirectory
import Transport

/// A hall the bridge calls itself (`sip.dialOut`): its site and SIP address.
struct SIPDialTarget {
    let site: Site
    /// The Request-URI as configured.
    let uri: String
    /// Where the URI points: a host name or numeric address (resolved for each call by `SIPDialResolver`), its port
    /// (5060 when none is named, 5061 for TLS) and transport (`sips:` or `;transport=tls`, `;transport=tcp`, else UDP).
    let host: String
    let port: UInt16
    let transport: SIPTransportKind
    /// Credentials for a digest challenge from the far end, when it asks (nil: a challenge fails the call).
    let credentials: DigestCredentials?
    /// An upstream MCU of a meeting booked with `--cascade-up` (admitted without a key of this bridge's).
    var cascade = false

    /// - Throws: `SIPParseError` for an address that does not parse.
    init(site: Site, uri: String, credentials: DigestCredentials?) throws {
        let parsed = try SIPURI(parsing: uri)
        self.site = site
        self.uri = uri
        host = parsed.host
        transport = parsed.secure || parsed.transport == "tls" ? .tls : parsed.transport == "tcp" ? .tcp : .udp
        port = parsed.port ?? (transport == .tls ? 5061 : 5060)
        self.credentials = credentials
    }
}

/// One call the bridge placed, from its INVITE until its transaction ends.
struct SIPDialAttempt {
    let target: SIPDialTarget
    /// The far end's numeric address (the target's host resolved) and transport: where every request of the call goes.
    let peer: SIPPeer
    let meeting: MeetingID
    let attempt: Int
    var invite: SIPMessage
    let offer: SIPOffer
    let local: SIPLocalEndpoint
    let startedAt: Int64
    /// A provisional response came (a CANCEL can then end the INVITE).
    var provisional = false
    /// The INVITE carries digest credentials (a second challenge fails the call).
    var authenticated = false
    /// Given up (ring time over, meeting over): a late 2xx is acknowledged and hung up.
    var abandoned = false
    /// A final response came.
    var finished = false
    /// The ACK of the 2xx, sent again for each retransmitted 2xx.
    var ack: [UInt8]?
    /// Session timers asked for in the INVITE (RFC 4028), and one retry after a 422.
    var sessionTimer = SIPCallerSessionTimer()
}

/// The dial-out state the SIP thread keeps (it owns it alone, like the calls).
struct SIPDialOut {
    /// The halls of `sip.dialOut`.
    var configured: [Int: SIPDialTarget] = [:]
    /// Those and the upstream MCUs of meetings in progress (`--cascade-up`), by the site each is admitted as.
    var targets: [Int: SIPDialTarget] = [:]
    var cascadeCredentials: DigestCredentials?
    var plan = SIPDialPlan()
    var attempts: [SIPTransactionID: SIPDialAttempt] = [:]
    /// Each dial-out site's meeting now, read from the schedule once a second.
    var wanted: [Int: MeetingID] = [:]
    var checkedAt: Int64?
    /// Sites and meetings already logged as skipped (no key), so the line is written once.
    var skipped: Set<String> = []
    var ringMilliseconds: Int64 = 30_000
    /// Host names being resolved (and TCP connections being opened) off the SIP thread, by lookup key.
    let resolver = SIPDialResolver()
    /// How a call over TLS checks the far end's certificate.
    var tls = SIPDialTLS()
    var resolving: [Int: (dial: SIPDialPlan.Dial, target: SIPDialTarget)] = [:]
    var nextLookup = 0

    /// The configured halls, checked against the site directory.
    /// - Throws: `BridgeError` naming a site id that is not in the directory or an address that does not parse.
    init(settings: [String: String], ringSeconds: Int, cascadeCredentials: [String: String], directory: SiteDirectory,
         tls: SIPDialTLS = SIPDialTLS()) throws {
        ringMilliseconds = Int64(ringSeconds) * 1000
        self.tls = tls
        if let username = cascadeCredentials["username"], let password = cascadeCredentials["password"] {
            self.cascadeCredentials = DigestCredentials(username: username, password: password)
        }
        for (id, address) in settings.sorted(by: { $0.key < $1.key }) {
            guard let site = directory.site(id) else {
                throw BridgeError("sip.dialOut names '\(id)', which is not a site in the directory")
            }
            do { configured[site.index] = try SIPDialTarget(site: site, uri: address, credentials: nil) } catch {
                throw BridgeError("sip.dialOut gives \(id) the address '\(address)', which does not parse: \(error)")
            }
        }
        targets = configured
    }

    init() {}
}

/// Dialling out (docs/ARCHITECTURE.md, "How the bridge dials out"): at the start of each setup window of a dial-out
/// site's meeting the bridge sends an INVITE with its own offer (`SIPOfferer`: Opus first), answers a digest
/// challenge when it has credentials for the far end, ACKs the 2xx, and admits the answered call as the site through
/// the session table exactly as an incoming call (`SIPCall`, `startMedia`); from then on the call is like any other
/// (BYE at the meeting's end, when the booking is cancelled or the site revoked, by `followCalls`). `SIPDialPlan`
/// decides when to call and retry.
extension SIPFrontEnd {
    /// Once a loop: reads the schedule (once a second), gives up calls that ring too long or whose meeting is over,
    /// and places the calls the plan asks for.
    func followDialOut(now: Int64) {
        if dialOut.checkedAt.map({ now - $0 >= 1_000 }) ?? true {
            dialOut.checkedAt = now
            dialOut.wanted = wantedDialOuts()
        }
        for (key, outcome) in dialOut.resolver.finished() {
            guard let (dial, target) = dialOut.resolving.removeValue(forKey: key) else { continue }
            resolved(dial, target: target, outcome: outcome, now: now)
        }
        for (id, attempt) in dialOut.attempts where !attempt.finished && !attempt.abandoned
            && now - attempt.startedAt >= dialOut.ringMilliseconds {
            abandon(id, now: now)
            failed(attempt, reason: "no answer in \(dialOut.ringMilliseconds / 1000) s", now: now)
        }
        let connected = Set(bridge.sessions.all.map(\.site.index)).intersection(dialOut.targets.keys)
        let (dials, given) = dialOut.plan.step(now: now, wanted: dialOut.wanted, connected: connected)
        for site in given {
            for (id, attempt) in dialOut.attempts where attempt.target.site.index == site && !attempt.finished {
                abandon(id, now: now)
                Log.info("sip-dial-abandoned", ["site": attempt.target.site.id, "meeting": attempt.meeting, "reason": "meeting-over"])
            }
        }
        for dial in dials {
            guard let target = dialOut.targets[dial.site] else { continue }
            place(dial, to: target, now: now)
        }
    }

    /// Each dial-out site's meeting now (setup window included), if it has a key (a site without one could not be
    /// admitted, and revoking its key is how a technician stops the calls); and the upstream link of each meeting
    /// booked with `--cascade-up` (from its start: the setup window is for the province's own halls).
    private func wantedDialOuts() -> [Int: MeetingID] {
        let now = Timestamp(wallClock().seconds)
        let active = bridge.store.withLock { store -> [Meeting] in
            _ = try? store.refresh()
            return store.schedule.active(at: now)
        }
        var wanted: [Int: MeetingID] = [:]
        dialOut.targets = dialOut.configured
        for meeting in active where meeting.start <= now {
            guard let address = meeting.cascadeUp, let site = meeting.cascadeSite(in: bridge.directory) else { continue }
            guard Settings.dialOutFault(address) == nil, var target = try? SIPDialTarget(site: site, uri: address, credentials: dialOut.cascadeCredentials) else {
                if dialOut.skipped.insert("\(site.id) \(meeting.id)").inserted {
                    Log.warning("sip-dial-skipped", ["site": site.id, "meeting": meeting.id, "reason": "address",
                                                     "detail": Settings.dialOutFault(address) ?? "it does not parse"])
                }
                continue
            }
            if let refusal = sitePolicies.keysRefusal(site: site.id, transport: target.transport) {
                // The offer's keys would travel in the clear: the upstream is to be dialled over TLS (sips:).
                if dialOut.skipped.insert("\(site.id) \(meeting.id)").inserted {
                    Log.warning("sip-dial-skipped", ["site": site.id, "meeting": meeting.id, "reason": "keys-need-tls", "detail": refusal])
                }
                continue
            }
            target.cascade = true
            dialOut.targets[site.index] = target
            wanted[site.index] = meeting.id
        }
        for (index, target) in dialOut.configured where wanted[index] == nil {
            guard let meeting = active.first(where: { $0.sites.contains(index) }) else { continue }
            guard ((try? bridge.keys.key(for: target.site.id)) ?? nil) != nil else {
                if dialOut.skipped.insert("\(target.site.id) \(meeting.id)").inserted {
                    Log.warning("sip-dial-skipped", ["site": target.site.id, "meeting": meeting.id, "reason": "no-key",
                                                     "note": "vcbridge site key \(target.site.id) gives the site its key"])
                }
                continue
            }
            wanted[index] = meeting.id
        }
        return wanted
    }

    /// The local side of a call to `peer`: the listen address, or when the bridge listens on every address the one
    /// the kernel would send from (a connected UDP socket's name).
    func localHost(toward peer: SIPPeer) -> String {
        let listen = bridge.options.listenAddress
        if listen != "0.0.0.0" && listen != "::" { return listen }
        if peer.host.hasPrefix("127.") { return "127.0.0.1" }
        if peer.host == "::1" { return "::1" }
        var target = sockaddr_in()
        target.sin_family = sa_family_t(AF_INET)
        target.sin_port = peer.port.bigEndian
        guard inet_pton(AF_INET, peer.host, &target.sin_addr) == 1 else { return Self.host(of: address) }
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { return Self.host(of: address) }
        defer { Glibc.close(fd) }
        let connected = withUnsafePointer(to: &target) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        var name = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &name) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard connected == 0, named == 0 else { return Self.host(of: address) }
        var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
        guard inet_ntop(AF_INET, &name.sin_addr, &text, socklen_t(text.count)) != nil else { return Self.host(of: address) }
        return String(cString: text)
    }

    /// Starts one call: its host resolved and, over TCP, a connection opened, off the SIP thread (`SIPDialResolver`);
    /// the INVITE goes when that is done.
    private func place(_ dial: SIPDialPlan.Dial, to target: SIPDialTarget, now: Int64) {
        let key = dialOut.nextLookup
        dialOut.nextLookup += 1
        let family = Self.host(of: address).contains(":") ? AF_INET6 : AF_INET
        guard dialOut.resolver.start(key, host: target.host, port: target.port, transport: target.transport, family: family,
                                     tls: dialOut.tls) else {
            return failed(target, dial: dial, reason: "too many host lookups in progress", now: now)
        }
        dialOut.resolving[key] = (dial, target)
        Log.info("sip-dial", ["site": target.site.id, "meeting": dial.meeting, "attempt": dial.attempt, "to": target.uri])
    }

    /// A lookup finished: the INVITE goes to the address found (on the connection opened for TCP), or the attempt
    /// fails naming why (a name that does not resolve, a refused connection) and the plan retries it later.
    private func resolved(_ dial: SIPDialPlan.Dial, target: SIPDialTarget, outcome: SIPDialResolver.Outcome, now: Int64) {
        guard dialOut.wanted[dial.site] == dial.meeting else {
            if case .ready(_, let connection?, let tls) = outcome {
                tls?.close()
                connection.close()
            }
            return  // the meeting ended while the name was looked up: the plan gave the call up
        }
        switch outcome {
        case .failed(let reason):
            failed(target, dial: dial, reason: reason, now: now)
        case .ready(let remote, let connection, let tls):
            if let connection {
                close(remote)  // an older connection to the same address (a call before this one) gives way
                let stream = Stream(connection: connection, peer: remote, tls: tls, now: now)
                stream.outgoing = true
                stream.handshaken = tls != nil
                streams[remote] = stream
            }
            invite(dial, to: target, peer: SIPPeer(host: Self.host(of: remote), port: remote.port, transport: target.transport), now: now)
        }
    }

    /// Sends the INVITE of one call.
    private func invite(_ dial: SIPDialPlan.Dial, to target: SIPDialTarget, peer: SIPPeer, now: Int64) {
        let host = localHost(toward: peer)
        let local = SIPLocalEndpoint(transport: peer.transport, host: host,
                                     port: peer.transport == .tls ? (tlsAddress?.port ?? address.port) : address.port)
        let offer: SIPOffer
        do {
            let parameters = try SIPBridgeParameters(
                address: host, audioPort: bridge.mediaAddress.port, videoPort: bridge.mediaAddress.port,
                audioKey: try SDESKey(keySalt: try SecureRandom.bytes(30)),
                videoKey: try SDESKey(keySalt: try SecureRandom.bytes(30)), sessionID: UInt64.random(in: 1...UInt64(Int64.max)))
            offer = SIPOfferer.offer(bridge: parameters, policy: sitePolicies.mediaPolicy(for: target.site.id), video: sitePolicies.mediaPolicy(for: target.site.id).allowsPlainRTP ? [] : [.h264, .vp8])  // plain RTP calls are audio only
        } catch {
            return failed(target, dial: dial, reason: "offer: \(error)", now: now)
        }
        let hostText = host.contains(":") ? "[\(host)]" : host
        var invite = SIPMessage(startLine: .request(method: "INVITE", uri: target.uri))
        invite.add("Via", SIPVia(transport: local.transport.rawValue, host: host, port: local.port,
                                 branch: SIPVia.magicCookie + Self.token(), rport: true).description)
        invite.add("Max-Forwards", "70")
        invite.add("From", "<sip:vcbridge@\(hostText)>;tag=\(Self.token())")
        invite.add("To", "<\(target.uri)>")
        invite.add("Call-ID", Self.token() + Self.token() + "@vcbridge")
        invite.add("CSeq", "1 INVITE")
        invite.add("Contact", "<sip:vcbridge@\(hostText):\(local.port);transport=\(local.transport.rawValue.lowercased())>")
        invite.add("Allow", Self.allow)
        invite.add("User-Agent", "vcbridge")
        let sessionTimer = SIPCallerSessionTimer()
        for header in sessionTimer.inviteHeaders { invite.add(header.name, header.value) }
        invite.add("Content-Type", "application/sdp")
        invite.body = Array(offer.text.utf8)
        let attempt = SIPDialAttempt(target: target, peer: peer, meeting: dial.meeting, attempt: dial.attempt, invite: invite,
                                     offer: offer, local: local, startedAt: now, sessionTimer: sessionTimer)
        send(attempt, now: now)
    }

    /// Starts the INVITE's client transaction and keeps the attempt under its id.
    private func send(_ attempt: SIPDialAttempt, now: Int64) {
        guard let (id, events) = table.send(request: attempt.invite, to: attempt.peer, now: now) else {
            return failed(attempt, reason: "too many transactions in flight", now: now)
        }
        dialOut.attempts[id] = attempt
        deliver(events, now: now)
    }

    /// Gives up a call not yet answered: a CANCEL once the far end has answered provisionally (before that a CANCEL
    /// cannot be matched, RFC 3261 §9.1; the INVITE's own timers end it).
    private func abandon(_ id: SIPTransactionID, now: Int64) {
        guard var attempt = dialOut.attempts[id], !attempt.abandoned else { return }
        attempt.abandoned = true
        dialOut.attempts[id] = attempt
        guard attempt.provisional, !attempt.finished else { return }
        let invite = attempt.invite
        var cancel = SIPMessage(startLine: .request(method: "CANCEL", uri: invite.requestURI ?? attempt.target.uri))
        if let via = invite.value("Via") { cancel.add("Via", via) }
        cancel.add("Max-Forwards", "70")
        for name in ["From", "To", "Call-ID"] { if let value = invite.value(name) { cancel.add(name, value) } }
        if let cseq = try? invite.cseq() { cancel.add("CSeq", "\(cseq.number) CANCEL") }
        if let (_, events) = table.send(request: cancel, to: attempt.peer, now: now) { deliver(events, now: now) }
    }

    private func failed(_ attempt: SIPDialAttempt, reason: String, now: Int64) {
        failed(attempt.target, dial: SIPDialPlan.Dial(site: attempt.target.site.index, meeting: attempt.meeting, attempt: attempt.attempt),
               reason: reason, now: now)
    }

    private func failed(_ target: SIPDialTarget, dial: SIPDialPlan.Dial, reason: String, now: Int64) {
        let wait = dialOut.plan.failed(site: target.site.index, now: now)
        Log.warning("sip-dial-failed", ["site": target.site.id, "meeting": dial.meeting, "attempt": dial.attempt,
                                        "reason": Self.phrase(reason), "retryInMs": wait])
    }

    /// Whether a call being placed uses the stream to `peer` (it stays open while the call rings).
    func dialOutUses(_ peer: SocketAddress) -> Bool {
        dialOut.attempts.values.contains { !$0.finished && $0.peer.transport.isReliable && $0.peer.port == peer.port
            && $0.peer.host == Self.host(of: peer) }
    }

    /// The INVITE's transaction gave up (Timer B): the call failed, unless it was given up already.
    func dialTimedOut(_ id: SIPTransactionID, now: Int64) {
        guard var attempt = dialOut.attempts[id], !attempt.finished else { return }
        attempt.finished = true
        dialOut.attempts[id] = attempt
        if !attempt.abandoned { failed(attempt, reason: "no response", now: now) }
    }

    /// A response to one of the bridge's INVITEs.
    func dialled(_ response: SIPMessage, transaction id: SIPTransactionID, now: Int64) {
        guard var attempt = dialOut.attempts[id], let status = response.statusCode else { return }
        switch status {
        case 100..<200:
            attempt.provisional = true
            dialOut.attempts[id] = attempt
            // Given up before this provisional came: the CANCEL can go now.
            if attempt.abandoned {
                attempt.abandoned = false
                dialOut.attempts[id] = attempt
                abandon(id, now: now)
            }
        case 200..<300:
            if let ack = attempt.ack { return send(ack, to: attempt.peer) }  // a retransmitted 2xx
            attempt.finished = true
            guard var dialog = try? SIPDialog(asClient: attempt.invite, response: response) else {
                dialOut.attempts[id] = attempt
                if !attempt.abandoned { failed(attempt, reason: "a 2xx without To tag or Contact", now: now) }
                return
            }
            let cseq = (try? attempt.invite.cseq())?.number ?? 1
            var answer: SIPNegotiation? = nil
            var refusal: String? = nil
            do {
                let negotiation = try SIPOfferer.parseAnswer(try SessionDescription(parsing: response.body), to: attempt.offer)
                refusal = Self.unusable(negotiation)
                answer = negotiation
            } catch {
                refusal = response.body.isEmpty ? "no SDP in the 2xx" : "\(error)"
            }
            let ack = dialog.ack(forInviteCSeq: cseq, branch: SIPVia.magicCookie + Self.token(), from: attempt.local).serialized()
            attempt.ack = ack
            dialOut.attempts[id] = attempt
            send(ack, to: attempt.peer)
            let site = attempt.target.site
            let current = bridge.booking(of: site).current
            let joinedMeanwhile = bridge.sessions.all.contains(where: { $0.site.index == site.index })
            if attempt.abandoned || refusal != nil || current?.id != attempt.meeting || joinedMeanwhile {
                let bye = dialog.request("BYE", branch: SIPVia.magicCookie + Self.token(), from: attempt.local)
                if let (_, events) = table.send(request: bye, to: attempt.peer, now: now) { deliver(events, now: now) }
                guard !attempt.abandoned else { return }
                if let refusal {
                    failed(attempt, reason: "answer: \(refusal)", now: now)
                } else if joinedMeanwhile {
                    // The site joined by itself while this call rang: its session stands, this call is not needed.
                    dialOut.plan.answered(site: site.index, now: now)
                    Log.info("sip-dial-abandoned", ["site": site.id, "meeting": attempt.meeting, "reason": "joined-meanwhile"])
                } else {
                    failed(attempt, reason: "the meeting is no longer in progress for the site", now: now)
                }
                return
            }
            admit(attempt, response: response, dialog: dialog, negotiation: answer!, meeting: current!, now: now)
        case 422:
            attempt.finished = true
            dialOut.attempts[id] = attempt
            guard !attempt.abandoned else { return }
            var sessionTimer = attempt.sessionTimer
            switch sessionTimer.rejected(response) {
            case .refuse(let reason):
                failed(attempt, reason: reason, now: now)
            case .retry:
                // RFC 4028 §7.4: the same call again asking for the 422's Min-SE (a new branch, the next CSeq).
                Log.info("sip-dial-retry", ["site": attempt.target.site.id, "meeting": attempt.meeting, "attempt": attempt.attempt,
                                            "reason": "\(status) \(response.reasonPhrase ?? "") (Min-SE \(sessionTimer.intervalSeconds))"])
                var invite = attempt.invite
                let number = ((try? invite.cseq())?.number ?? 1) + 1
                invite.set("Via", SIPVia(transport: attempt.local.transport.rawValue, host: attempt.local.host, port: attempt.local.port,
                                         branch: SIPVia.magicCookie + Self.token(), rport: true).description)
                invite.set("CSeq", "\(number) INVITE")
                for header in sessionTimer.inviteHeaders { invite.set(header.name, header.value) }
                var next = SIPDialAttempt(target: attempt.target, peer: attempt.peer, meeting: attempt.meeting, attempt: attempt.attempt,
                                          invite: invite, offer: attempt.offer, local: attempt.local, startedAt: attempt.startedAt,
                                          sessionTimer: sessionTimer)
                next.authenticated = attempt.authenticated
                send(next, now: now)
            }
        case 401, 407:
            attempt.finished = true
            dialOut.attempts[id] = attempt
            guard !attempt.abandoned else { return }
            let header = status == 401 ? "WWW-Authenticate" : "Proxy-Authenticate"
            guard let credentials = attempt.target.credentials, !attempt.authenticated,
                  let challenge = response.values(header).compactMap(DigestChallenge.init(parsing:)).first,
                  let authorization = try? credentials.authorization(
                      for: challenge, method: "INVITE", uri: attempt.invite.requestURI ?? attempt.target.uri,
                      cnonce: Self.token(), nc: 1)
            else {
                return failed(attempt, reason: "\(status) \(response.reasonPhrase ?? "")" + (attempt.target.credentials == nil
                    ? " (no credentials configured for it)" : attempt.authenticated ? " (the credentials were refused)" : ""), now: now)
            }
            // The same call again with the answer: a new branch, the next CSeq, the challenge's answer.
            var invite = attempt.invite
            let number = ((try? invite.cseq())?.number ?? 1) + 1
            invite.set("Via", SIPVia(transport: attempt.local.transport.rawValue, host: attempt.local.host, port: attempt.local.port,
                                     branch: SIPVia.magicCookie + Self.token(), rport: true).description)
            invite.set("CSeq", "\(number) INVITE")
            invite.remove("Authorization")
            invite.remove("Proxy-Authorization")
            invite.add(status == 401 ? "Authorization" : "Proxy-Authorization", authorization)
            var next = SIPDialAttempt(target: attempt.target, peer: attempt.peer, meeting: attempt.meeting, attempt: attempt.attempt,
                                      invite: invite, offer: attempt.offer, local: attempt.local, startedAt: attempt.startedAt,
                                      sessionTimer: attempt.sessionTimer)
            next.authenticated = true
            send(next, now: now)
        default:
            attempt.finished = true
            dialOut.attempts[id] = attempt
            if !attempt.abandoned { failed(attempt, reason: "\(status) \(response.reasonPhrase ?? "")", now: now) }
        }
    }

    /// The answered call becomes the site's session, as an incoming call does: admitted through the session table,
    /// the media thread given its keys and the far end's address.
    private func admit(_ attempt: SIPDialAttempt, response: SIPMessage, dialog: SIPDialog, negotiation: SIPNegotiation,
                       meeting: Meeting, now: Int64) {
        let site = attempt.target.site
        let keys = bridge.keys
        let cascade = attempt.target.cascade
        let key = (try? keys.key(for: site.id)) ?? nil
        guard cascade || key != nil else {
            return hangUpRefused(attempt, dialog: dialog, reason: "the site has no key", now: now)
        }
        let generation = key?.generation ?? 0
        let admission = bridge.sessions.admit(keyStillValid: { cascade || (try? keys.key(for: site.id))??.generation == generation }) {
            Admitted(site: site, meeting: meeting.id, generation: generation, connection: nil, end: meeting.end, ssrcs: $0,
                     cascadeLink: cascade)
        }
        guard case .admitted(let session, let replaced) = admission else {
            return hangUpRefused(attempt, dialog: dialog, reason: "the key was revoked or rotated during the call setup", now: now)
        }
        if let replaced {
            replaced.send(["type": "ended", "reason": "replaced"])
            replaced.connection?.shutdownBoth()
        }
        let callID = dialog.callID
        let timer = attempt.sessionTimer.timer(answeredBy: response, now: now)
        var call = SIPCall(callID: callID, peer: attempt.peer, dialog: dialog, session: session, negotiation: negotiation,
                           pendingOffer: nil, parameters: attempt.offer.bridge, answer: Array(attempt.offer.text.utf8),
                           timer: timer, local: attempt.local,
                           confirmed: true, dialled: true)
        call.peerAllowsUpdate = SIPCall.allowsUpdate(response)
        calls[callID] = call
        startMedia(call)
        dialOut.plan.answered(site: site.index, now: now)
        let audio = negotiation.audio
        Log.info("join", ["site": site.id, "meeting": meeting.id, "peer": "\(attempt.peer.host):\(attempt.peer.port)",
                          "generation": generation, "transport": "sip-\(attempt.peer.transport.rawValue.lowercased())",
                          "codec": audio.codec.rawValue, "payloadType": audio.payloadType, "rtcpMux": audio.media.remote.rtcpMux,
                          "media": "\(audio.media.remote.address):\(audio.media.remote.rtpPort)", "direction": cascade ? "cascade-up" : "dial-out",
                          "attempt": attempt.attempt, "sessionExpires": timer.map { String($0.intervalSeconds) } ?? "none",
                          "refresher": timer.map { $0.refresher.rawValue } ?? "none"])
        bridge.quality.joined(site: site.index, meeting: meeting.id)
    }

    private func hangUpRefused(_ attempt: SIPDialAttempt, dialog: SIPDialog, reason: String, now: Int64) {
        var dialog = dialog
        let bye = dialog.request("BYE", branch: SIPVia.magicCookie + Self.token(), from: attempt.local)
        if let (_, events) = table.send(request: bye, to: attempt.peer, now: now) { deliver(events, now: now) }
        failed(attempt, reason: reason, now: now)
    }
}
