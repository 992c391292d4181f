import Admission
import CivilTime
import KeyDerivation
import SDP
import SIP
import SRTP
import Scheduler
import SiteDirectory
import Transport
import VideoFormats

/// One SIP call from a room system: its dialog, the session it holds in the session table, what was agreed.
struct SIPCall {
    let callID: String
    /// Where the INVITE came from: every request of the bridge's in this dialog goes there (never to the Contact, an
    /// address that has not proved itself).
    let peer: SIPPeer
    var dialog: SIPDialog
    let session: Admitted
    /// What was agreed; nil until the ACK answers the bridge's offer (an INVITE without SDP).
    var negotiation: SIPNegotiation?
    /// The bridge's offer in the 200 to an INVITE without SDP, until the ACK answers it.
    var pendingOffer: SIPOffer?
    var parameters: SIPBridgeParameters
    /// The bridge's last SDP (answered again to a re-INVITE or UPDATE without an offer).
    var answer: [UInt8]
    var timer: SIPSessionTimer?
    let local: SIPLocalEndpoint
    /// The 2xx of the INVITE was acknowledged.
    var confirmed = false
    /// The bridge placed the call (dial-out, cascade up): its media is sent before the far end's first packet.
    var dialled = false
    /// The far end's Allow names UPDATE: the bridge's session refreshes are UPDATEs; otherwise re-INVITEs with its
    /// current SDP (RFC 4028 lets either refresh; every user agent takes a re-INVITE).
    var peerAllowsUpdate = false

    /// Whether a request or response's Allow names UPDATE (no Allow: not known to, so no).
    static func allowsUpdate(_ message: SIPMessage) -> Bool {
        message.tokens("Allow").contains { $0.uppercased() == "UPDATE" }
    }
}

/// What a SIP call does (docs/PROTOCOL.md, "SIP room systems"): INVITE → digest (SHA-256 then MD5 challenges; the
/// username is the site id, the password `SIPDigestPassword`'s) → the site's booking → `SIPAnswerer` (SDES-SRTP
/// required, Opus) → admitted through the session table like a native site → 200 with the answer; ACK; BYE ends the
/// session; re-INVITE and UPDATE are answered from the current negotiation; session timers (RFC 4028).
extension SIPFrontEnd {
    static let allow = "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE, INFO"

    func handle(_ request: SIPMessage, from peer: SIPPeer, transaction: SIPTransactionID?, now: Int64) {
        guard let method = request.method else { return }
        let inDialog = (try? request.to())?.tag != nil
        if method == "ACK" {
            if let callID = request.callID, var call = calls[callID], call.dialog.matches(request: request), !call.confirmed {
                call.confirmed = true
                calls[callID] = call
                if call.pendingOffer != nil { answered(request, call: call, now: now) }
            }
            return
        }
        guard let transaction else { return }
        if inDialog {
            return handleInDialog(request, method: method, from: peer, transaction: transaction, now: now)
        }
        switch method {
        case "INVITE": invite(request, from: peer, transaction: transaction, now: now)
        case "OPTIONS": respond(request, 200, to: transaction, peer: peer, headers: capabilities, now: now)
        default: respond(request, 481, to: transaction, peer: peer, now: now)  // BYE, UPDATE, INFO outside any dialog
        }
    }

    var capabilities: [SIPHeader] {
        [SIPHeader("Allow", Self.allow), SIPHeader("Accept", "application/sdp"), SIPHeader("Supported", "timer")]
    }

    // MARK: A new call

