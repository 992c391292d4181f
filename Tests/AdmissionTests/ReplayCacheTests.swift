import Testing
@testable import Admission

@Suite struct ReplayCacheTests {
    private func nonce(_ n: Int) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: n >> (($0 % 8) * 8)) ^ UInt8($0) } }

    @Test func aNonceIsRefusedAgainUntilItsLifetimeEnds() {
        var cache = ReplayCache(capacity: 10, lifetime: 240)
        #expect(cache.insert(nonce(1), now: 1_000) == .accepted)
        #expect(cache.insert(nonce(1), now: 1_000) == .replayed)
        #expect(cache.insert(nonce(1), now: 1_239) == .replayed)
        // Forgotten at 240 s, when the request's own time (±120 s) already refuses it.
        #expect(cache.insert(nonce(1), now: 1_240) == .accepted)
    }

    @Test func tenHoursOfJoinsNeverFillItAndMemoryStaysBounded() {
        // A join every second for ten hours (36,000 nonces) through a cache of 1,000 with a 240 s lifetime.
        var cache = ReplayCache(capacity: 1_000, lifetime: 240)
        var largest = 0
        for second in 0..<36_000 {
            #expect(cache.insert(nonce(second), now: Int64(second)) == .accepted)
            largest = max(largest, cache.count)
        }
        #expect(largest <= 1_000)
        // Every live one is still refused as a replay.
        #expect(cache.insert(nonce(35_999), now: 36_000) == .replayed)
        #expect(cache.insert(nonce(35_761), now: 36_000) == .replayed)
    }

    @Test func aFloodOfLiveNoncesIsRefusedAsFullUntilTheyExpire() {
        var cache = ReplayCache(capacity: 100, lifetime: 240)
        for n in 0..<100 { #expect(cache.insert(nonce(n), now: 0) == .accepted) }
        #expect(cache.insert(nonce(100), now: 239) == .full)
        #expect(cache.insert(nonce(5), now: 239) == .replayed)
        #expect(cache.insert(nonce(100), now: 240) == .accepted)
        #expect(cache.count == 1)
    }
}
