/// ITU-T G.722 at 64 kbit/s (mode 1): 16 kHz speech split by a quadrature mirror filter into two
/// 8 kHz sub-bands, the lower coded with 6-bit ADPCM and the upper with 2-bit ADPCM, one byte per two
/// input samples (the upper band's 2 bits first, in the byte's most significant bits).
///
/// Bit-exact with the recommendation's fixed-point algorithm (and so with ffmpeg's decoder and its
/// default, non-trellis encoder; the tests compare them). Written from the recommendation's block
/// descriptions.
public enum G722 {
    /// The codec's sampling rate.
    public static let sampleRate = 16_000
    /// The RTP clock rate: 8000 although the codec samples at 16 kHz, an error in the original
    /// RFC 1890 kept for compatibility (RFC 3551 §4.5.2). SDP says `a=rtpmap:9 G722/8000`.
    public static let rtpClockRate = 8_000
    /// Samples in a 20 ms frame at 16 kHz.
    public static let frameSamples = 320
    /// Bytes in a 20 ms frame (one per two samples).
    public static let frameBytes = 160
    /// The RTP timestamp advance of a 20 ms frame (at ``rtpClockRate``).
    public static let frameTimestampIncrement: UInt32 = 160
}

/// The quadrature mirror filter's two delay lines of 12 values each, kept twice over so the 12 newest
/// are always contiguous (no wrap inside a dot product). Allocated once.
final class G722FilterHistory {
    private let storage: UnsafeMutablePointer<Int32>
    private var position = 0

    init() {
        storage = .allocate(capacity: 48)
        storage.initialize(repeating: 0, count: 48)
    }

    deinit { storage.deallocate() }

    /// Pushes `a` into the first line and `b` into the second, then returns
    /// (Σ h(2k)·a(t−k), Σ h(2k+1)·b(t−k)) over k = 0...11, the newest first.
    @inline(__always)
    func push(_ a: Int32, _ b: Int32) -> (Int32, Int32) {
        position = position == 0 ? 11 : position - 1
        let lineA = storage + position, lineB = storage + 24 + position
        lineA[0] = a
        lineA[12] = a
        lineB[0] = b
        lineB[12] = b
        var sumA: Int32 = 0, sumB: Int32 = 0
        G722Tables.qmfEven.withUnsafeBufferPointer { h in
            for k in 0..<12 {
                sumA &+= h[k] &* lineA[k]
                sumB &+= h[11 - k] &* lineB[k]
            }
        }
        return (sumA, sumB)
    }
}

/// A G.722 encoder: 16 kHz samples in, bytes out. State is kept between calls (a stream's frames must
/// go through one encoder in order). One thread at a time; allocation-free after `init`.
public final class G722Encoder {
    private var lower = G722Band.lower
    private var higher = G722Band.higher
    private let history = G722FilterHistory()

    public init() {}