    private func invite(_ request: SIPMessage, from peer: SIPPeer, transaction: SIPTransactionID, now: Int64) {
        guard let callID = request.callID, calls[callID] == nil else {
            return respond(request, 482, reason: "Loop Detected (this Call-ID is in a call)", to: transaction, peer: peer, now: now)
        }
        guard calls.count < limits.maxCalls,
              calls.values.lazy.filter({ $0.peer.host == peer.host }).count < limits.maxCallsPerPeer else {
            refuse("sip-busy", peer: peer, detail: "at most \(limits.maxCalls) calls, \(limits.maxCallsPerPeer) from one address")
            return respond(request, 503, to: transaction, peer: peer, headers: [SIPHeader("Retry-After", "30")], now: now)
        }
        // Who is calling: the digest username is the site's id.
        guard let site = authenticate(request, from: peer, transaction: transaction, now: now) else { return }
        guard let key = (try? bridge.keys.key(for: site.id)) ?? nil else {
            return respond(request, 403, reason: "Forbidden (the site has no key)", to: transaction, peer: peer, now: now)
        }
        let (booked, next) = bridge.booking(of: site)
        guard let meeting = booked else {
            let reason = "Forbidden (not booked now" + (next.map { "; next booking " + Self.describe($0) } ?? "; no booking ahead") + ")"
            Log.warning("sip-refused", ["site": site.id, "reason": "not-booked", "peer": "\(peer.host):\(peer.port)",
                                        "next": next.map { Self.describe($0) } ?? "-"])
            return respond(request, 403, reason: reason, to: transaction, peer: peer, now: now)
        }
        // What the call carries.
        // What the call carries: the room system's offer answered, or (an INVITE without SDP) the bridge's offer in
        // the 200, answered in the ACK.
        guard request.body.isEmpty || request.contentType?.lowercased().hasPrefix("application/sdp") != false else {
            return respond(request, 415, to: transaction, peer: peer, headers: [SIPHeader("Accept", "application/sdp")], now: now)
        }
        // SDES keys travel in the SDP: where the site's policy (or sip.keysRequireTLS) says so, only over TLS. An
        // INVITE without SDP would get the bridge's keys in its 200.
        if request.body.isEmpty || SIPSitePolicies.carriesKeys(request.body),
           let refusal = sitePolicies.keysRefusal(site: site.id, transport: peer.transport) {
            Log.warning("sip-refused", ["site": site.id, "reason": "keys-need-tls", "peer": "\(peer.host):\(peer.port)",
                                        "transport": peer.transport.rawValue.lowercased()])
            return respond(request, 403, reason: "Forbidden (\(refusal))", to: transaction, peer: peer, now: now)
        }
        let policy = sitePolicies.mediaPolicy(for: site.id)
        let local = SIPLocalEndpoint(transport: peer.transport, host: mediaHost(for: request),
                                     port: peer.transport == .tls ? tlsAddress?.port ?? address.port : address.port)
        let parameters: SIPBridgeParameters
        var answer: SIPAnswer? = nil
        do {
            parameters = try SIPBridgeParameters(
                address: local.host, audioPort: bridge.mediaAddress.port, videoPort: bridge.mediaAddress.port,
                audioKey: try SDESKey(keySalt: try SecureRandom.bytes(30)),
                videoKey: try SDESKey(keySalt: try SecureRandom.bytes(30)), sessionID: UInt64.random(in: 1...UInt64(Int64.max)))
            if !request.body.isEmpty {
                answer = try SIPAnswerer.answer(to: try SessionDescription(parsing: request.body), bridge: parameters,
                                                policy: policy)
            }
        } catch {
            Log.warning("sip-refused", ["site": site.id, "reason": "offer", "detail": "\(error)"])
            return respond(request, 488, reason: "Not Acceptable Here (\(Self.offerRefusal(error, site: site.id)))", to: transaction,
                           peer: peer, now: now)
        }
        if let answer, let refusal = Self.unusable(answer.negotiation) {
            Log.warning("sip-refused", ["site": site.id, "reason": "media", "detail": refusal])
            return respond(request, 488, reason: "Not Acceptable Here (\(refusal))", to: transaction, peer: peer, now: now)
        }
        var timer: SIPSessionTimer? = nil
        var timerHeaders: [SIPHeader] = []
        let uacTimers = (request.tokens("Supported") + request.tokens("Require")).contains { $0.lowercased() == "timer" }
        if uacTimers || request.value("Session-Expires") != nil {
            switch SIPSessionTimer.answer(request: request, now: now) {
            case .reject(let status, let reason, let headers):
                return respond(request, status, reason: reason, to: transaction, peer: peer, headers: headers, now: now)
            case .accept(let accepted, let headers):
                timer = accepted
                timerHeaders = headers
            }
        }
        // Admitted as every site is: one session per site, in the meeting it is booked in.
        let keys = bridge.keys
        let admission = bridge.sessions.admit(keyStillValid: { (try? keys.key(for: site.id))??.generation == key.generation }) {
            Admitted(site: site, meeting: meeting.id, generation: key.generation, connection: nil, end: meeting.end, ssrcs: $0)
        }
        guard case .admitted(let session, let replaced) = admission else {
            return respond(request, 403, reason: "Forbidden (the key was revoked or rotated during the call setup)",
                           to: transaction, peer: peer, now: now)
        }
        if let replaced {
            replaced.send(["type": "ended", "reason": "replaced"])
            replaced.connection?.shutdownBoth()
        }
        let tag = Self.token()
        guard var ok = SIPMessage.response(to: request, status: 200, toTag: tag, receivedFrom: udpSource(peer)),
              let dialog = try? SIPDialog(asServer: request, response: ok)
        else {
            bridge.sessions.end(site: site.index, session: session, reason: "sip-dialog-failed", notify: false)
            return respond(request, 400, reason: "Bad Request (no Contact or From tag)", to: transaction, peer: peer, now: now)
        }
        let offer = answer == nil
            ? SIPOfferer.offer(bridge: parameters, policy: policy, video: policy.allowsPlainRTP ? [] : [.h264, .vp8]) : nil  // plain RTP calls are audio only
        ok.add("Contact", "<sip:vcbridge@\(local.host.contains(":") ? "[\(local.host)]" : local.host):\(local.port);transport=\(peer.transport.rawValue.lowercased())>")
        for header in capabilities + timerHeaders { ok.add(header.name, header.value) }
        ok.add("Content-Type", "application/sdp")
        ok.body = Array((answer?.text ?? offer?.text ?? "").utf8)
        var call = SIPCall(callID: callID, peer: peer, dialog: dialog, session: session, negotiation: answer?.negotiation,
                           pendingOffer: offer, parameters: parameters, answer: ok.body, timer: timer, local: local)
        call.peerAllowsUpdate = SIPCall.allowsUpdate(request)
        calls[callID] = call
        // The room system sends as soon as it has the 200: the media thread takes the session first.
        if answer != nil { startMedia(call) }
        Log.info("join", ["site": site.id, "meeting": meeting.id, "peer": "\(peer.host):\(peer.port)", "generation": key.generation,
                          "transport": "sip-\(peer.transport.rawValue.lowercased())",
                          "codec": answer?.negotiation.audio.codec.rawValue ?? "(offered in the 200)",
                          "payloadType": answer.map { "\($0.negotiation.audio.payloadType)" } ?? "-",
                          "rtcpMux": answer?.negotiation.audio.media.remote.rtcpMux ?? true,
                          "media": answer.map { "\($0.negotiation.audio.media.remote.address):\($0.negotiation.audio.media.remote.rtpPort)" } ?? "-"])
        bridge.quality.joined(site: site.index, meeting: meeting.id)
        invites[transaction] = callID
        deliver(table.respond(ok, to: transaction, now: now), now: now)
    }

