#if canImport(Glibc)
import Glibc
#endif
import Admission
import DTLS
import Foundation
import ICE
import KeyDerivation
import Monitoring
import SDP
import Scheduler
import SiteDirectory
import Synchronization
import Transport
import VideoFormats

/// The WebRTC signalling front-end (HTTP, WHIP-shaped; see `docs/PROTOCOL.md`): `POST /webrtc/join`
/// with a site's SDP offer and its proof made with the site's secret returns the bridge's answer
/// (201, the session's URL in `Location`, the bridge's proof in `VCBridge-Proof`); `DELETE` of that
/// URL leaves. Like the native join it only authenticates a site, finds its booking and admits it
/// through the session table; the media thread and the handshake thread do the rest.
final class WebRTCFrontEnd: @unchecked Sendable {
    /// A request's time may be this far from the bridge's clock; its nonce is remembered as long.
    static let clockSkewSeconds: Int64 = 120
    static let maximumRememberedNonces = 100_000

    unowned let bridge: BridgeServer
    let handshakes: WebRTCHandshakes
    /// Nonces of accepted requests: a replayed request is refused. A nonce is kept for twice the allowed skew and a
    /// second, after which a replay fails the time check (a request dated the skew ahead is valid until twice it).
    let seenNonces = Mutex(ReplayCache(capacity: maximumRememberedNonces, lifetime: 2 * clockSkewSeconds + 1))

    init(bridge: BridgeServer, handshakes: WebRTCHandshakes) {
        self.bridge = bridge
        self.handshakes = handshakes
    }

    /// Answers the `/webrtc/...` paths; nil for any other path.
    func handle(_ request: HTTPServer.Request) -> HTTPServer.Response? {
        if request.path == "/webrtc/join" {
            guard request.method == .post else { return Self.text(405, "POST an SDP offer here\n", ["Allow": "POST"]) }
            return join(request)
        }
        if request.path.hasPrefix("/webrtc/sessions/") {
            let parts = request.path.dropFirst("/webrtc/sessions/".count).split(separator: "/", omittingEmptySubsequences: false)
            guard let session = bridge.sessions.session(token: String(parts[0])) else { return Self.json(404, ["reason": "ended"]) }
            switch (parts.count, parts.last, request.method) {
            case (1, _, .delete):
                bridge.sessions.end(site: session.site.index, session: session, reason: "left", notify: false)
                return HTTPServer.Response(status: 204)
            case (1, _, .get), (1, _, .head):
                return state(of: session)
            case (1, _, _):
                return Self.text(405, "GET the session's state, DELETE it to leave\n", ["Allow": "GET, HEAD, DELETE"])
            case (2, "floor", .post):
                return floor(request, session: session)
            case (2, "floor", _):
                return Self.text(405, "POST the floor\n", ["Allow": "POST"])
            default:
                return Self.text(404, "no such path\n")
            }
        }
        return nil
    }

    // MARK: Joining

