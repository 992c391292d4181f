import Testing
@testable import VideoRouter

/// The REMB rate a camera is asked for, over simulated hours (time injected: one update a second).
@Suite struct SenderBitrateControllerTests {
    static let second: Int64 = 1_000_000_000
    static let cap = 1_200_000

    /// Runs `seconds` one-second updates with `loss` from `start`; every rate returned, in order.
    static func run(_ controller: inout SenderBitrateController, loss: Double?, seconds: Int, from start: Int64) -> [Int] {
        (1...seconds).map { controller.update(loss: loss, now: start + Int64($0) * second) }
    }

    @Test func steadyLossLowersTheRateToTheFloorAndNeverBelow() {
        var c = SenderBitrateController(cap: Self.cap, now: 0)
        let rates = Self.run(&c, loss: 0.20, seconds: 3 * 3600, from: 0)  // three hours of 20 % loss
        // Each second cuts by 0.5 × 20 % = 10 % until the floor: 1,200 → 150 kb/s takes 20 cuts (0.9^20 < 1/8).
        #expect(rates[0] == 1_080_000)
        #expect(rates[1] == 972_000)
        let firstAtFloor = rates.firstIndex(of: SenderBitrateController.floorBitsPerSecond)
        #expect(firstAtFloor == 19, "\(rates.prefix(25))")
        #expect(rates.allSatisfy { $0 >= SenderBitrateController.floorBitsPerSecond })
        #expect(zip(rates, rates.dropFirst()).allSatisfy { $1 <= $0 }, "never rises under steady loss")
        #expect(rates.suffix(3 * 3600 - 20).allSatisfy { $0 == SenderBitrateController.floorBitsPerSecond })
        // Total loss (a camera whose every packet is lost) halves the rate a second, and still stops at the floor.
        var dead = SenderBitrateController(cap: Self.cap, now: 0)
        let deadRates = Self.run(&dead, loss: 1.0, seconds: 3600, from: 0)
        #expect(deadRates[0] == 600_000)
        #expect(deadRates.min() == SenderBitrateController.floorBitsPerSecond)
    }

    @Test func aCleanLinkClimbsBackToTheCapAndNeverAbove() {
        var c = SenderBitrateController(cap: Self.cap, now: 0)
        _ = Self.run(&c, loss: 0.5, seconds: 60, from: 0)
        #expect(c.bitsPerSecond == SenderBitrateController.floorBitsPerSecond)
        // Then two hours of a clean link (1 % loss is below the 2 % threshold: it counts as clean).
        let rates = Self.run(&c, loss: 0.01, seconds: 2 * 3600, from: 60 * Self.second)
        #expect(rates.allSatisfy { $0 <= Self.cap })
        var previous = Double(SenderBitrateController.floorBitsPerSecond)
        for rate in rates {
            #expect(Double(rate) >= previous - 1 && Double(rate) <= previous * 1.08 + 1, "8 % a second at most: \(previous) → \(rate)")
            previous = Double(rate)
        }
        // 150 → 1,200 kb/s at 8 % a second: ln 8 / ln 1.08 = 27.02 s, so the cap at the 28th second.
        #expect(rates.firstIndex(of: Self.cap) == 27, "\(rates.prefix(30))")
        #expect(rates.suffix(2 * 3600 - 28).allSatisfy { $0 == Self.cap })
    }

    @Test(arguments: [0.02, 0.05, 0.10])
    func lossBetweenTwoAndTenPercentHoldsTheRate(loss: Double) {
        var c = SenderBitrateController(cap: Self.cap, now: 0)
        _ = Self.run(&c, loss: 0.3, seconds: 5, from: 0)  // somewhere between floor and cap
        let held = c.bitsPerSecond
        #expect(held > SenderBitrateController.floorBitsPerSecond && held < Self.cap)
        let rates = Self.run(&c, loss: loss, seconds: 3600, from: 5 * Self.second)
        #expect(rates.allSatisfy { $0 == held }, "\(loss): \(Set(rates))")
    }

    @Test func nothingMeasuredHoldsAndAPauseIsNoJumpToTheCap() {
        var c = SenderBitrateController(cap: Self.cap, now: 0)
        _ = Self.run(&c, loss: 0.5, seconds: 60, from: 0)
        let floor = c.bitsPerSecond
        #expect(Self.run(&c, loss: nil, seconds: 600, from: 60 * Self.second).allSatisfy { $0 == floor })
        // Ten minutes without an update, then a clean second: at most two seconds' growth.
        let after = c.update(loss: 0, now: 1260 * Self.second)
        #expect(Double(after) <= Double(floor) * 1.08 * 1.08 + 1 && after > floor)
        // Updates more often than once a second grow by the time that passed, not per update.
        var often = SenderBitrateController(cap: Self.cap, now: 0)
        _ = Self.run(&often, loss: 0.5, seconds: 60, from: 0)
        for tenth in 1...10 { _ = often.update(loss: 0, now: 60 * Self.second + Int64(tenth) * Self.second / 10) }
        #expect(abs(Double(often.bitsPerSecond) - Double(floor) * 1.08) < 2)
    }

    @Test func theCapIsTheCeilingAndTheFloorNeverExceedsIt() {
        var low = SenderBitrateController(cap: 100_000, now: 0)
        #expect(low.floor == 100_000)
        #expect(Self.run(&low, loss: 0.5, seconds: 100, from: 0).allSatisfy { $0 == 100_000 })
        var c = SenderBitrateController(cap: Self.cap, now: 0)
        #expect(Self.run(&c, loss: 0, seconds: 3600, from: 0).allSatisfy { $0 == Self.cap })
        #expect(c.update(loss: -3, now: 3601 * Self.second) == Self.cap)
        #expect(c.update(loss: .nan, now: 3602 * Self.second) == Self.cap)
    }

    @Test func theLossFollowedIsTheUplinkOrTheReceiversMedianWhicheverIsWorse() {
        var none: [Double] = []
        #expect(SenderBitrateController.senderLoss(uplink: nil, receivers: &none) == nil)
        #expect(SenderBitrateController.senderLoss(uplink: 0.2, receivers: &none) == 0.2)
        // One receiver of three behind a bad downlink: the camera is not slowed for the other two.
        var oneBad = [0.3, 0.0, 0.01]
        #expect(SenderBitrateController.senderLoss(uplink: 0, receivers: &oneBad) == 0.01)
        // Most receivers lose it: the median does.
        var mostBad = [0.3, 0.0, 0.25]
        #expect(SenderBitrateController.senderLoss(uplink: 0, receivers: &mostBad) == 0.25)
        // A bad uplink throttles the camera however well the receivers fare.
        var allGood = [0.0, 0.0, 0.0, 0.0]
        #expect(SenderBitrateController.senderLoss(uplink: 0.2, receivers: &allGood) == 0.2)
        // Half and half: the lower middle.
        var half = [0.4, 0.0, 0.0, 0.4]
        #expect(SenderBitrateController.senderLoss(uplink: nil, receivers: &half) == 0.0)
    }
}