    /// An offer's refusal as a 488's reason phrase names it: plain RTP names the site and the setting that allows it.
    static func offerRefusal(_ error: Error, site: String) -> String {
        if let error = error as? SIPSDPError, error.reason == .plainRTPNotAllowed {
            return phrase("plain RTP (no a=crypto) is not allowed for \(site): SRTP is required unless sip.sites.\(site).media is rtp")
        }
        return phrase("\(error)")
    }

    /// Why an agreement cannot be used, or nil: Opus, G.722, PCMA or PCMU (and video) with SRTP AES_CM_128_HMAC_SHA1_80,
    /// or plain RTP audio alone, which the answerer only agrees where the site's policy allows it. Payload types may
    /// differ per direction: the bridge sends with the far end's numbers and accepts its own (RFC 3264 §5.1, §6.1).
    static func unusable(_ negotiation: SIPNegotiation) -> String? {
        let audio = negotiation.audio
        if let srtp = audio.media.srtp, srtp.suite != .aesCM128HMACSHA1_80 { return "SRTP AES_CM_128_HMAC_SHA1_80 is required" }
        if let video = negotiation.video {
            guard audio.media.srtp != nil else { return "plain RTP calls are audio only" }
            guard video.media.srtp?.suite == .aesCM128HMACSHA1_80 else { return "SRTP AES_CM_128_HMAC_SHA1_80 is required on video" }
        }
        return nil
    }

