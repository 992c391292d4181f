/// The adaptive state of one G.722 sub-band (ITU-T G.722 §3.6 and Blocks 3-4): the quantizer's scale,
/// and the predictor (two poles, six zeros) that both encoder and decoder run on the quantized
/// difference signal, so they stay in step without side information.
///
/// Arithmetic is the recommendation's fixed point: 16-bit values with saturation where it saturates, and
/// arithmetic (flooring) right shifts. Scales are kept as the recommendation's DETL/DETH divided by 4,
/// and the inverse quantizer tables divided by 8, so a difference is `scale * level >> 10` (the same
/// value as `DET * QM >> 15`).
struct G722Band {
    /// The signal estimate SL/SH for the next sample.
    private(set) var estimate: Int32 = 0
    /// Scale factor (DETL or DETH, divided by 4).
    private(set) var scale: Int32
    /// Logarithmic scale factor NBL/NBH.
    private var logScale: Int32 = 0

    /// Zero-section output SZ for the next sample.
    private var zeroEstimate: Int32 = 0
    /// Pole coefficients AL1/AH1, AL2/AH2.
    private var pole1: Int32 = 0
    private var pole2: Int32 = 0
    /// Whether the partially reconstructed signal (difference + SZ) was negative one and two samples ago.
    private var partialNegative1 = false
    private var partialNegative2 = false
    /// The previous reconstructed signal, doubled and saturated (what the pole section multiplies).
    private var reconstructed1: Int32 = 0
    /// Zero coefficients BL1...BL6 and the doubled past differences DLT1...DLT6 they multiply.
    private var zeroCoefficients: (Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0)
    private var differences: (Int32, Int32, Int32, Int32, Int32, Int32) = (0, 0, 0, 0, 0, 0)

    private let maxLogScale: Int32
    private let logScaleOffset: Int32

    /// The lower band: scale DETL starts at 32 (8 here), NBL is limited to 18432.
    static var lower: G722Band { G722Band(scale: 8, maxLogScale: 18_432, logScaleOffset: 8 << 11) }
    /// The higher band: scale DETH starts at 8 (2 here), NBH is limited to 22528.
    static var higher: G722Band { G722Band(scale: 2, maxLogScale: 22_528, logScaleOffset: 10 << 11) }

    private init(scale: Int32, maxLogScale: Int32, logScaleOffset: Int32) {
        self.scale = scale
        self.maxLogScale = maxLogScale
        self.logScaleOffset = logScaleOffset
    }

    @inline(__always)
    static func saturate16(_ x: Int32) -> Int32 { min(max(x, -32_768), 32_767) }

    /// The quantized difference this band reconstructs for a level (an inverse-quantizer table entry).
    @inline(__always)
    func difference(level: Int32) -> Int32 { (scale &* level) >> 10 }

    /// Adapts the predictor and the quantizer scale after a sample whose quantized difference is
    /// `difference`; `logStep` is the scale's log-domain step for the sample's code (WL/WH).
    @inline(__always)
    mutating func adapt(difference d: Int32, logStep: Int32) {
        adaptPredictor(d)
        // Quantizer scale adaptation (LOGSCL/LOGSCH, SCALEL/SCALEH): leaky log-domain sum, then
        // 2^(x/2048) by a 32-entry table of the mantissa and a shift by the exponent.
        logScale = min(max(((logScale &* 127) >> 7) &+ logStep, 0), maxLogScale)
        let x = logScale &- logScaleOffset
        let mantissa = G722Tables.inverseLog2[Int((x >> 6) & 31)]
        let exponent = x >> 11
        scale = exponent < 0 ? mantissa >> -exponent : mantissa << exponent
    }

