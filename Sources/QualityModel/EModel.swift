/// A MOS estimate from network figures with the E-model (ITU-T G.107), the figure technicians know.
///
/// ITU publishes no equipment-impairment values for Opus, so `equipmentImpairment` (Ie) and
/// `packetLossRobustness` (Bpl) are ours: the defaults are fitted by `Scripts/calibrate-quality.sh`
/// to PESQ-WB of speech heard through the bridge (0-10 % loss, 20-80 ms jitter; the table is in
/// `docs/QUALITY-CALIBRATION.md`), so the estimate is on PESQ-WB's scale. It is an estimate and must
/// be labelled as one.
public struct EModel: Sendable, Equatable {
    /// R0 - Is: the basic signal-to-noise ratio less simultaneous impairments (G.107 default 93.2).
    public var baseRating = 93.2
    /// Ie: the codec's own impairment at zero loss.
    public var equipmentImpairment = 35.0
    /// Bpl: how well the codec (with its FEC and concealment) withstands loss that remains after FEC.
    public var packetLossRobustness = 37.5
    /// How much of G.107's delay impairment Id counts (1 is G.107 itself). Fitted with Ie and Bpl:
    /// the delay here is mostly jitter buffer, which PESQ hears as the buffer's stretching rather
    /// than as conversational delay.
    public var delaySensitivity = 0.5

    public init(baseRating: Double = 93.2, equipmentImpairment: Double = 35, packetLossRobustness: Double = 37.5,
                delaySensitivity: Double = 0.5) {
        self.baseRating = baseRating
        self.equipmentImpairment = equipmentImpairment
        self.packetLossRobustness = packetLossRobustness
        self.delaySensitivity = delaySensitivity
    }

    /// The transmission rating R.
    /// - Parameters:
    ///   - lossPercent: packets lost (after FEC, before concealment), 0...100.
    ///   - burstRatio: BurstR, 1 for random loss, above 1 for bursty loss.
    ///   - oneWayDelayMilliseconds: mouth-to-ear delay (network, jitter buffer, codec).
    public func rating(lossPercent: Double, burstRatio: Double = 1, oneWayDelayMilliseconds: Double) -> Double {
        let ppl = max(0, min(100, lossPercent))
        let burst = max(1, burstRatio)
        let ie = equipmentImpairment
        let ieEffective = ie + (95 - ie) * ppl / (ppl / burst + packetLossRobustness)
        let ta = max(0, oneWayDelayMilliseconds)
        // Delay impairment, the usual simplification of G.107's Id for echo-free paths.
        let id = delaySensitivity * (0.024 * ta + (ta > 177.3 ? 0.11 * (ta - 177.3) : 0))
        return baseRating - id - ieEffective
    }

    /// The MOS estimate (1.0 ... 4.5) from R (G.107 Annex B).
    public static func mos(rating r: Double) -> Double {
        if r <= 0 { return 1 }
        if r >= 100 { return 4.5 }
        return 1 + 0.035 * r + 7e-6 * r * (r - 60) * (100 - r)
    }

    public func mos(lossPercent: Double, burstRatio: Double = 1, oneWayDelayMilliseconds: Double) -> Double {
        Self.mos(rating: rating(lossPercent: lossPercent, burstRatio: burstRatio, oneWayDelayMilliseconds: oneWayDelayMilliseconds))
    }
}

/// Good, fair, poor, bad: what a technician's status page colours a site by.
///
/// `silent` is not a grade of speech: the site sent (almost) only DTX, and nothing it sends or
/// reports shows trouble. It sorts before good, so it never raises an alert.
public enum QualityGrade: String, Sendable, CaseIterable, Comparable {
    case silent, good, fair, poor, bad

    public static func < (a: QualityGrade, b: QualityGrade) -> Bool {
        allCases.firstIndex(of: a)! < allCases.firstIndex(of: b)!
    }

    /// The grade of a MOS estimate: at or above `good` is good, at or above `fair` fair, at or
    /// above `poor` poor, below bad.
    public static func of(mos: Double, good: Double = 2.7, fair: Double = 2.4, poor: Double = 1.9) -> QualityGrade {
        if mos >= good { return .good }
        if mos >= fair { return .fair }
        if mos >= poor { return .poor }
        return .bad
    }
}
