import Testing
@testable import SIP

private func response(_ status: Int, _ headers: [String] = []) throws -> SIPMessage {
    let lines = ["SIP/2.0 \(status) Whatever", "Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKdial",
                 "From: <sip:vcbridge@192.0.2.10>;tag=b", "To: <sip:hall@198.51.100.7>;tag=h", "Call-ID: dial-1",
                 "CSeq: 1 INVITE", "Contact: <sip:hall@198.51.100.7:5062>"] + headers
    return try SIPMessage.parse(datagram: Array((lines.joined(separator: "\r\n") + "\r\nContent-Length: 0\r\n\r\n").utf8))
}

/// RFC 4028 as the caller of an INVITE (the bridge dialling a hall or its upstream), time passed in (milliseconds).
@Suite("SIP session timers as the caller (RFC 4028 UAC)")
struct SIPCallerSessionTimerTests {
    @Test("the INVITE asks for timers: Supported: timer, Session-Expires 1800, Min-SE 90")
    func inviteHeaders() {
        let caller = SIPCallerSessionTimer()
        #expect(caller.inviteHeaders == [SIPHeader("Supported", "timer"), SIPHeader("Session-Expires", "1800"),
                                         SIPHeader("Min-SE", "90")])
    }

    @Test("a 422 is retried once with its Min-SE (as Session-Expires and Min-SE); a second 422 fails naming it")
    func retryAfter422() throws {
        var caller = SIPCallerSessionTimer()
        #expect(caller.rejected(try response(422, ["Min-SE: 3600"])) == .retry)
        #expect(caller.inviteHeaders == [SIPHeader("Supported", "timer"), SIPHeader("Session-Expires", "3600"),
                                         SIPHeader("Min-SE", "3600")])
        guard case .refuse(let reason) = caller.rejected(try response(422, ["Min-SE: 7200"])) else {
            Issue.record("a second 422 retried"); return
        }
        #expect(reason == "422 again after retrying with Session-Expires 3600 (Min-SE 7200)")
        // A 422 without a usable Min-SE, or one not above what was asked, cannot be satisfied.
        var other = SIPCallerSessionTimer()
        #expect(other.rejected(try response(422)) == .refuse("422 without a Min-SE"))
        var lower = SIPCallerSessionTimer()
        #expect(lower.rejected(try response(422, ["Min-SE: 600"])) == .refuse("422 with Min-SE 600, not above the 1800 s asked"))
        var huge = SIPCallerSessionTimer()
        #expect(huge.rejected(try response(422, ["Min-SE: 90000"])) == .refuse("422 with Min-SE 90000, over the 86400 s the bridge accepts"))
    }

    @Test("the refresher is the 2xx's: uac → the bridge refreshes at half; uas → it waits and ends the call on expiry")
    func refresherFromThe2xx() throws {
        let caller = SIPCallerSessionTimer()
        let ours = try #require(caller.timer(answeredBy: try response(200, ["Session-Expires: 1800;refresher=uac", "Require: timer"]), now: 5_000))
        #expect(ours.weRefresh && ours.intervalSeconds == 1800 && ours.refreshAt == 905_000)
        let theirs = try #require(caller.timer(answeredBy: try response(200, ["Session-Expires: 1200;refresher=uas"]), now: 0))
        #expect(!theirs.weRefresh && theirs.refreshAt == nil && theirs.expiresAt == 1_200_000 - 32_000)
        // Session-Expires without a refresher: the UAC refreshes (RFC 4028 §7.2).
        #expect(try #require(caller.timer(answeredBy: try response(200, ["Session-Expires: 900"]), now: 0)).weRefresh)
        // No Session-Expires: the far end does not do timers, and none runs.
        #expect(caller.timer(answeredBy: try response(200), now: 0) == nil)
        // An interval below the 90 s floor in a 2xx is raised to it.
        #expect(try #require(caller.timer(answeredBy: try response(200, ["Session-Expires: 30;refresher=uac"]), now: 0)).intervalSeconds == 90)
    }

    @Test("ten simulated hours as refresher: a refresh every half interval while each succeeds; BYE at once when one fails")
    func hoursOfRefreshesThenAFailure() throws {
        let caller = SIPCallerSessionTimer()
        var timer = try #require(caller.timer(answeredBy: try response(200, ["Session-Expires: 90;refresher=uac"]), now: 0))
        var refreshes: [Int64] = []
        var byeAt: Int64? = nil
        var now: Int64 = 0
        while now <= 10 * 3_600_000, byeAt == nil {
            switch timer.advance(now: now) {
            case .refresh?:
                refreshes.append(now)
                // The far end answers 200 a quarter second later, for ten hours; then 481 (it lost the call).
                let status = now < 10 * 3_600_000 - 60_000 ? 200 : 481
                if timer.refreshAnswered(status: status, response: try response(status, status == 200 ? ["Session-Expires: 90;refresher=uac"] : []),
                                         now: now + 250) == .bye {
                    byeAt = now + 250
                }
            case .bye?:
                Issue.record("expired at \(now) though refreshed"); byeAt = now
            case nil: break
            }
            now += 50
        }
        #expect(refreshes.first == 45_000)
        #expect(zip(refreshes, refreshes.dropFirst()).allSatisfy { $1 - $0 == 45_250 })
        #expect(refreshes.count > 790)
        #expect(byeAt == refreshes.last.map { $0 + 250 })
        // A refresh that gets no answer at all (the transaction timed out) also ends the call.
        var lost = try #require(caller.timer(answeredBy: try response(200, ["Session-Expires: 90;refresher=uac"]), now: 0))
        #expect(lost.advance(now: 45_000) == .refresh)
        #expect(lost.refreshAnswered(status: 408, response: nil, now: 77_000) == .bye)
    }
}
