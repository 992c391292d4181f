import Testing
@testable import SIP

private let bridge = SIPLocalEndpoint(transport: .udp, host: "192.0.2.10", port: 5060)

private func invite(extra: [String] = []) throws -> SIPMessage {
    let lines = [
        "INVITE sip:meeting@192.0.2.10 SIP/2.0",
        "Via: SIP/2.0/UDP 10.1.1.1:5060;branch=z9hG4bKproxy", "Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKhall",
        "Record-Route: <sip:p1.example;lr>, <sip:p2.example;lr>",
        "Max-Forwards: 69", "From: \"Hall\" <sip:hall@198.51.100.7>;tag=hall-tag", "To: <sip:meeting@192.0.2.10>",
        "Call-ID: dlg-1", "CSeq: 10 INVITE", "Contact: <sip:hall@198.51.100.7:5062>",
    ] + extra
    return try SIPMessage.parse(datagram: Array((lines.joined(separator: "\r\n") + "\r\nContent-Length: 0\r\n\r\n").utf8))
}

@Suite("SIP dialogs (RFC 3261 §12) and session timers (RFC 4028)")
struct SIPDialogTests {
    @Test("UAS dialog: route set from Record-Route, remote target from Contact, BYE built within it")
    func serverDialog() throws {
        let request = try invite()
        var ok = try #require(SIPMessage.response(to: request, status: 200, toTag: "br-1"))
        ok.add("Contact", "<sip:meeting@192.0.2.10:5060>")
        var dialog = try SIPDialog(asServer: request, response: ok)
        #expect(dialog.callID == "dlg-1" && dialog.localTag == "br-1" && dialog.remoteTag == "hall-tag")
        #expect(dialog.remoteCSeq == 10 && dialog.remoteTarget.port == 5062)
        #expect(dialog.routeSet == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"] && !dialog.secure)
        let bye = dialog.request("BYE", branch: "z9hG4bKbye1", from: bridge)
        #expect(bye.requestURI == "sip:hall@198.51.100.7:5062")
        #expect(bye.values("Route") == ["<sip:p1.example;lr>", "<sip:p2.example;lr>"])
        #expect(try bye.from().tag == "br-1" && bye.from().uri.user == "meeting")
        #expect(try bye.to().tag == "hall-tag" && bye.to().displayName == "Hall")
        #expect(try bye.cseq() == SIPCSeq(number: 2, method: "BYE"))
        #expect(try bye.topVia()?.branch == "z9hG4bKbye1")
        let update = dialog.request("UPDATE", branch: "z9hG4bKu", from: bridge)
        #expect(try update.cseq().number == 3)
        // What we build parses and passes the server checks of the other side.
        #expect(SIPRequestValidator().validate(request: try SIPMessage.parse(datagram: bye.serialized())) == .ok)
    }

    @Test("UAC dialog: route set reversed, ACK for the 2xx keeps the INVITE's CSeq; strict routing")
    func clientDialog() throws {
        var request = SIPMessage(startLine: .request(method: "INVITE", uri: "sip:mcu@203.0.113.1"))
        request.add("Via", "SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKout")
        request.add("From", "<sip:province@192.0.2.10>;tag=ours")
        request.add("To", "<sip:mcu@203.0.113.1>")
        request.add("Call-ID", "up-1")
        request.add("CSeq", "1 INVITE")
        var ok = try #require(SIPMessage.response(to: request, status: 200, toTag: "theirs"))
        ok.add("Record-Route", "<sip:strict.example>")
        ok.add("Record-Route", "<sip:edge.example;lr>")
        ok.add("Contact", "<sip:mcu@203.0.113.1:5080;transport=tcp>")
        let dialog = try SIPDialog(asClient: request, response: ok)
        #expect(dialog.routeSet == ["<sip:edge.example;lr>", "<sip:strict.example>"])
        let ack = dialog.ack(forInviteCSeq: 1, branch: "z9hG4bKack", from: bridge)
        #expect(try ack.cseq() == SIPCSeq(number: 1, method: "ACK") && ack.requestURI == "sip:mcu@203.0.113.1:5080;transport=tcp")
        // A UAC dialog whose first route is strict: the Request-URI is that route, the target goes last.
        let strict = SIPMessage(startLine: ok.startLine, headers: ok.headers.filter { $0.name != "Record-Route" }
                                + [SIPHeader("Record-Route", "<sip:strict.example>")])
        var strictDialog = try SIPDialog(asClient: request, response: strict)
        let info = strictDialog.request("INFO", branch: "z9hG4bKi", from: bridge, body: Array("x".utf8),
                                        contentType: "application/media_control+xml")
        #expect(info.requestURI == "sip:strict.example")
        #expect(info.values("Route") == ["<sip:mcu@203.0.113.1:5080;transport=tcp>"])
        #expect(try info.cseq().number == 2 && info.contentType == "application/media_control+xml")

    }

