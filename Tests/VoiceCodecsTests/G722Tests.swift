import AudioSignal
import Foundation
import Testing
import VoiceCodecs

/// Our G.722 against ffmpeg's (libavcodec g722enc/g722dec, an independent implementation that passes
/// the ITU test vectors): the same bitstream must decode to the same samples, and the same input must
/// encode to the same bytes as ffmpeg's default (non-trellis) encoder.
@Suite("G.722")
struct G722Tests {
    /// Inputs at 16 kHz, each a whole number of 20 ms frames.
    static let inputs: [(name: String, samples: [Int16])] = {
        let n = 16_000 * 2  // 2 s
        return [
            ("1 kHz tone", Signals.tone(1000, rate: 16_000, count: n)),
            ("6 kHz tone", Signals.tone(6000, rate: 16_000, count: n)),
            ("sweep 50 Hz - 7.8 kHz", Signals.sweep(rate: 16_000, count: n)),
            ("full-scale white noise", Signals.noise(count: n, seed: 1)),
            ("speech-like", Signals.speechLike(rate: 16_000, count: n)),
            ("full-scale square 300 Hz", (0..<n).map { ($0 / 27) % 2 == 0 ? Int16.max : Int16.min }),
            ("silence", [Int16](repeating: 0, count: n)),
        ]
    }()

    private func encodeWithFFmpeg(_ pcm: [Int16], in dir: URL) throws -> [UInt8] {
        let raw = dir.appendingPathComponent("in.raw"), coded = dir.appendingPathComponent("out.g722")
        try s16le(pcm).write(to: raw)
        _ = try FFmpeg.run(["-f", "s16le", "-ar", "16000", "-ac", "1", "-i", raw.path, "-c:a", "g722", "-f", "g722", coded.path])
        return [UInt8](try Data(contentsOf: coded))
    }

    private func decodeWithFFmpeg(_ bitstream: [UInt8], in dir: URL) throws -> [Int16] {
        let coded = dir.appendingPathComponent("in.g722")
        try Data(bitstream).write(to: coded)
        return samples(fromS16LE: try FFmpeg.run(["-f", "g722", "-i", coded.path, "-f", "s16le", "-"]))
    }

    /// Ours, 20 ms at a time (as the bridge calls it).
    private func decodeWithOurs(_ bitstream: [UInt8]) throws -> [Int16] {
        let decoder = G722Decoder()
        var out = [Int16](repeating: 0, count: bitstream.count * 2)
        var done = 0
        for start in stride(from: 0, to: bitstream.count, by: G722.frameBytes) {
            let end = min(start + G722.frameBytes, bitstream.count)
            let n = try bitstream[start..<end].withUnsafeBufferPointer { input in
                try out.withUnsafeMutableBufferPointer { output in
                    try decoder.decode(input, into: UnsafeMutableBufferPointer(rebasing: output[(2 * start)...]))
                }
            }
            done += n
        }
        #expect(done == out.count)
        return out
    }

    private func encodeWithOurs(_ pcm: [Int16]) throws -> [UInt8] {
        let encoder = G722Encoder()
        var out = [UInt8](repeating: 0, count: pcm.count / 2)
        for start in stride(from: 0, to: pcm.count, by: G722.frameSamples) {
            let end = min(start + G722.frameSamples, pcm.count)
            let n = try pcm[start..<end].withUnsafeBufferPointer { input in
                try out.withUnsafeMutableBufferPointer { output in
                    try encoder.encode(input, into: UnsafeMutableBufferPointer(rebasing: output[(start / 2)...]))
                }
            }
            #expect(n == (end - start) / 2)
        }
        return out
    }

    private func firstDifference<T: Equatable>(_ a: [T], _ b: [T]) -> String {
        guard a.count == b.count else { return "lengths \(a.count) and \(b.count)" }
        guard let i = a.indices.first(where: { a[$0] != b[$0] }) else { return "none" }
        let count = a.indices.filter { a[$0] != b[$0] }.count
        return "\(count) differ, first at \(i): ours \(a[i]), ffmpeg \(b[i])"
    }

    @Test(.enabled(if: FFmpeg.available, FFmpeg.skipReason))
    func decoderMatchesFFmpegSampleForSample() throws {
        let dir = try FFmpeg.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, pcm) in Self.inputs {
            let bitstream = try encodeWithFFmpeg(pcm, in: dir)
            #expect(bitstream.count == pcm.count / 2, "\(name): ffmpeg wrote \(bitstream.count) bytes")
            let theirs = try decodeWithFFmpeg(bitstream, in: dir)
            let ours = try decodeWithOurs(bitstream)
            #expect(ours == theirs, "\(name): \(firstDifference(ours, theirs))")
        }
    }

    /// Any byte is a valid G.722 codeword (the low band's codes 0-3 are not produced by encoders but
    /// must decode as the standard says): random bytes decode exactly as ffmpeg decodes them.
    @Test(.enabled(if: FFmpeg.available, FFmpeg.skipReason))
    func decoderMatchesFFmpegOnArbitraryBytes() throws {
        let dir = try FFmpeg.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let bytes = Signals.noise(count: 16_000, seed: 7).map { UInt8(truncatingIfNeeded: $0) }
        let theirs = try decodeWithFFmpeg(bytes, in: dir)
        let ours = try decodeWithOurs(bytes)
        #expect(ours == theirs, "\(firstDifference(ours, theirs))")
    }

    @Test(.enabled(if: FFmpeg.available, FFmpeg.skipReason))
    func encoderMatchesFFmpegByteForByte() throws {
        let dir = try FFmpeg.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, pcm) in Self.inputs {
            let theirs = try encodeWithFFmpeg(pcm, in: dir)
            let ours = try encodeWithOurs(pcm)
            #expect(ours == theirs, "\(name): \(firstDifference(ours, theirs))")
        }
    }

    @Test func frameSizesAndRTPClock() throws {
        // RFC 3551 §4.5.2: G.722's RTP clock runs at 8000 Hz although it samples at 16 kHz.
        #expect(G722.rtpClockRate == 8_000 && G722.sampleRate == 16_000)
        let encoder = G722Encoder()
        let pcm = Signals.tone(1000, rate: 16_000, count: G722.frameSamples)
        var payload = [UInt8](repeating: 0, count: G722.frameBytes)
        let n = try pcm.withUnsafeBufferPointer { p in try payload.withUnsafeMutableBufferPointer { try encoder.encode(p, into: $0) } }
        #expect(n == 160 && G722.frameTimestampIncrement == 160)
        // An odd sample count or a short output buffer is refused, not trapped on.
        #expect(throws: VoiceCodecError.inputLength(count: 319, multipleOf: 2)) {
            try pcm.prefix(319).withUnsafeBufferPointer { p in try payload.withUnsafeMutableBufferPointer { try encoder.encode(p, into: $0) } }
        }
        let decoder = G722Decoder()
        var short = [Int16](repeating: 0, count: 100)
        #expect(throws: VoiceCodecError.outputTooSmall(needed: 320, capacity: 100)) {
            try payload.withUnsafeBufferPointer { p in try short.withUnsafeMutableBufferPointer { try decoder.decode(p, into: $0) } }
        }
    }
}