    @inline(__always)
    private mutating func adaptPredictor(_ d: Int32) {
        // Partially reconstructed signal (PARREC) and its sign history.
        let negative = (zeroEstimate &+ d) < 0
        let sameAs1 = negative == partialNegative1
        let sameAs2 = negative == partialNegative2

        // Second pole coefficient (UPPOL2): a sign-sign update with leakage 127/128, limited to ±12288.
        let clipped1 = min(max(pole1, -8191), 8191)
        let term = (sameAs1 ? -clipped1 : clipped1) >> 5
        let newPole2 = min(max(term &+ (sameAs2 ? 128 : -128) &+ ((pole2 &* 127) >> 7), -12_288), 12_288)
        // First pole coefficient (UPPOL1): leakage 255/256, limited so the pole pair stays stable.
        let limit = 15_360 &- newPole2
        let newPole1 = min(max((sameAs1 ? 192 : -192) &+ ((pole1 &* 255) >> 8), -limit), limit)

        // Zero coefficients (UPZERO): leakage 255/256 plus ±128 by the signs of the new and past differences.
        @inline(__always) func updated(_ b: Int32, _ past: Int32) -> Int32 {
            let leaked = (b &* 255) >> 8
            guard d != 0 else { return leaked }
            return leaked &+ ((past ^ d) < 0 ? -128 : 128)
        }
        zeroCoefficients = (
            updated(zeroCoefficients.0, differences.0), updated(zeroCoefficients.1, differences.1),
            updated(zeroCoefficients.2, differences.2), updated(zeroCoefficients.3, differences.3),
            updated(zeroCoefficients.4, differences.4), updated(zeroCoefficients.5, differences.5)
        )
        // Delay line (DELAYA) of doubled differences, then the zero section's output (FILTEZ).
        differences = (Self.saturate16(d &* 2), differences.0, differences.1, differences.2, differences.3, differences.4)
        let z = zeroCoefficients, dd = differences
        zeroEstimate = ((z.0 &* dd.0) >> 15) &+ ((z.1 &* dd.1) >> 15) &+ ((z.2 &* dd.2) >> 15)
            &+ ((z.3 &* dd.3) >> 15) &+ ((z.4 &* dd.4) >> 15) &+ ((z.5 &* dd.5) >> 15)

        // Reconstructed signal (RECONS), the pole section (FILTEP) and the new estimate (PREDIC).
        let reconstructed = Self.saturate16((estimate &+ d) &* 2)
        estimate = Self.saturate16(zeroEstimate &+ ((newPole1 &* reconstructed) >> 15) &+ ((newPole2 &* reconstructed1) >> 15))

        reconstructed1 = reconstructed
        pole1 = newPole1
        pole2 = newPole2
        partialNegative2 = partialNegative1
        partialNegative1 = negative
    }
}

/// The recommendation's constant tables, in the units `G722Band` uses.
enum G722Tables {
    /// ILB: 2048 * 2^(i/32), the mantissa of the inverse logarithm of the scale factor.
    static let inverseLog2: [Int32] = [
        2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383, 2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
        2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371, 3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
    ]

    /// The lower band's 29 decision levels (Q6, divided by 8): a difference's magnitude is quantized to
    /// the number of these it reaches.
    static let lowerDecision: [Int32] = [
        35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714, 786,
        858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919,
    ]

    /// The lower band's 30 output magnitudes (QM6, divided by 8), one per quantizer interval.
    private static let lowerOutput: [Int32] = [
        17, 54, 91, 130, 170, 211, 254, 300, 347, 396, 447, 501, 558, 618, 682, 750,
        822, 899, 982, 1072, 1170, 1279, 1399, 1535, 1689, 1873, 2088, 2376, 2738, 3101,
    ]

    /// The 6-bit code of interval `interval` (0...29) for a positive or negative difference
    /// (the recommendation's IPL6 / INL6 tables, Table 6).
    @inline(__always)
    static func lowerCode(interval: Int32, negative: Bool) -> Int32 {
        negative ? (interval < 2 ? 63 - interval : 33 - interval) : 61 - interval
    }

    /// QM6 / 8 by 6-bit code: the decoder's output level (codes 0-3 are never sent; they decode as 63).
    static let lowerLevel6: [Int32] = {
        var table = [Int32](repeating: -lowerOutput[0], count: 64)
        for interval in 0..<30 {
            table[Int(lowerCode(interval: Int32(interval), negative: false))] = lowerOutput[interval]
            table[Int(lowerCode(interval: Int32(interval), negative: true))] = -lowerOutput[interval]
        }
        return table
    }()

    /// QM4 / 8 by 4-bit code (the 6-bit code's top four bits): what the predictor adapts on.
    static let lowerLevel4: [Int32] = [
        0, -2557, -1612, -1121, -786, -530, -323, -150, 2557, 1612, 1121, 786, 530, 323, 150, 0,
    ]

    /// WL by 4-bit code: the lower band's log-scale step.
    static let lowerLogStep: [Int32] = [
        -60, 3042, 1198, 538, 334, 172, 58, -30, 3042, 1198, 538, 334, 172, 58, -30, -60,
    ]

    /// The higher band's decision level (Q2 = 564, divided by 4 with the scale: 141 / 256).
    static let higherDecision: Int32 = 564

    /// QM2 / 8 by 2-bit code.
    static let higherLevel: [Int32] = [-926, -202, 926, 202]

    /// WH by 2-bit code: the higher band's log-scale step (large magnitudes grow the scale).
    static let higherLogStep: [Int32] = [798, -214, 798, -214]

    /// The 24 quadrature mirror filter coefficients h(0)...h(23) are symmetric; these are the even ones,
    /// h(2i) (Table 11). The odd ones are h(2i+1) = h(22-2i).
    static let qmfEven: [Int32] = [3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11]
}
