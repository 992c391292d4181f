import Admission
import CivilTime
import Foundation
import KeyDerivation
import Monitoring
import Scheduler
import SiteDirectory
import Transport

/// What a WebRTC session's page asks of the bridge once it is in (`docs/PROTOCOL.md`, "The join page's session"):
/// the meeting, who is shown on its two video streams, the bridge's notices; and, for the host site, the floor.
extension WebRTCFrontEnd {
    /// `GET /webrtc/sessions/<token>`.
    func state(of session: Admitted) -> HTTPServer.Response {
        guard let meeting = bridge.store.withLock({ $0.schedule.meeting(session.meeting) }) else {
            return Self.json(404, ["reason": "ended"])
        }
        let directory = bridge.directory
        let statistics = bridge.mailbox.statistics.withLock { $0 }
        let mine = statistics.first { $0.site == session.site.index }
        let connected = Set(bridge.sessions.all.filter { $0.meeting == meeting.id }.map(\.site.index))
        func named(_ id: String?) -> Any {
            guard let id, !id.isEmpty, let site = directory.site(id) else { return NSNull() }
            return ["site": site.id, "name": site.name]
        }
        let floor = bridge.floors.withLock { $0[meeting.id] }
        let body: [String: Any] = [
            "site": session.site.id, "siteName": session.site.name,
            "meeting": ["id": Int(meeting.id), "title": meeting.title, "start": iso(meeting.start), "end": iso(meeting.end),
                        "host": directory.sites[meeting.host].id, "hostName": directory.sites[meeting.host].name],
            "chair": session.site.index == meeting.host,
            "presenter": named(mine?.presenterShown), "speaker": named(mine?.speakerShown),
            "floor": floor.map { directory.sites[$0].id } ?? NSNull(),
            "sites": meeting.sites.map { ["site": directory.sites[$0].id, "name": directory.sites[$0].name, "connected": connected.contains($0)] },
            "notices": session.notices(),
            "now": iso(Timestamp(wallClock().seconds)),
        ]
        return Self.json(200, body)
    }

    /// `POST /webrtc/sessions/<token>/floor` with `{"site": ID}` or `{"site": null}`, signed with the host site's key.
    func floor(_ request: HTTPServer.Request, session: Admitted) -> HTTPServer.Response {
        guard let authorization = request.headers["Authorization"],
              let credentials = WebRTCJoinProof.Credentials(authorization: authorization), credentials.site == session.site.id
        else {
            return Self.refusal(401, "malformed", "an Authorization header signed with the site's key, for this session's site")
        }
        let now = Int64(wallClock().seconds)
        guard Self.isWithinSkew(credentials.time, now: now),
              let key = try? bridge.keys.key(for: session.site.id), key.generation == session.generation,
              let authentication = try? WebRTCJoinProof.authenticationKey(secret: key.secret, site: session.site.id, nonce: credentials.nonce),
              let expected = try? WebRTCJoinProof.proof(.floor, key: authentication, site: session.site.id, time: credentials.time,
                                                         nonce: credentials.nonce, fingerprints: [request.body]),
              HMACSHA256.constantTimeEqual(expected, credentials.proof)
        else { return Self.refusal(401, "authentication-failed", nil) }
        switch seenNonces.withLock({ $0.insert(credentials.nonce, now: now) }) {
        case .accepted: break
        case .replayed: return Self.refusal(401, "authentication-failed", nil)
        case .full: return Self.refusal(503, "busy", nil)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(request.body)) as? [String: Any], object.keys.contains("site")
        else { return Self.refusal(400, "malformed", "a JSON body {\"site\": ID} or {\"site\": null}") }
        guard let meeting = bridge.store.withLock({ $0.schedule.meeting(session.meeting) }), meeting.isActive else {
            return Self.json(404, ["reason": "ended"])
        }
        guard session.site.index == meeting.host else { return Self.refusal(403, "not-chair", "only the host site gives the floor") }
        var site: Int? = nil
        if let id = object["site"] as? String {
            guard let target = bridge.directory.site(id), meeting.sites.contains(target.index) else {
                return Self.refusal(400, "not-in-meeting", "'\(id)' is not one of the meeting's sites")
            }
            site = target.index == meeting.host ? nil : target.index
        } else if !(object["site"] is NSNull) {
            return Self.refusal(400, "malformed", "\"site\" must be a site ID or null")
        }
        bridge.giveFloor(meeting: meeting.id, site: site)
        return Self.json(200, ["floor": site.map { bridge.directory.sites[$0].id } ?? NSNull()])
    }
}