    private func join(_ request: HTTPServer.Request) -> HTTPServer.Response {
        guard request.headers["Content-Type"]?.lowercased().hasPrefix("application/sdp") == true else {
            return Self.text(415, "the offer must be application/sdp\n")
        }
        guard let authorization = request.headers["Authorization"], let credentials = WebRTCJoinProof.Credentials(authorization: authorization) else {
            return Self.refusal(401, "malformed", "an Authorization header: VCBridge site=\"…\", nonce=\"…\", time=\"…\", proof=\"…\"")
        }
        guard let site = bridge.directory.site(credentials.site) else { return Self.refusal(404, "unknown-site", nil) }
        let offer: SessionDescription
        let checked: WebRTCAnswer
        do {
            offer = try SessionDescription(parsing: request.body)
            checked = try WebRTCAnswerer.answer(to: offer, bridge: try parameters(ice: nil, ssrcs: nil))
        } catch {
            return Self.refusal(400, "bad-offer", "\(error)")
        }
        let siteFingerprint = checked.negotiation.remoteFingerprint.bytes
        let now = Int64(wallClock().seconds)
        guard Self.isWithinSkew(credentials.time, now: now) else {
            return Self.refusal(401, "authentication-failed", "the request's time is more than \(Self.clockSkewSeconds) s from the bridge's")
        }
        // A site without a usable key is refused as a wrong key would be.
        guard let key = try? bridge.keys.key(for: site.id),
              let authentication = try? WebRTCJoinProof.authenticationKey(secret: key.secret, site: site.id, nonce: credentials.nonce),
              let expected = try? WebRTCJoinProof.proof(.site, key: authentication, site: site.id, time: credentials.time,
                                             nonce: credentials.nonce, fingerprints: [siteFingerprint]),
              HMACSHA256.constantTimeEqual(expected, credentials.proof)
        else { return Self.refusal(401, "authentication-failed", nil) }
        switch seenNonces.withLock({ $0.insert(credentials.nonce, now: now) }) {
        case .accepted: break
        case .replayed: return Self.refusal(401, "authentication-failed", nil)
        case .full: return Self.refusal(503, "busy", "over \(Self.maximumRememberedNonces) joins in \(2 * Self.clockSkewSeconds) s")
        }

        let (meeting, next) = bridge.booking(of: site)
        guard let meeting else {
            var body: [String: Any] = ["reason": "not-booked"]
            if let next { body["next"] = bridge.describe(next) }
            return Self.json(403, body)
        }
        let token = JoinProtocol.hex((try? SecureRandom.bytes(16)) ?? [])
        let keys = bridge.keys
        let admission = bridge.sessions.admit(keyStillValid: { (try? keys.key(for: site.id))??.generation == key.generation }) {
            Admitted(site: site, meeting: meeting.id, generation: key.generation, connection: nil, token: token, end: meeting.end, ssrcs: $0)
        }
        guard case .admitted(let session, let replaced) = admission, token.count == 32 else {
            return Self.refusal(401, "authentication-failed", "the key was revoked or rotated during the join")
        }
        if let replaced {
            replaced.send(["type": "ended", "reason": "replaced"])
            replaced.connection?.shutdownBoth()
        }
        let answer: WebRTCAnswer
        let ice: ICE.ICECredentials
        let peerFingerprint: DTLSFingerprint
        do {
            ice = try ICE.ICECredentials.generate()
            answer = try WebRTCAnswerer.answer(to: offer, bridge: try parameters(ice: ice, ssrcs: session.ssrcs))
            peerFingerprint = try DTLSFingerprint(sdpValue: "sha-256 " + answer.negotiation.remoteFingerprint.hexadecimal)
        } catch {
            bridge.sessions.end(site: site.index, session: session, reason: "bad-offer", notify: false)
            return Self.refusal(400, "bad-offer", "\(error)")
        }
        let n = answer.negotiation
        var video: [UInt8: VideoCodec] = [:]
        for codec in (n.camera ?? n.speaker)?.codecs ?? [] { video[codec.payloadType] = codec.name == .vp8 ? .vp8 : .h264 }
        let ssrcs = session.ssrcs
        let floor = bridge.floors.withLock { $0[meeting.id] }
        handshakes.post(.start(site: site.index, session: ssrcs.siteAudio, peerFingerprint: peerFingerprint))
        bridge.mailbox.post(.add(SessionSetup(
            site: site.index, siteID: site.id, meeting: meeting.id, endpointSSRC: ssrcs.siteAudio, bridgeSSRC: ssrcs.bridgeAudio,
            videoSSRC: ssrcs.siteVideo, presenterSSRC: ssrcs.presenter, speakerSSRC: ssrcs.speaker, host: meeting.host, floor: floor,
            transport: .webRTC(ice: ice, remoteUfrag: n.remoteICE.ufrag, peerFingerprint: peerFingerprint),
            payloadTypes: PayloadTypes(audio: n.audio.payloadType, audioLevelID: n.audio.audioLevelExtensionID, video: video),
            // REMB asks for 80 % of the allowance: an encoder's target leaves out packet overhead and
            // keyframe bursts (aiortc overshoots its target by about 10 %), which the allowance must pass.
            videoCapBitsPerSecond: n.camera?.codecs.contains { $0.feedback.contains(.remb) } == true
                ? bridge.options.settings.video.maxKilobitsPerSecond * 800 : nil)))
        if floor == site.index { bridge.mailbox.post(.floor(meeting: meeting.id, site: site.index)) }
        // Answer once the media thread knows the session, so the peer's first check is answered (a browser
        // retransmits an unanswered check only after 100-250 ms).
        if !bridge.mailbox.waitUntilAdded(ssrcs.siteAudio, milliseconds: 500) {
            Log.warning("media-session-slow", ["site": site.id, "meeting": meeting.id])
        }
        Log.info("join", ["site": site.id, "meeting": meeting.id, "peer": request.peer.map { "\($0)" } ?? "-",
                          "generation": key.generation, "transport": "webrtc"])
        bridge.quality.joined(site: site.index, meeting: meeting.id)

        let bridgeProof = (try? WebRTCJoinProof.proof(.bridge, key: authentication, site: site.id, time: credentials.time,
                                           nonce: credentials.nonce, fingerprints: [siteFingerprint, handshakes.certificate.fingerprint.bytes])) ?? []
        return HTTPServer.Response(status: 201, contentType: "application/sdp", body: answer.text, headers: [
            ("Location", "/webrtc/sessions/\(token)"), ("VCBridge-Proof", JoinProtocol.hex(bridgeProof)),
        ])
    }