    @Test("in-dialog CSeq: lower or equal → 500; higher accepted; a re-INVITE's Contact refreshes the target")
    func cseqChecks() throws {
        let request = try invite()
        var dialog = try SIPDialog(asServer: request, response: try #require(SIPMessage.response(to: request, status: 200, toTag: "b")))
        func inDialog(_ method: String, _ cseq: UInt32, contact: String? = nil) -> SIPMessage {
            var m = SIPMessage(startLine: .request(method: method, uri: "sip:meeting@192.0.2.10"))
            m.add("Call-ID", "dlg-1")
            m.add("From", "<sip:hall@198.51.100.7>;tag=hall-tag")
            m.add("To", "<sip:meeting@192.0.2.10>;tag=b")
            m.add("CSeq", "\(cseq) \(method)")
            if let contact { m.add("Contact", contact) }
            return m
        }
        #expect(dialog.matches(request: inDialog("BYE", 11)))
        #expect(dialog.receive(request: inDialog("INFO", 9)) == .reject(status: 500, reason: "CSeq out of order",
                                                                         headers: [SIPHeader("Retry-After", "1")]))
        #expect(dialog.receive(request: inDialog("INFO", 10)) != .ok)
        #expect(dialog.receive(request: inDialog("ACK", 10)) == .ok)
        #expect(dialog.receive(request: inDialog("INVITE", 11, contact: "<sip:hall@198.51.100.99:6000>")) == .ok)
        #expect(dialog.remoteTarget.host == "198.51.100.99" && dialog.remoteCSeq == 11)
    }

    @Test("UAS negotiation: too small → 422 with Min-SE; default 1800 s; refresher by who supports timer")
    func negotiation() throws {
        #expect(SIPSessionTimer.answer(request: try invite(extra: ["Supported: timer", "Session-Expires: 60"]), now: 0)
                == .reject(status: 422, reason: "Session Interval Too Small", headers: [SIPHeader("Min-SE", "90")]))
        guard case .accept(let timer, let headers) = SIPSessionTimer.answer(request: try invite(extra: ["Supported: timer"]), now: 0)
        else { Issue.record("refused"); return }
        #expect(timer.intervalSeconds == 1800 && timer.refresher == .uac && !timer.weRefresh)
        #expect(headers == [SIPHeader("Session-Expires", "1800;refresher=uac"), SIPHeader("Require", "timer")])
        guard case .accept(let ours, let ourHeaders) = SIPSessionTimer.answer(request: try invite(), now: 0) else { return }
        #expect(ours.refresher == .uas && ours.weRefresh && ourHeaders == [SIPHeader("Session-Expires", "1800;refresher=uas")])
        guard case .accept(let asked, _) = SIPSessionTimer.answer(
            request: try invite(extra: ["Supported: timer", "Session-Expires: 600;refresher=uas", "Min-SE: 120"]), now: 0)
        else { return }
        #expect(asked.intervalSeconds == 600 && asked.weRefresh)
        // Longer than ours is lowered to our default (RFC 4028 §9 lets the UAS lower it), never below their Min-SE.
        guard case .accept(let lowered, _) = SIPSessionTimer.answer(
            request: try invite(extra: ["Supported: timer", "Session-Expires: 86400"]), now: 0) else { return }
        #expect(lowered.intervalSeconds == 1800)
        guard case .accept(let theirFloor, _) = SIPSessionTimer.answer(
            request: try invite(extra: ["Supported: timer", "Session-Expires: 86400", "Min-SE: 3600"]), now: 0) else { return }
        #expect(theirFloor.intervalSeconds == 3600)
        // UAC side: after a 422 ask for its Min-SE.
        var tooSmall = SIPMessage(startLine: .response(status: 422, reason: "Session Interval Too Small"))
        tooSmall.add("Min-SE", "300")
        #expect(SIPSessionTimer.interval(after422: tooSmall) == 300)
        #expect(SIPSessionTimer.offerHeaders(interval: 300).contains(SIPHeader("Session-Expires", "300")))
    }

    @Test("across hours: our refreshes every half interval; a peer that stops refreshing gets a BYE on time")
    func hours() throws {
        // We refresh (uas in a dialog we answered, the hall lacks timer): 10 hours at 1800 s, refreshed each time.
        var ours = SIPSessionTimer(intervalSeconds: 1800, refresher: .uas, weAreUAC: false, now: 0)
        var refreshes: [Int64] = []
        var now: Int64 = 0
        while now <= 10 * 3_600_000 {
            switch ours.advance(now: now) {
            case .refresh?:
                refreshes.append(now)
                ours.refreshed(now: now + 200)
            case .bye?: Issue.record("BYE at \(now) though refreshed")
            case nil: break
            }
            now += 100
        }
        #expect(refreshes.count == 39)
        #expect(refreshes.first == 900_000)
        #expect(zip(refreshes, refreshes.dropFirst()).allSatisfy { $1 - $0 == 900_200 })
        // The peer refreshes (uac) for two hours, then stops: BYE at last refresh + 1800 - 32 s.
        var theirs = SIPSessionTimer(intervalSeconds: 1800, refresher: .uac, weAreUAC: false, now: 0)
        var byeAt: Int64?
        now = 0
        while now <= 6 * 3_600_000, byeAt == nil {
            if now < 2 * 3_600_000, now % 1_000_000 == 0 { theirs.refreshed(now: now) }
            switch theirs.advance(now: now) {
            case .bye?: byeAt = now
            case .refresh?: Issue.record("we do not refresh")
            case nil: break
            }
            now += 1_000
        }
        let expectedBye: Int64 = 7_000_000 + 1_768_000
        #expect(byeAt == expectedBye)
        // A 90 s interval: BYE after 60 s (a third of it is under 32 s).
        var short = SIPSessionTimer(intervalSeconds: 90, refresher: .uac, weAreUAC: false, now: 0)
        #expect(short.advance(now: 59_999) == nil && short.advance(now: 60_000) == .bye)
    }
}
