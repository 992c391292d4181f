#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Foundation
import SIP
import Testing
import Transport

/// baresip 1.0 (libre 1.1) gives up on a challenge whose algorithm it does not know instead of taking the next one,
/// so the bridges these tests start offer MD5 only (`sip.digestAlgorithms`); the SHA-256-first default is what the
/// raw probe meets.
let md5Only = #"{"digestAlgorithms": ["MD5"]}"#

/// The SIP password `vcbridge site key` prints for a site (the key is rotated: the printed line is what a hall's
/// technician types in).
func sipPassword(_ bridge: RunningBridge, _ site: String) throws -> String {
    let printed = try bridge.provision(site)
    let line = try #require(printed.stdout.split(separator: "\n").first { $0.hasPrefix("SIP room system:") }, "\(printed)")
    #expect(line.contains("digest username \(site), "))
    let password = try #require(line.components(separatedBy: "password ").last?.split(separator: ",").first)
    return String(password)
}

@Suite("SIP: room systems call in", .serialized)
struct SIPTests {
    @Test func baresipCallsIntoItsMeetingHearsAndIsHeardAndLeavesWithBye() throws {
        let bridge = try RunningBridge(sip: md5Only)
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "14s", "--record", heard])
        let tone = try stereoToneFile(880, seconds: 12, into: bridge.dataDirectory)
        let baresip = try Baresip(dialing: sip, username: "lang-cong", password: password, wav: tone, seconds: 10,
                                  in: bridge.dataDirectory)
        defer { baresip.kill() }
        // In the meeting: the status lists the SIP site, receiving.
        #expect(try waitFor(8) { (try bridge.siteStatus("lang-cong")?["packetsReceived"] as? Int ?? 0) > 50 },
                "\(bridge.logText)\n\(baresip.output.suffix(3000))")
        let status = try #require(try bridge.siteStatus("lang-cong"))
        #expect(status["meeting"] as? Int == 1)
        #expect(bridge.logText.contains("event=join site=lang-cong meeting=1"))
        #expect(bridge.logText.contains("transport=sip-udp codec=opus"))
        // baresip hangs up by itself (-t 10): its BYE ends the session.
        baresip.finish(within: 15)
        #expect(baresip.output.contains("SRTP is Enabled"), "\(baresip.output.suffix(3000))")
        #expect(baresip.output.contains("Call established"))
        #expect(waitFor(5) { bridge.logText.contains("event=session-ended site=lang-cong meeting=1 reason=left") },
                "\(bridge.logText)")
        #expect(try waitFor(3) { try bridge.siteStatus("lang-cong") == nil })
        let result = bridge.finish(host)
        #expect(result.status == 0, "\(result.output)")
        // What each heard, by frequency: the host baresip's 880 Hz, baresip the host's 440 Hz.
        let hostHeard = try WAVFile.read(heard)
        #expect(Tone.dominant(among: [440, 880], in: hostHeard[(48_000 * 4)..<(48_000 * 8)])?.frequency == 880)
        let baresipHeard = try WAVFile.read(try baresip.decodedDump())
        #expect(baresipHeard.count > 48_000 * 6, "\(baresipHeard.count) samples")
        #expect(Tone.dominant(among: [440, 880], in: baresipHeard[(48_000 * 2)..<(48_000 * 6)])?.frequency == 440)
        #expect(bridge.stop() == 0)
    }

    @Test func aWrongPasswordIsChallengedAgainThenForbiddenAndTheMeetingIsUntouched() throws {
        let bridge = try RunningBridge(sip: md5Only)
        let sip = try #require(bridge.sip)
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "8s", "--json"])
        // baresip with a wrong password: refused, never in the meeting.
        let tone = try stereoToneFile(880, seconds: 3, into: bridge.dataDirectory)
        let baresip = try Baresip(dialing: sip, username: "lang-cong", password: "not-the-password", wav: tone, seconds: 4,
                                  in: bridge.dataDirectory)
        baresip.finish(within: 8)
        #expect(!baresip.output.contains("Call established"), "\(baresip.output.suffix(3000))")
        #expect(baresip.output.contains("401") || baresip.output.contains("403"), "\(baresip.output.suffix(3000))")
        // By hand: 401, then 401 for each wrong answer until the third, which is 403.
        let probe = try SIPProbe(bridge: sip)
        try probe.send(probe.invite(user: "tam-son"))
        var response = try #require(try probe.finalResponse())
        #expect(response.statusCode == 401)
        for attempt in 1...3 {
            let challenge = try #require(SIPProbe.md5Challenge(response), "\(response)")
            try probe.send(probe.invite(user: "tam-son", authorization: try probe.authorization(challenge, username: "tam-son",
                                                                                              password: "guess-\(attempt)")))
            response = try #require(try probe.finalResponse())
            #expect(response.statusCode == (attempt < 3 ? 401 : 403), "attempt \(attempt): \(response.startLine)")
        }
        #expect(response.reasonPhrase == "Forbidden (authentication failed)")
        #expect(waitFor(5) { bridge.logText.contains("event=sip-refused reason=sip-authentication-failed") }, "\(bridge.logText)")
        #expect(try bridge.siteStatus("lang-cong") == nil)
        #expect(try bridge.siteStatus("tam-son") == nil)
        // The host heard no interruption.
        let result = bridge.finish(host)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: String], "\(result.output)")
        #expect(Int(report["packetsReceived"] ?? "0")! >= 380, "\(report)")
        #expect(!bridge.logText.contains("event=join site=lang-cong"))
        #expect(bridge.stop() == 0)
    }

    @Test func anUnbookedSiteIsForbiddenWithItsNextBookingInTheReasonPhrase() throws {
        // The default challenges: SHA-256 first, then MD5 (RFC 8760).
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let tomorrow = try bridge.cli(["meeting", "book", "--title", "Họp ngày mai", "--host", "yen-lac", "--scope", "tt-yen-lac",
                                       "--start", "tomorrow 08:00", "--duration", "1h"])
        #expect(tomorrow.status == 0, "\(tomorrow.stderr)")
        let password = try sipPassword(bridge, "tt-yen-lac")
        let probe = try SIPProbe(bridge: sip)
        try probe.send(probe.invite(user: "tt-yen-lac"))
        let challenge = try #require(try probe.finalResponse())
        #expect(challenge.statusCode == 401)
        let algorithms = challenge.values("WWW-Authenticate").compactMap(DigestChallenge.init(parsing:)).map(\.algorithm)
        #expect(algorithms == [.sha256, .md5])
        let sha = try #require(challenge.values("WWW-Authenticate").compactMap(DigestChallenge.init(parsing:)).first)
        try probe.send(probe.invite(user: "tt-yen-lac", authorization: try probe.authorization(sha, username: "tt-yen-lac",
                                                                                             password: password)))
        let refused = try #require(try probe.finalResponse())
        #expect(refused.statusCode == 403)
        let phrase = refused.reasonPhrase ?? ""
        #expect(phrase.hasPrefix("Forbidden (not booked now; next booking #2 \"Họp ngày mai\" from "), "\(phrase)")
        #expect(phrase.contains("(room ready from "))
        #expect(waitFor(5) { bridge.logText.contains("event=sip-refused site=tt-yen-lac reason=not-booked") }, "\(bridge.logText)")
        #expect(try bridge.siteStatus("tt-yen-lac") == nil)
        #expect(bridge.stop() == 0)
    }
}
