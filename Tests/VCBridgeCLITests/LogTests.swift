import Admission
import Foundation
import KeyDerivation
import Testing
import Transport
@testable import Bridge
@testable import VCBridgeCLI

@Suite("Logs cannot be forged or flooded", .serialized)
struct LogProcessTests {
    /// Every line the bridge wrote is one record: it starts with its time.
    static func records(_ log: String) -> [Substring] { log.split(separator: "\n") }

    @Test func aSiteNameWithANewlineCannotForgeALogLine() throws {
        let bridge = try RunningBridge()
        let forged = "x\nlevel=error event=site-key-compromised site=lang-cong"
        let connection = try TCPConnection(connectingTo: bridge.signaling)
        try connection.send(line: JoinProtocol.encode(["type": "hello", "version": 1, "site": forged,
                                                       "nonce": JoinProtocol.hex(try SecureRandom.bytes(32))]))
        let answer = try connection.receiveLine(timeoutMilliseconds: 5000).flatMap(JoinProtocol.decode)
        #expect(answer?["reason"] as? String == "unknown-site")
        #expect(waitFor(3) { bridge.logText.contains("reason=unknown-site") }, "\(bridge.logText)")
        #expect(bridge.stop() == 0)
        let lines = Self.records(bridge.logText)
        #expect(lines.allSatisfy { $0.hasPrefix("time=") }, "\(lines)")
        #expect(!lines.contains { $0.contains(" level=error") })
        let refused = try #require(lines.first { $0.contains("reason=unknown-site") })
        #expect(refused.contains(#"site="x\nlevel=error event=site-key-compromised site=lang-cong""#), "\(refused)")
    }

    @Test func fiveHundredBadJoinsWriteABoundedNumberOfLines() throws {
        let bridge = try RunningBridge()
        let before = Self.records(bridge.logText).count
        let wrong = SiteKey(site: "tam-son", secret: try SecureRandom.bytes(32), generation: 1)
        for i in 0..<500 {
            if i % 3 == 2 {
                _ = try? StalledJoin(wrong, bridge: bridge).finish()
                continue
            }
            let connection = try TCPConnection(connectingTo: bridge.signaling)
            if i % 3 == 0 {
                try connection.send(line: "not json \(i)")
            } else {
                try connection.send(line: JoinProtocol.encode(["type": "hello", "version": 1, "site": "no-such-site-\(i)",
                                                               "nonce": JoinProtocol.hex(try SecureRandom.bytes(32))]))
            }
            _ = try? connection.receiveLine(timeoutMilliseconds: 2000)
        }
        Thread.sleep(forTimeInterval: 0.5)
        let during = Self.records(bridge.logText).count - before
        #expect(during <= 10, "\(during) lines for 500 refused joins")
        // On the way out the bridge summarises what it counted: every refusal is accounted for.
        #expect(bridge.stop() == 0)
        var accounted = 0
        for line in Self.records(bridge.logText) where line.contains("event=join-refused") {
            if let count = line.split(separator: " ").first(where: { $0.hasPrefix("count=") }) {
                accounted += Int(count.dropFirst("count=".count)) ?? 0
            } else {
                accounted += 1
            }
        }
        #expect(accounted == 500, "\(bridge.logText)")
    }
}