    /// The ACK of a 200 that carried the bridge's offer carries the answer: the media starts, or the call ends.
    private func answered(_ ack: SIPMessage, call: SIPCall, now: Int64) {
        var call = call
        guard let offer = call.pendingOffer else { return }
        call.pendingOffer = nil
        do {
            let negotiation = try SIPOfferer.parseAnswer(try SessionDescription(parsing: ack.body), to: offer)
            if let refusal = Self.unusable(negotiation) { throw SIPAnswerRefusal(detail: refusal) }
            call.negotiation = negotiation
            calls[call.callID] = call
            startMedia(call)
        } catch {
            Log.warning("sip-refused", ["site": call.session.site.id, "reason": "answer", "detail": ack.body.isEmpty ? "no SDP in the ACK" : "\(error)"])
            calls[call.callID] = nil
            hangUp(&call, now: now)
            bridge.sessions.end(site: call.session.site.index, session: call.session, reason: "sip-answer-refused", notify: false)
        }
    }

    /// The site whose digest credentials the INVITE carries; nil when it was answered 401 (challenge) or 403.
    private func authenticate(_ request: SIPMessage, from peer: SIPPeer, transaction: SIPTransactionID, now: Int64) -> Site? {
        let directory = bridge.directory
        // A room system that cannot do digest, calling from its registered address over a connection (TCP, TLS: the
        // handshake proved the address; a UDP source can be forged, so over UDP it is challenged as any call).
        if request.value("Authorization") == nil, peer.transport.isReliable,
           let id = sitePolicies.site(registeredAt: peer.host), let site = directory.site(id) {
            Log.info("sip-registered-address", ["site": id, "peer": "\(peer.host):\(peer.port)",
                                                "transport": peer.transport.rawValue.lowercased()])
            return site
        }
        guard let authorization = request.value("Authorization"), let uri = request.requestURI else {
            challenge(request, from: peer, transaction: transaction, stale: false, now: now)
            return nil
        }
        let keys = bridge.keys
        let verdict = challenger.verify(authorization: authorization, method: "INVITE", requestURI: uri, now: now) { username in
            guard directory.site(username) != nil, let key = (try? keys.key(for: username)) ?? nil else { return nil }
            return try? SIPDigestPassword.password(site: key.site, secret: key.secret)
        }
        let failureKey = peer.host + " " + (Self.digestUsername(authorization) ?? "-")
        switch verdict {
        case .accepted(let username):
            failures[failureKey] = nil
            return directory.site(username)
        case .stale:
            challenge(request, from: peer, transaction: transaction, stale: true, now: now)
            return nil
        case .refused(let why):
            if failures.count >= 4096 { failures = failures.filter { now - $0.value.since < limits.authenticationWindowMilliseconds } }
            if failures.count >= 4096 { failures.removeAll() }
            var entry = failures[failureKey] ?? (0, now)
            if now - entry.since > limits.authenticationWindowMilliseconds { entry = (0, now) }
            entry.count += 1
            failures[failureKey] = entry
            refuse("sip-authentication-failed", peer: peer, site: Self.digestUsername(authorization), detail: why.rawValue)
            if entry.count >= limits.authenticationAttempts {
                respond(request, 403, reason: "Forbidden (authentication failed)", to: transaction, peer: peer, now: now)
            } else {
                challenge(request, from: peer, transaction: transaction, stale: false, now: now)
            }
            return nil
        }
    }

    private func challenge(_ request: SIPMessage, from peer: SIPPeer, transaction: SIPTransactionID, stale: Bool, now: Int64) {
        guard let nonce = try? challenger.nonce(now: now) else { return respond(request, 500, to: transaction, peer: peer, now: now) }
        let values = bridge.options.settings.sipDigestAlgorithms.compactMap(DigestAlgorithm.init(rawValue:)).map {
            DigestChallenge(realm: challenger.realm, nonce: nonce, algorithm: $0, stale: stale).headerValue
        }
        respond(request, 401, to: transaction, peer: peer, headers: values.map { SIPHeader("WWW-Authenticate", $0) }, now: now)
    }

