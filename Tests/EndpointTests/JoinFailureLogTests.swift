import Testing
import Transport
@testable import Endpoint

@Suite struct JoinFailureLogTests {
    let second: Int64 = 1_000_000_000

    @Test func aFailedJoinIsToldAtOnceThenAtMostALineEveryFiveSecondsWithWhatWasLeftOut() {
        var log = JoinFailureLog(prefix: "loadtest")
        let first = log.failed(site: "central", attempt: 1, error: "nothing listens", now: 0)
        #expect(first == "loadtest: join attempt 1 of site central failed: nothing listens; trying again with backoff until the duration ends")
        // 147 sites retrying every 250 ms for 4.9 s: no line.
        var extra = 0
        for n in 1..<20 {
            for site in 0..<147 where log.failed(site: "s\(site)", attempt: n, error: "nothing listens", now: Int64(n) * second / 4) != nil {
                extra += 1
            }
        }
        #expect(extra == 0)
        let next = log.failed(site: "central", attempt: 21, error: "nothing listens", now: 5 * second)
        #expect(next == "loadtest: join attempt 21 of site central failed: nothing listens (and 2793 more failed attempts by 147 sites "
                + "since the last line); trying again with backoff until the duration ends")
        #expect(log.failed(site: "central", attempt: 22, error: "x", now: 6 * second) == nil)
    }

    @Test func aRefusedConnectionIsNamedAsTheBridgeNotRunning() throws {
        let bridge = try SocketAddress(ip: "127.0.0.1", port: 7000)
        #expect(JoinFailureLog.describe(SocketError.connectionRefused, bridge: bridge)
                == "nothing listens at 127.0.0.1:7000 (connection refused: the bridge is not running, or not listening yet)")
        #expect(JoinFailureLog.describe(EndpointError("the bridge did not answer the join"), bridge: bridge) == "the bridge did not answer the join")
    }
}