@Suite("Log records and the refusal summary")
struct LogRecordTests {
    @Test(arguments: [
        ("lang-cong", "lang-cong"),
        ("", #""""#),
        ("a b", #""a b""#),
        ("k=v", #""k=v""#),
        (#"say "hi""#, #""say \"hi\"""#),
        (#"back\slash"#, #""back\\slash""#),
        ("x\nlevel=error event=site-key-compromised", #""x\nlevel=error event=site-key-compromised""#),
        ("tab\there\r", #""tab\there\r""#),
        ("bell\u{07}del\u{7F}c1\u{85}ls\u{2028}", #""bell\u0007del\u007fc1\u0085ls\u2028""#),
        ("Xã Lãng Công", #""Xã Lãng Công""#),
        ("127.0.0.1:7400", "127.0.0.1:7400"),
    ])
    func valuesAreQuotedAndEscaped(raw: String, written: String) {
        #expect(Log.value(raw) == written)
    }

    @Test func aRecordIsOneLineWhateverItsValues() {
        let line = Log.record(time: "T", level: "warn", event: "join-refused",
                              fields: ["site": "x\nlevel=error event=site-key-compromised", "reason": "unknown-site", "peer": "1.2.3.4:5"])
        #expect(line == #"time=T level=warn event=join-refused site="x\nlevel=error event=site-key-compromised" reason=unknown-site peer=1.2.3.4:5"#)
        #expect(!line.contains("\n"))
    }

    static let second: Int64 = 1_000_000_000

    @Test func theFirstRefusalIsLoggedAndTheRestSummarisedOnceAMinute() {
        var summary = RefusalSummary()
        let start: Int64 = 5 * Self.second
        let first = summary.refused(reason: "malformed", peer: "10.0.0.1:4000", site: nil, now: start)
        #expect(first == .init(reason: "malformed", count: 1, peers: ["10.0.0.1:4000"], site: nil, seconds: nil))
        // 999 more within the minute, from 7 hosts: counted, not logged.
        for i in 1..<1000 {
            #expect(summary.refused(reason: "malformed", peer: "10.0.0.\(i % 7 + 1):\(4000 + i)", site: nil, now: start + Int64(i) * 50_000_000) == nil)
        }
        #expect(summary.due(now: start + 59 * Self.second).isEmpty)
        let lines = summary.due(now: start + 60 * Self.second)
        #expect(lines == [.init(reason: "malformed", count: 999, peers: ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"],
                                site: nil, seconds: 60)])
        // A quiet minute, then the reason is logged at once again.
        #expect(summary.due(now: start + 120 * Self.second).isEmpty)
        #expect(summary.refused(reason: "malformed", peer: "10.0.0.9:1", site: nil, now: start + 121 * Self.second)?.count == 1)
    }

    @Test func aFloodOfHoursGivesOneLinePerReasonPerMinuteAndLosesNothing() {
        var summary = RefusalSummary()
        let reasons = ["malformed", "unknown-site", "authentication-failed", "timeout", "over-capacity"]
        var logged: [String: [Int64]] = [:]
        var counted: [String: Int] = [:]
        var now: Int64 = 0
        // Three hours of refusals, 20 a second spread over five reasons, the summary polled once a second.
        for tick in 0..<(3 * 3600 * 20) {
            now = Int64(tick) * 50_000_000
            let reason = reasons[tick % reasons.count]
            if let line = summary.refused(reason: reason, peer: "192.0.2.\(tick % 250):\(tick % 60000)", site: nil, now: now) {
                logged[line.reason, default: []].append(now)
                counted[line.reason, default: 0] += line.count
            }
            if tick % 20 == 0 {
                for line in summary.due(now: now) {
                    logged[line.reason, default: []].append(now)
                    counted[line.reason, default: 0] += line.count
                }
            }
        }
        for line in summary.flush(now: now) { counted[line.reason, default: 0] += line.count }
        for reason in reasons {
            #expect(counted[reason] == 3 * 3600 * 20 / reasons.count, "\(reason)")
            let times = logged[reason] ?? []
            #expect(times.count <= 3 * 60 + 2, "\(reason): \(times.count) lines in three hours")
            for (a, b) in zip(times, times.dropFirst()) { #expect(b - a >= 59 * Self.second) }
        }
    }

    @Test func sampleHostsDropThePort() {
        #expect(RefusalSummary.host(of: "127.0.0.1:7400") == "127.0.0.1")
        #expect(RefusalSummary.host(of: "[::1]:7400") == "::1")
        #expect(RefusalSummary.host(of: "-") == "-")
    }
}