    /// The `username` of a digest Authorization header (for counting failures; not trusted for anything else).
    static func digestUsername(_ authorization: String) -> String? {
        guard let range = authorization.range(of: "username=\"") else { return nil }
        let rest = authorization[range.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end].prefix(64))
    }

    /// The address the bridge's SDP and Contact name: the listen address, or when the bridge listens on every
    /// address, the one the room system dialled (the Request-URI's host, if an IP literal).
    func mediaHost(for request: SIPMessage) -> String {
        let listen = bridge.options.listenAddress
        if listen != "0.0.0.0" && listen != "::" { return listen }
        if let uri = request.requestURI.flatMap({ try? SIPURI(parsing: $0) }), (try? SocketAddress(ip: uri.host, port: 0)) != nil {
            return uri.host
        }
        return Self.host(of: address) == "0.0.0.0" ? "127.0.0.1" : Self.host(of: address)
    }

    /// A booking as a reason phrase names it.
    static func describe(_ meeting: Meeting) -> String {
        "#\(meeting.id) \"\(phrase(meeting.title))\" from \(iso(meeting.start)) to \(iso(meeting.end)) (room ready from \(iso(meeting.reservedFrom)))"
    }

    /// Text safe in a reason phrase: no control characters, at most 200 characters.
    static func phrase(_ text: String) -> String {
        String(String(text.unicodeScalars.map { $0.value < 32 || $0.value == 127 ? " " : Character($0) }).prefix(200))
    }

    // MARK: Within a call

    private func handleInDialog(_ request: SIPMessage, method: String, from peer: SIPPeer, transaction: SIPTransactionID,
                                now: Int64) {
        guard let callID = request.callID, var call = calls[callID], call.dialog.matches(request: request) else {
            return respond(request, 481, to: transaction, peer: peer, now: now)
        }
        if case .reject(let status, let reason, let headers) = call.dialog.receive(request: request) {
            calls[callID] = call
            return respond(request, status, reason: reason, to: transaction, peer: peer, headers: headers, now: now)
        }
        calls[callID] = call
        switch method {
        case "BYE":
            respond(request, 200, to: transaction, peer: peer, now: now)
            calls[callID] = nil
            bridge.sessions.end(site: call.session.site.index, session: call.session, reason: "left", notify: false)
        case "INVITE", "UPDATE":
            refresh(request, call: call, from: peer, transaction: transaction, now: now)
        case "OPTIONS":
            respond(request, 200, to: transaction, peer: peer, headers: capabilities, now: now)
        case "INFO":
            info(request, call: call, from: peer, transaction: transaction, now: now)
        default:
            respond(request, 405, to: transaction, peer: peer, headers: [SIPHeader("Allow", Self.allow)], now: now)
        }
    }

    /// A re-INVITE or UPDATE: a new offer is answered keeping the codec and keys while offered (a changed remote key
    /// or address gives the media thread the session again); without one, the current SDP is sent again. Either
    /// way it refreshes the session timer.
    private func refresh(_ request: SIPMessage, call: SIPCall, from peer: SIPPeer, transaction: SIPTransactionID, now: Int64) {
        var call = call
        var headers = capabilities
        if call.timer != nil || request.value("Session-Expires") != nil {
            switch SIPSessionTimer.answer(request: request, now: now) {
            case .reject(let status, let reason, let extra):
                return respond(request, status, reason: reason, to: transaction, peer: peer, headers: extra, now: now)
            case .accept(let timer, let extra):
                call.timer = timer
                headers += extra
            }
        }
        if !request.body.isEmpty {
            do {
                let offer = try SessionDescription(parsing: request.body)
                call.parameters.sessionVersion += 1
                if SIPSitePolicies.carriesKeys(request.body),
                   let refusal = sitePolicies.keysRefusal(site: call.session.site.id, transport: peer.transport) {
                    return respond(request, 488, reason: "Not Acceptable Here (\(Self.phrase(refusal)))", to: transaction, peer: peer, now: now)
                }
                let answer = try SIPAnswerer.answer(to: offer, bridge: call.parameters,
                                                    policy: sitePolicies.mediaPolicy(for: call.session.site.id),
                                                    current: call.negotiation)
                if let refusal = Self.unusable(answer.negotiation) {
                    return respond(request, 488, reason: "Not Acceptable Here (\(refusal))", to: transaction, peer: peer, now: now)
                }
                let changes = call.negotiation.map { answer.negotiation.changes(from: $0) } ?? [.remoteAddress]
                call.negotiation = answer.negotiation
                call.pendingOffer = nil
                call.answer = Array(answer.text.utf8)
                if !changes.intersection([.remoteAddress, .remoteKey, .audioCodec, .videoCodec]).isEmpty {
                    startMedia(call)
                    Log.info("sip-renegotiated", ["site": call.session.site.id,
                                                  "media": "\(answer.negotiation.audio.media.remote.address):\(answer.negotiation.audio.media.remote.rtpPort)"])
                }
            } catch {
                return respond(request, 488, reason: "Not Acceptable Here (\(Self.offerRefusal(error, site: call.session.site.id)))",
                               to: transaction, peer: peer, now: now)
            }
        }
        calls[call.callID] = call
        guard var ok = SIPMessage.response(to: request, status: 200, receivedFrom: udpSource(peer)) else { return }
        ok.add("Contact", "<sip:vcbridge@\(call.local.host.contains(":") ? "[\(call.local.host)]" : call.local.host):\(call.local.port);transport=\(peer.transport.rawValue.lowercased())>")
        for header in headers { ok.add(header.name, header.value) }
        ok.add("Content-Type", "application/sdp")
        ok.body = call.answer
        deliver(table.respond(ok, to: transaction, now: now), now: now)
    }

    /// The media thread takes the call's session with what was agreed (again, after a renegotiation: it replaces the
    /// one it had), before the room system's first packet if it can (waiting at most 200 ms).
    func startMedia(_ call: SIPCall) {
        guard let audio = call.negotiation?.audio, bridge.sessions.isCurrent(call.session),
              let meeting = bridge.store.withLock({ $0.schedule.meeting(call.session.meeting) }) else { return }
        let ssrcs = call.session.ssrcs
        let site = call.session.site
        let video = Self.videoSetup(call.negotiation?.video)
        bridge.mailbox.post(.add(SessionSetup(
            site: site.index, siteID: site.id, meeting: meeting.id, endpointSSRC: ssrcs.siteAudio, bridgeSSRC: ssrcs.bridgeAudio,
            videoSSRC: ssrcs.siteVideo, presenterSSRC: ssrcs.presenter, speakerSSRC: ssrcs.speaker, host: meeting.host,
            floor: bridge.floors.withLock { $0[meeting.id] },
            transport: .sip(SIPMediaSetup(
                profile: .aesCM128HMACSHA1_80, keys: audio.media.srtp.map { (inbound: $0.remoteKey.keySalt, outbound: $0.localKey.keySalt) },
                remoteRTP: try? SocketAddress(ip: audio.media.remote.address, port: audio.media.remote.rtpPort), codec: audio.codec,
                sendsFirst: call.dialled, rtcpMux: audio.media.remote.rtcpMux,
                remoteRTCP: try? SocketAddress(ip: audio.media.remote.rtcpAddress, port: audio.media.remote.rtcpPort),
                signalling: call.peer.transport.rawValue.lowercased(), video: video?.setup)),
            payloadTypes: PayloadTypes(audio: audio.receivePayloadType, audioLevelID: nil, video: video?.received ?? [:],
                                       sentAudio: audio.payloadType, sentVideo: video?.sent ?? [:]))))
        if !bridge.mailbox.waitUntilAdded(ssrcs.siteAudio, milliseconds: 200) {
            Log.warning("media-session-slow", ["site": site.id, "meeting": meeting.id])
        }
    }

    /// Once a loop: a call whose session the bridge ended (meeting over, key revoked, media lost, replaced) is hung
    /// up with BYE; session timers refresh (when the bridge is the refresher) or end the call.
    func followCalls(now: Int64) {
        for (callID, var call) in calls {
            if !bridge.sessions.isCurrent(call.session) {
                hangUp(&call, now: now)
                calls[callID] = nil
                continue
            }
            guard var timer = call.timer else { continue }
            switch timer.advance(now: now) {
            case .bye?:
                call.timer = timer
                Log.warning("sip-session-expired", ["site": call.session.site.id])
                hangUp(&call, now: now)
                calls[callID] = nil
                bridge.sessions.end(site: call.session.site.index, session: call.session, reason: "session-timer-expired", notify: false)
            case .refresh?:
                call.timer = timer
                // A target refresh request carries the bridge's Contact (RFC 3311 §5.1).
                let contact = try? SIPURI(parsing: "sip:vcbridge@\(call.local.host.contains(":") ? "[\(call.local.host)]" : call.local.host):\(call.local.port);transport=\(call.peer.transport.rawValue.lowercased())")
                // UPDATE when the far end allows it, else a re-INVITE with the bridge's current SDP (unchanged, so
                // its o= version too: RFC 3264 §8).
                var refresh = call.peerAllowsUpdate
                    ? call.dialog.request("UPDATE", branch: SIPVia.magicCookie + Self.token(), from: call.local, contact: contact)
                    : call.dialog.request("INVITE", branch: SIPVia.magicCookie + Self.token(), from: call.local, contact: contact,
                                          body: call.answer, contentType: "application/sdp")
                refresh.add("Session-Expires", SIPSessionExpires(seconds: timer.intervalSeconds, refresher: timer.refresher).description)
                refresh.add("Supported", "timer")
                calls[callID] = call
                start(refresh, for: call, now: now)
            case nil:
                break
            }
        }
    }

    /// Sends BYE in the call's dialog (to where its INVITE came from).
    private func hangUp(_ call: inout SIPCall, now: Int64) {
        let bye = call.dialog.request("BYE", branch: SIPVia.magicCookie + Self.token(), from: call.local)
        start(bye, for: call, now: now)
        Log.info("sip-hangup", ["site": call.session.site.id, "peer": "\(call.peer.host):\(call.peer.port)"])
    }

    func start(_ request: SIPMessage, for call: SIPCall, now: Int64) {
        guard let (id, events) = table.send(request: request, to: call.peer, now: now) else { return }
        clientTransactions[id] = call.callID
        deliver(events, now: now)
    }

    /// A response to one of the bridge's requests: a 2xx to an UPDATE refresh restarts the session timer (with the
    /// interval it names); any other final answer is a failed refresh, and the call ends with BYE (RFC 4028 §10).
    func handle(_ response: SIPMessage, transaction: SIPTransactionID, now: Int64) {
        guard let status = response.statusCode, status >= 200, let callID = clientTransactions[transaction],
              var call = calls[callID], transaction.method == "UPDATE" || transaction.method == "INVITE" else { return }
        if transaction.method == "INVITE", status < 300 {
            // A refresh re-INVITE's 2xx (and each retransmission of it) is acknowledged by the bridge (§13.2.2.4).
            let cseq = (try? response.cseq())?.number ?? 0
            send(call.dialog.ack(forInviteCSeq: cseq, branch: SIPVia.magicCookie + Self.token(), from: call.local).serialized(),
                 to: call.peer)
        }
        guard var timer = call.timer else { return }
        if timer.refreshAnswered(status: status, response: response, now: now) == .bye {
            refreshFailed(callID, reason: "\(status) \(response.reasonPhrase ?? "")", now: now)
        } else {
            call.timer = timer
            calls[callID] = call
        }
    }

    /// A session refresh the bridge sent failed (a final non-2xx, or no answer): BYE, and the site's session ends.
    private func refreshFailed(_ callID: String, reason: String, now: Int64) {
        guard var call = calls[callID] else { return }
        Log.warning("sip-refresh-failed", ["site": call.session.site.id, "reason": Self.phrase(reason)])
        hangUp(&call, now: now)
        calls[callID] = nil
        bridge.sessions.end(site: call.session.site.index, session: call.session, reason: "session-refresh-failed", notify: false)
    }

    /// A transaction gave up: an INVITE's 2xx never acknowledged ends the call; so does a refresh nobody answered.
    func timedOut(_ transaction: SIPTransactionID, now: Int64) {
        if transaction.method == "UPDATE" || transaction.method == "INVITE", let callID = clientTransactions[transaction],
           calls[callID]?.timer != nil {
            return refreshFailed(callID, reason: "no answer to the refresh", now: now)
        }
        guard let callID = invites[transaction], var call = calls[callID], !call.confirmed else { return }
        hangUp(&call, now: now)
        calls[callID] = nil
        bridge.sessions.end(site: call.session.site.index, session: call.session, reason: "no ACK", notify: false)
    }

    /// Answers a request on its server transaction.
    func respond(_ request: SIPMessage, _ status: Int, reason: String? = nil, to transaction: SIPTransactionID, peer: SIPPeer,
                 headers: [SIPHeader] = [], now: Int64) {
        guard var response = SIPMessage.response(to: request, status: status, reason: reason,
                                                 toTag: status == 100 ? nil : Self.token(), receivedFrom: udpSource(peer))
        else { return }
        for header in headers { response.add(header.name, header.value) }
        deliver(table.respond(response, to: transaction, now: now), now: now)
    }
}

/// An answer the bridge cannot use (its reason as a 488 would give it).
struct SIPAnswerRefusal: Error, CustomStringConvertible {
    let detail: String
    var description: String { detail }
}
