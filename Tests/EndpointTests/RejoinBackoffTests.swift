import Testing
@testable import Endpoint

@Suite struct RejoinBackoffTests {
    let ms: Int64 = 1_000_000

    @Test func theWindowDoublesFrom250MillisecondsToTheCap() {
        let backoff = RejoinBackoff()
        #expect((0..<8).map { backoff.window(afterFailures: $0) / ms } == [250, 500, 1000, 2000, 4000, 4000, 4000, 4000])
        // However many failures (a bridge down for days), the window stays at the cap and nothing overflows.
        #expect(backoff.window(afterFailures: 63) == backoff.cap)
        #expect(backoff.window(afterFailures: Int.max) == backoff.cap)
        let odd = RejoinBackoff(base: 300 * ms, cap: 5_000 * ms)
        #expect((0..<6).map { odd.window(afterFailures: $0) / ms } == [300, 600, 1200, 2400, 4800, 5000])
    }

    @Test func everyWaitIsInsideItsWindowAndAJoinResetsTheSchedule() {
        var random = SeededRandom(seed: 16)
        var backoff = RejoinBackoff()
        var now: Int64 = 1_000 * ms
        backoff.lost(at: now, using: &random)
        #expect(!backoff.isDue(now: now - 1))
        let first = backoff.nextAttemptAt!
        #expect(first >= now && first <= now + 250 * ms)
        for n in 1...10_000 {
            now = backoff.nextAttemptAt!
            #expect(backoff.isDue(now: now))
            let next = backoff.failed(at: now, using: &random)
            #expect(next >= now && next <= now + backoff.window(afterFailures: n))
        }
        #expect(backoff.failures == 10_000)
        backoff.joined()
        #expect(backoff.nextAttemptAt == nil && backoff.failures == 0 && !backoff.isDue(now: .max))
        backoff.lost(at: now, using: &random)
        #expect(backoff.nextAttemptAt! <= now + 250 * ms)
    }

    /// 147 sites lose the bridge at the same instant; it listens again `down` later. Each site's attempts fail
    /// until then (a refused connection costs ~nothing on loopback) and the first after it succeeds.
    func rejoinTimes(down: Int64, seed: UInt64) -> [Int64] {
        var random = SeededRandom(seed: seed)
        return (0..<147).map { _ in
            var backoff = RejoinBackoff()
            backoff.lost(at: 0, using: &random)
            while let at = backoff.nextAttemptAt, at < down { backoff.failed(at: at, using: &random) }
            return backoff.nextAttemptAt! - down
        }
    }

    @Test(arguments: [Int64(300), 1_000, 2_500, 7_000, 60_000])
    func sitesComeBackWithinTheCapAndSpreadOut(downMilliseconds: Int64) {
        for seed in UInt64(1)...20 {
            let times = rejoinTimes(down: downMilliseconds * ms, seed: seed).sorted()
            // Every site tries within the cap of the bridge listening again...
            #expect(times.last! <= RejoinBackoff.defaultCap)
            #expect(times.first! >= 0)
            // ...and not in one burst: no 20 ms (one media tick) holds more than a fifth of the sites,
            // and the arrivals span at least 100 ms.
            var buckets: [Int64: Int] = [:]
            for t in times { buckets[t / (20 * ms), default: 0] += 1 }
            #expect(buckets.values.max()! <= 147 / 5, "seed \(seed): \(buckets.values.max()!) sites in one 20 ms")
            #expect(times.last! - times.first! >= 100 * ms)
        }
    }

    @Test func theSameSeedGivesTheSameScheduleAndAnotherSeedAnother() {
        #expect(rejoinTimes(down: 2_000 * ms, seed: 7) == rejoinTimes(down: 2_000 * ms, seed: 7))
        #expect(rejoinTimes(down: 2_000 * ms, seed: 7) != rejoinTimes(down: 2_000 * ms, seed: 8))
    }
}
