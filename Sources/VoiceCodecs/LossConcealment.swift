/// Concealment of lost frames at 48 kHz without clicks, for codecs that have none of their own.
///
/// It keeps the last 20 ms played. A loss plays them backwards, then forwards, then backwards ... so
/// every join meets the sample it continues from (no step), under a gain falling linearly from 1 to 0
/// over 40 ms (a repeated frame would buzz if it went on). When audio comes back, its first 5 ms are
/// cross-faded from where the concealment would have gone on. Allocation-free after `init`.
final class LossConcealment {
    private static let length = VoicePayloadFormat.frameSamples48k
    private static let fadeSamples = 2 * length
    private static let crossFade = 240

    /// The last `length` samples played, oldest first.
    private let history: UnsafeMutablePointer<Int16>
    /// Samples concealed since the loss began; 0 when not concealing.
    private var position = 0

    init() {
        history = .allocate(capacity: Self.length)
        history.initialize(repeating: 0, count: Self.length)
    }

    deinit { history.deallocate() }

    /// The concealment's sample at `p` samples into the loss.
    @inline(__always)
    private func sample(at p: Int) -> Float {
        guard p < Self.fadeSamples else { return 0 }
        let pass = p / Self.length, offset = p % Self.length
        let s = pass % 2 == 0 ? history[Self.length - 1 - offset] : history[offset]
        return Float(s) * (1 - Float(p) / Float(Self.fadeSamples))
    }

    func conceal(into pcm: UnsafeMutableBufferPointer<Int16>) {
        for i in pcm.indices {
            pcm[i] = Int16(sample(at: position + i).rounded())
        }
        // Past the fade everything is silence: stop counting before the position could overflow.
        position = min(position + pcm.count, Self.fadeSamples)
        remember(UnsafeBufferPointer(pcm), concealed: true)
    }

    /// Decoded audio arrived: cross-fade out of a concealment if one was playing, then remember it.
    func received(_ pcm: UnsafeMutableBufferPointer<Int16>) {
        if position > 0 {
            let n = min(Self.crossFade, pcm.count)
            for i in 0..<n {
                let w = Float(i + 1) / Float(Self.crossFade + 1)
                let mixed = w * Float(pcm[i]) + (1 - w) * sample(at: position + i)
                pcm[i] = Int16(max(-32_768, min(32_767, mixed.rounded())))
            }
            position = 0
        }
        remember(UnsafeBufferPointer(pcm), concealed: false)
    }

    /// Appends what was played to the history (a concealment is not remembered: the next loss in the
    /// same stretch continues from the same last real audio).
    private func remember(_ pcm: UnsafeBufferPointer<Int16>, concealed: Bool) {
        guard !concealed, let base = pcm.baseAddress else { return }
        let n = pcm.count
        if n >= Self.length {
            history.update(from: base + (n - Self.length), count: Self.length)
        } else {
            for k in 0..<(Self.length - n) { history[k] = history[k + n] }
            (history + (Self.length - n)).update(from: base, count: n)
        }
    }
}
