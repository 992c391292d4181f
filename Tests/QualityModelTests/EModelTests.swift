import Testing
@testable import QualityModel

/// The E-model checked against figures published by ITU-T, not against its own formula. With
/// Ie = 0 and the full delay impairment it is G.107's model of a G.711 path; the bridge's own
/// defaults (fitted to PESQ-WB) are checked against the measured calibration run.
@Suite("E-model MOS estimate")
struct EModelTests {
    /// G.107 with the delay impairment counted in full and a codec given by its Ie and Bpl.
    static func g107(ie: Double, bpl: Double) -> EModel {
        EModel(equipmentImpairment: ie, packetLossRobustness: bpl, delaySensitivity: 1)
    }

    @Test func allDefaultParametersRateR93_2() {
        // ITU-T G.107 (04/2009) §3.7 "Default values": with every parameter at its default value the
        // model gives R = 93.2.
        let r = Self.g107(ie: 0, bpl: 25.1).rating(lossPercent: 0, oneWayDelayMilliseconds: 0)
        #expect(abs(r - 93.2) < 0.05, "R = \(r)")
    }

    @Test("MOS from R: the category bounds of ITU-T G.109 Table 1",
          arguments: [(90.0, 4.34), (80, 4.03), (70, 3.60), (60, 3.10), (50, 2.58)])
    func mosAtTheCategoryBounds(rating: Double, published: Double) {
        // G.109 Table 1 gives, for the lower R bound of each category (best, high, medium, low,
        // poor), the lower limit of MOS_CQE that G.107 Annex B's conversion gives; printed to two
        // decimals (4.03 for R = 80, where the conversion gives 4.024).
        #expect(abs(EModel.mos(rating: rating) - published) < 0.01, "R \(rating): MOS \(EModel.mos(rating: rating))")
    }

    @Test func mosIsBoundedAndGradesFollowThresholds() {
        // G.107 Annex B, MOS_CQE from R: MOS = 1 for R < 0 and 4.5 for R > 100.
        #expect(EModel.mos(rating: -5) == 1)
        #expect(EModel.mos(rating: 0) == 1)
        #expect(EModel.mos(rating: 120) == 4.5)
        #expect(EModel.mos(rating: 100) == 4.5)
        #expect(QualityGrade.of(mos: 2.9) == .good)
        #expect(QualityGrade.of(mos: 2.5) == .fair)
        #expect(QualityGrade.of(mos: 2.0) == .poor)
        #expect(QualityGrade.of(mos: 1.5) == .bad)
        #expect(QualityGrade.of(mos: 3.5, good: 3.4) == .good)
        #expect(QualityGrade.good < QualityGrade.bad)
    }

    @Test("Random loss on G.711 with PLC and G.729A + VAD (Ie, Bpl of ITU-T G.113 Appendix I)",
          arguments: [
              // (Ie, Bpl, Ppl %, R): Ie,eff = Ie + (95 - Ie) Ppl / (Ppl + Bpl) (G.107 (04/2009) §3.5, BurstR = 1),
              // R = 93.2 - Ie,eff at zero delay. Worked out by hand from the published Ie and Bpl.
              (0.0, 25.1, 1.0, 89.56), (0, 25.1, 2, 86.19), (0, 25.1, 5, 77.42), (0, 25.1, 10, 66.13),
              (11, 19, 0, 82.2), (11, 19, 2, 74.2), (11, 19, 5, 64.7),
          ])
    func randomLoss(ie: Double, bpl: Double, lossPercent: Double, published: Double) {
        let r = Self.g107(ie: ie, bpl: bpl).rating(lossPercent: lossPercent, oneWayDelayMilliseconds: 0)
        #expect(abs(r - published) < 0.01, "Ie \(ie) Bpl \(bpl) at \(lossPercent) %: R = \(r)")
    }

    @Test func burstyLossCountsAsG107SaysAndHurtsMore() {
        // G.107 (04/2009) §3.5 with BurstR = 2: G.711 with PLC at 2 % loss, Ie,eff = 95 * 2 / (2 / 2 + 25.1) = 7.28.
        let model = Self.g107(ie: 0, bpl: 25.1)
        let bursty = model.rating(lossPercent: 2, burstRatio: 2, oneWayDelayMilliseconds: 0)
        #expect(abs(bursty - 85.92) < 0.01, "R = \(bursty)")
        #expect(bursty < model.rating(lossPercent: 2, oneWayDelayMilliseconds: 0))
        // Below 1 is random loss (G.107 defines BurstR >= 1).
        #expect(model.rating(lossPercent: 2, burstRatio: 0.5, oneWayDelayMilliseconds: 0)
                == model.rating(lossPercent: 2, oneWayDelayMilliseconds: 0))
    }

    @Test("One-way delay: R of G.107's full delay impairment", arguments: [
        // R with every G.107 default except the delays: T = Ta = one-way delay, Tr = 2T (echo
        // path with TELR 65 dB, listener echo WEPL 110 dB), Id = Idte + Idle + Idd as in G.107 (04/2009) §3.4;
        // Ro = 94.77, Is = 1.41. Worked out by hand from those equations.
        (50.0, 91.76), (100, 90.66), (150, 89.54), (200, 85.80), (250, 79.18), (300, 72.67),
    ])
    func delay(milliseconds: Double, published: Double) {
        // The model uses the common simplification Id = 0.024 Ta + 0.11 (Ta - 177.3) H(Ta - 177.3),
        // which keeps within 0.3 of G.107 up to 300 ms (it overstates Id beyond: by 1.2 at 350 ms and
        // 3.1 at 400 ms).
        let r = Self.g107(ie: 0, bpl: 25.1).rating(lossPercent: 0, oneWayDelayMilliseconds: milliseconds)
        #expect(abs(r - published) < 0.3, "\(milliseconds) ms: R = \(r), G.107 gives \(published)")
    }

    @Test("The bridge's fitted defaults stay within 0.5 of the PESQ-WB measured on the held-out calibration run",
          arguments: [
              // docs/QUALITY-CALIBRATION.md, run with seed 11 (not used for the fit): concealed %,
              // one-way delay ms, PESQ-WB heard.
              (0.00, 130.0, 3.18), (0.29, 233, 2.79), (0.19, 398, 2.02),
              (0.33, 124, 2.66), (0.23, 211, 2.49), (0.03, 386, 2.12),
              (3.89, 130, 2.88), (2.85, 210, 2.67), (3.88, 390, 2.34),
              (5.73, 141, 2.75), (3.21, 228, 2.42), (3.30, 384, 2.14),
          ])
    func calibratedDefaults(lossPercent: Double, delayMilliseconds: Double, pesq: Double) {
        let estimate = EModel().mos(lossPercent: lossPercent, oneWayDelayMilliseconds: delayMilliseconds)
        #expect(abs(estimate - pesq) <= 0.5, "\(lossPercent) % and \(delayMilliseconds) ms: estimate \(estimate), PESQ-WB \(pesq)")
    }
}