    /// Encodes `pcm` (an even number of 16 kHz samples; 320 for 20 ms) into `payload`.
    /// - Returns: the bytes written, `pcm.count / 2`.
    /// - Throws: ``VoiceCodecError/inputLength(count:multipleOf:)`` for an odd count,
    ///   ``VoiceCodecError/outputTooSmall(needed:capacity:)`` when `payload` is short.
    public func encode(
        _ pcm: UnsafeBufferPointer<Int16>, into payload: UnsafeMutableBufferPointer<UInt8>
    ) throws(VoiceCodecError) -> Int {
        guard pcm.count % 2 == 0 else { throw .inputLength(count: pcm.count, multipleOf: 2) }
        let bytes = pcm.count / 2
        guard payload.count >= bytes else { throw .outputTooSmall(needed: bytes, capacity: payload.count) }
        var lower = self.lower, higher = self.higher
        defer {
            self.lower = lower
            self.higher = higher
        }
        for i in 0..<bytes {
            // Transmit QMF: the later sample of the pair goes through the even coefficients, the
            // earlier through the odd ones; their sum is the lower band, their difference the upper.
            let (a, b) = history.push(Int32(pcm[2 * i + 1]), Int32(pcm[2 * i]))
            let xLow = (a &+ b) >> 14
            let xHigh = (a &- b) >> 14

            // Upper band (QUANTH): one decision level, four codes.
            let eHigh = G722Band.saturate16(xHigh &- higher.estimate)
            let magnitudeHigh = eHigh >= 0 ? eHigh : ~eHigh
            let large = magnitudeHigh >= (G722Tables.higherDecision &* higher.scale) >> 10
            let codeHigh: Int32 = eHigh >= 0 ? (large ? 2 : 3) : (large ? 0 : 1)

            // Lower band (QUANTL): the number of decision levels the magnitude reaches picks the interval.
            let eLow = G722Band.saturate16(xLow &- lower.estimate)
            let magnitudeLow = eLow >= 0 ? eLow : ~eLow
            var interval: Int32 = 0
            while interval < 29, magnitudeLow >= (G722Tables.lowerDecision[Int(interval)] &* lower.scale) >> 10 {
                interval += 1
            }
            let codeLow = G722Tables.lowerCode(interval: interval, negative: eLow < 0)

            higher.adapt(difference: higher.difference(level: G722Tables.higherLevel[Int(codeHigh)]),
                         logStep: G722Tables.higherLogStep[Int(codeHigh)])
            let code4 = Int(codeLow >> 2)
            lower.adapt(difference: lower.difference(level: G722Tables.lowerLevel4[code4]),
                        logStep: G722Tables.lowerLogStep[code4])
            payload[i] = UInt8(truncatingIfNeeded: codeHigh << 6 | codeLow)
        }
        return bytes
    }
}

/// A G.722 decoder: bytes in, 16 kHz samples out (two per byte). Every byte value is valid input.
/// State is kept between calls. One thread at a time; allocation-free after `init`.
public final class G722Decoder {
    private var lower = G722Band.lower
    private var higher = G722Band.higher
    private let history = G722FilterHistory()

    public init() {}

    /// Decodes `payload` into `pcm`.
    /// - Returns: the samples written, `2 * payload.count`.
    /// - Throws: ``VoiceCodecError/outputTooSmall(needed:capacity:)`` when `pcm` is short.
    public func decode(
        _ payload: UnsafeBufferPointer<UInt8>, into pcm: UnsafeMutableBufferPointer<Int16>
    ) throws(VoiceCodecError) -> Int {
        let samples = 2 * payload.count
        guard pcm.count >= samples else { throw .outputTooSmall(needed: samples, capacity: pcm.count) }
        var lower = self.lower, higher = self.higher
        defer {
            self.lower = lower
            self.higher = higher
        }
        for i in 0..<payload.count {
            let byte = Int(payload[i])
            let codeHigh = byte >> 6, codeLow = byte & 63

            // Lower band: the output uses all six bits, the predictor only the top four.
            let rLow = min(max(lower.difference(level: G722Tables.lowerLevel6[codeLow]) &+ lower.estimate, -16_384), 16_383)
            let code4 = codeLow >> 2
            lower.adapt(difference: lower.difference(level: G722Tables.lowerLevel4[code4]),
                        logStep: G722Tables.lowerLogStep[code4])

            let dHigh = higher.difference(level: G722Tables.higherLevel[codeHigh])
            let rHigh = min(max(dHigh &+ higher.estimate, -16_384), 16_383)
            higher.adapt(difference: dHigh, logStep: G722Tables.higherLogStep[codeHigh])

            // Receive QMF: the bands' difference through the even coefficients gives the earlier
            // output sample, their sum through the odd ones the later.
            let (first, second) = history.push(rLow &- rHigh, rLow &+ rHigh)
            pcm[2 * i] = Int16(G722Band.saturate16(first >> 11))
            pcm[2 * i + 1] = Int16(G722Band.saturate16(second >> 11))
        }
        return samples
    }
}
