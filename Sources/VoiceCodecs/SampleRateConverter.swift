#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Converts 16-bit mono audio between 48 kHz and 16 kHz or 8 kHz (integer factors 3 and 6) with a
/// polyphase FIR low-pass: flat (±0.01 dB) to 0.9 of the lower rate's Nyquist frequency, at least
/// 60 dB down from that Nyquist frequency on (Kaiser-windowed sinc, designed for 65 dB).
/// Downsampling filters before dropping samples (no aliasing); upsampling filters the zero-stuffed
/// signal (no images). Delay: 120 samples at 48 kHz (2.5 ms) for 16 kHz, 240 (5 ms) for 8 kHz.
///
/// State carries across calls, so a stream converted in 20 ms pieces gives exactly what one call over
/// the whole stream gives. One thread at a time; allocation-free after `init`.
public final class SampleRateConverter {
    /// The rate of the samples given to ``convert(_:into:)``, in Hz.
    public let inputRate: Int
    /// The rate of the samples it writes, in Hz.
    public let outputRate: Int
    /// 3 or 6: output samples per input sample when upsampling, input per output when downsampling.
    private let factor: Int
    private let upsampling: Bool
    /// Filter length per output sample: the whole filter when downsampling, one phase when upsampling.
    private let taps: Int
    /// Downsampling: the filter reversed (taps values). Upsampling: `factor` phases of `taps` values
    /// each, reversed and scaled by the factor (zero stuffing divides the level by it).
    private let coefficients: UnsafeMutablePointer<Float>
    /// The last `taps - 1` inputs followed by room for `block` new ones.
    private let window: UnsafeMutablePointer<Float>
    private static let block = 960

    /// - Throws: ``VoiceCodecError/unsupportedConversion(from:to:)`` for any other pair of rates.
    public init(from inputRate: Int, to outputRate: Int) throws(VoiceCodecError) {
        let low = min(inputRate, outputRate)
        guard max(inputRate, outputRate) == 48_000, low == 16_000 || low == 8_000 else {
            throw .unsupportedConversion(from: inputRate, to: outputRate)
        }
        self.inputRate = inputRate
        self.outputRate = outputRate
        factor = 48_000 / low
        upsampling = outputRate > inputRate
        let filter = Self.design(factor: factor)
        taps = upsampling ? filter.count / factor : filter.count
        coefficients = .allocate(capacity: filter.count)
        if upsampling {
            // Phase p holds h[p], h[p + L], h[p + 2L], ... reversed, so the newest input meets h[p].
            for p in 0..<factor {
                for j in 0..<taps {
                    coefficients[p * taps + (taps - 1 - j)] = Float(filter[p + j * factor] * Double(factor))
                }
            }
        } else {
            for k in 0..<filter.count { coefficients[filter.count - 1 - k] = Float(filter[k]) }
        }
        window = .allocate(capacity: taps - 1 + Self.block)
        window.initialize(repeating: 0, count: taps - 1 + Self.block)
    }

    deinit {
        coefficients.deallocate()
        window.deallocate()
    }

    /// Output samples for `count` input samples.
    public func outputCount(forInput count: Int) -> Int {
        upsampling ? count * factor : count / factor
    }

    /// Converts `input` into `output`, continuing from the previous call.
    /// - Returns: the samples written (``outputCount(forInput:)``).
    /// - Throws: ``VoiceCodecError/inputLength(count:multipleOf:)`` when downsampling an input that is
    ///   not a whole multiple of the factor; ``VoiceCodecError/outputTooSmall(needed:capacity:)``.
    public func convert(
        _ input: UnsafeBufferPointer<Int16>, into output: UnsafeMutableBufferPointer<Int16>
    ) throws(VoiceCodecError) -> Int {
        if !upsampling && input.count % factor != 0 {
            throw .inputLength(count: input.count, multipleOf: factor)
        }
        let produced = outputCount(forInput: input.count)
        guard output.count >= produced else { throw .outputTooSmall(needed: produced, capacity: output.count) }
        guard let inBase = input.baseAddress, let outBase = output.baseAddress else { return 0 }
        var consumed = 0, written = 0
        while consumed < input.count {
            let n = min(Self.block, input.count - consumed)
            let fresh = window + (taps - 1)
            for i in 0..<n { fresh[i] = Float(inBase[consumed + i]) }
            if upsampling {
                for i in 0..<n {
                    for p in 0..<factor {
                        outBase[written] = Self.clip(Self.dot(coefficients + p * taps, window + i, taps))
                        written += 1
                    }
                }
            } else {
                var i = 0
                while i < n {
                    // The output at input i + factor - 1 (the last of each group) meets the newest tap.
                    outBase[written] = Self.clip(Self.dot(coefficients, window + i + factor - 1, taps))
                    written += 1
                    i += factor
                }
            }
            // Keep the last taps - 1 inputs for the next block.
            for k in 0..<(taps - 1) { window[k] = window[n + k] }
            consumed += n
        }
        return written
    }

    /// Σ a[k]·b[k] over `count` values (a multiple of 8), eight lanes at a time.
    @inline(__always)
    private static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
        var acc = SIMD8<Float>()
        let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
        var k = 0
        while k < count {
            let x = ra.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
            let y = rb.loadUnaligned(fromByteOffset: k * 4, as: SIMD8<Float>.self)
            // Not addingProduct: without FMA in the target it becomes a call to fmaf per lane (13x slower).
            acc += x * y
            k += 8
        }
        return acc.sum()
    }

    @inline(__always)
    private static func clip(_ x: Float) -> Int16 {
        // Rounds half away from zero, as x.rounded() does, without its call to roundf (|x| < 2^23, so
        // adding 0.5 is exact and the conversion's truncation finishes the rounding).
        Int16(max(-32_768, min(32_767, x >= 0 ? x + 0.5 : x - 0.5)))
    }

    /// A Kaiser-windowed sinc low-pass for the 48 kHz side, cut off halfway between 0.9 of the lower
    /// rate's Nyquist frequency (the passband edge) and that Nyquist frequency (the stopband edge),
    /// 65 dB stopband. Its length (240 taps for factor 3, 480 for 6) is what the Kaiser formula asks
    /// for that transition width, rounded up to a multiple of 8 · factor. DC gain 1.
    static func design(factor: Int) -> [Double] {
        let attenuation = 65.0
        let nyquist = 0.5 / Double(factor)  // in cycles per 48 kHz sample
        let passEdge = 0.9 * nyquist
        let transition = 2 * Double.pi * (nyquist - passEdge)
        let beta = 0.1102 * (attenuation - 8.7)
        var length = Int(((attenuation - 7.95) / (2.285 * transition)).rounded(.up)) + 1
        let multiple = 8 * factor
        length = (length + multiple - 1) / multiple * multiple
        let cutoff = (passEdge + nyquist) / 2
        let middle = Double(length - 1) / 2
        var h = (0..<length).map { n -> Double in
            let t = Double(n) - middle
            let sinc = t == 0 ? 2 * cutoff : sin(2 * Double.pi * cutoff * t) / (Double.pi * t)
            let r = t / middle
            return sinc * besselI0(beta * (1 - r * r).squareRoot()) / besselI0(beta)
        }
        let sum = h.reduce(0, +)
        for i in h.indices { h[i] /= sum }
        return h
    }

    /// The modified Bessel function of the first kind, order 0 (power series).
    private static func besselI0(_ x: Double) -> Double {
        var sum = 1.0, term = 1.0, k = 1.0
        while term > 1e-12 * sum {
            term *= (x / (2 * k)) * (x / (2 * k))
            sum += term
            k += 1
        }
        return sum
    }
}
