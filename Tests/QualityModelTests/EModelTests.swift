import Testing
@testable import QualityModel

@Suite("E-model MOS estimate")
struct EModelTests {
    @Test func aPerfectPathRatesTheBaseRating() {
        let model = EModel(equipmentImpairment: 0, delaySensitivity: 1)
        #expect(model.rating(lossPercent: 0, oneWayDelayMilliseconds: 0) == 93.2)
        #expect(abs(EModel.mos(rating: 93.2) - 4.409) < 0.001)
    }

    @Test func lossAndDelayFollowG107() {
        let model = EModel(equipmentImpairment: 10, packetLossRobustness: 25, delaySensitivity: 1)
        // Ie,eff = 10 + 85 * 5 / (5 / 1 + 25) = 24.1667; Id(100 ms) = 2.4; R = 93.2 - 2.4 - 24.1667.
        let r = model.rating(lossPercent: 5, oneWayDelayMilliseconds: 100)
        #expect(abs(r - 66.6333) < 0.001)
        // MOS = 1 + 0.035 R + 7e-6 R (R - 60)(100 - R).
        let expected = 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
        #expect(model.mos(lossPercent: 5, oneWayDelayMilliseconds: 100) == expected)
        // Bursty loss hurts more than the same random loss; long delay adds the second slope.
        #expect(model.rating(lossPercent: 5, burstRatio: 3, oneWayDelayMilliseconds: 100) < r)
        #expect(abs(model.rating(lossPercent: 0, oneWayDelayMilliseconds: 277.3) - (93.2 - 10 - 0.024 * 277.3 - 11)) < 1e-9)
    }

    @Test func mosIsBoundedAndGradesFollowThresholds() {
        #expect(EModel.mos(rating: -5) == 1)
        #expect(EModel.mos(rating: 120) == 4.5)
        #expect(QualityGrade.of(mos: 2.9) == .good)
        #expect(QualityGrade.of(mos: 2.5) == .fair)
        #expect(QualityGrade.of(mos: 2.0) == .poor)
        #expect(QualityGrade.of(mos: 1.5) == .bad)
        #expect(QualityGrade.of(mos: 3.5, good: 3.4) == .good)
        #expect(QualityGrade.good < QualityGrade.bad)
    }

    @Test func theCalibratedDefaultsHalveTheDelayImpairment() {
        let model = EModel()
        #expect(model.rating(lossPercent: 0, oneWayDelayMilliseconds: 100) == 93.2 - 35 - 0.5 * 2.4)
    }
}
