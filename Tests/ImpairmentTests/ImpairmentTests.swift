import Testing
@testable import Impairment

@Suite("Impairment model")
struct ImpairmentModelTests {
    @Test func randomLossMatchesItsRateAndIsReproducible() {
        var a = ImpairmentModel(profile: .init(loss: 0.05), seed: 7)
        var b = ImpairmentModel(profile: .init(loss: 0.05), seed: 7)
        let fa = (0..<100_000).map { _ in a.fate().isEmpty }
        let fb = (0..<100_000).map { _ in b.fate().isEmpty }
        #expect(fa == fb)
        let rate = Double(fa.filter { $0 }.count) / 100_000
        #expect(abs(rate - 0.05) < 0.004)
    }

    @Test func burstyLossHasItsMeanBurstLength() {
        var m = ImpairmentModel(profile: .init(loss: 0.05, meanBurst: 3), seed: 11)
        let lost = (0..<200_000).map { _ in m.fate().isEmpty }
        let rate = Double(lost.filter { $0 }.count) / Double(lost.count)
        var bursts = 0
        for i in lost.indices where lost[i] && (i == 0 || !lost[i - 1]) { bursts += 1 }
        let meanBurst = Double(lost.filter { $0 }.count) / Double(bursts)
        #expect(abs(rate - 0.05) < 0.006)
        #expect(abs(meanBurst - 3) < 0.3)
    }

    @Test func jitterReordersAndDuplicationDoubles() {
        var m = ImpairmentModel(profile: .init(delayMilliseconds: 40, jitterMilliseconds: 20, duplicate: 0.1), seed: 3)
        var arrivals: [Double] = []
        var duplicates = 0
        for i in 0..<10_000 {
            let fate = m.fate()
            if fate.count == 2 { duplicates += 1 }
            arrivals.append(Double(i) * 20 + fate[0])
        }
        // A packet is reordered when it arrives before one sent earlier.
        var reordered = 0
        var latest = -Double.infinity
        for a in arrivals {
            if a < latest { reordered += 1 }
            latest = max(latest, a)
        }
        let share = Double(reordered) / Double(arrivals.count)
        #expect(share > 0.15 && share < 0.35, "reordered share \(share)")
        #expect(abs(Double(duplicates) / 10_000 - 0.1) < 0.01)
    }
}