    /// What the answer needs of the bridge (with placeholders while only checking the offer).
    private func parameters(ice: ICE.ICECredentials?, ssrcs: SessionSSRCs?) throws(WebRTCParameterError) -> WebRTCBridgeParameters {
        let ssrcs = ssrcs ?? SessionSSRCs(siteAudio: 1, siteVideo: 2, bridgeAudio: 3, presenter: 4, speaker: 5)
        func stream(_ ssrc: UInt32, _ name: String) -> OutgoingStream {
            OutgoingStream(ssrc: ssrc, cname: "vcbridge", streamID: "vcbridge-\(name)", trackID: name)
        }
        return try WebRTCBridgeParameters(
            ice: SDP.ICECredentials(ufrag: ice?.ufrag ?? "chck", pwd: ice?.password ?? "checkingcheckingchecking"),
            fingerprint: .sha256(handshakes.certificate.fingerprint.bytes), address: bridge.options.listenAddress,
            port: bridge.mediaAddress.port, audio: stream(ssrcs.bridgeAudio, "mix"), presenter: stream(ssrcs.presenter, "presenter"),
            speaker: stream(ssrcs.speaker, "speaker"), sessionID: UInt64(ssrcs.bridgeAudio))
    }

    /// Whether a request's time is within ``clockSkewSeconds`` of `now`, whatever the number (no overflow trap).
    static func isWithinSkew(_ time: Int64, now: Int64) -> Bool {
        let (difference, overflow) = now.subtractingReportingOverflow(time)
        return !overflow && difference.magnitude <= UInt64(clockSkewSeconds)
    }

    // MARK: Responses

    static func text(_ status: Int, _ body: String, _ headers: [String: String] = [:]) -> HTTPServer.Response {
        HTTPServer.Response(status: status, contentType: "text/plain; charset=utf-8", body: body, headers: headers.map { ($0.key, $0.value) })
    }

    static func json(_ status: Int, _ body: [String: Any]) -> HTTPServer.Response {
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data("{}".utf8)
        return HTTPServer.Response(status: status, contentType: "application/json", bytes: Array(data))
    }

    static func refusal(_ status: Int, _ reason: String, _ detail: String?) -> HTTPServer.Response {
        var body: [String: Any] = ["reason": reason]
        if let detail { body["detail"] = detail }
        return json(status, body)
    }
}
