#if canImport(Glibc)
import Glibc
#endif
import OpusCodec
import Transport
import VoiceCodecs

// vcbridge-bench codecs [--frames N]
//   Per-20 ms-frame cost at 48 kHz of the room-system codecs (VoiceCodecs: G.722 and PCMU, rate
//   conversion included) next to Opus (complexity 9, 48 kb/s, the bridge's shared-mix setting).
//   Each codec runs N frames of the same audio (a 1 kHz + 3.1 kHz + 6 kHz mix with a slow sweep);
//   every frame is timed alone and the median printed, with heap allocations per frame over the
//   timed loop (when Scripts/bench/malloc_count.so is preloaded, else "n/a").
// Prints name=value pairs: g722_encode_ns, g722_decode_ns, pcmu_encode_ns, pcmu_decode_ns,
// opus_encode_ns, opus_decode_ns, and <name>_allocs for each.
func runCodecs(_ arguments: [String]) {
    guard let frames = Int(option("--frames", in: arguments) ?? "2000"), frames > 0, frames <= 100_000 else {
        fail("--frames must be 1-100000")
    }
    let n = Opus.frameSamples
    // 2 s of audio, reused in a loop.
    let audio: [Int16] = (0..<(100 * n)).map { i in
        let t = Double(i) / 48_000
        let sweep: Double = 300 + 3000 * (1 + sin(Double.pi * t))
        let w = 2 * Double.pi * t
        var v: Double = 0.25 * sin(w * 1000)
        v += 0.1 * sin(w * 3100)
        v += 0.05 * sin(w * 6000)
        v += 0.1 * sin(w * sweep)
        return Int16((v * 32767).rounded())
    }
    var times = [Int64](repeating: 0, count: frames)
    var payload = [UInt8](repeating: 0, count: Opus.maxPacketBytes)
    var pcm = [Int16](repeating: 0, count: n)
    var results: [(String, Int64, String)] = []

    /// Runs `body` on every frame (after 50 untimed ones) and records the median and allocations.
    func measure(_ name: String, _ body: (Int) throws -> Void) rethrows {
        for f in 0..<50 { try body(f) }
        let before = allocationCount?() ?? 0
        for f in 0..<frames {
            let t0 = monotonicNanoseconds()
            try body(f)
            times[f] = monotonicNanoseconds() - t0
        }
        let after = allocationCount?() ?? 0
        let sorted = times.sorted()
        let allocs = allocationCount == nil ? "n/a" : String(Double(after - before) / Double(frames))
        results.append((name, sorted[frames / 2], allocs))
    }

    do {
        for format in [VoicePayloadFormat.g722, .pcmu] {
            let encoder = VoiceFrameEncoder(format: format)
            let decoder = VoiceFrameDecoder(format: format)
            let name = format == .g722 ? "g722" : "pcmu"
            // 100 payloads of 160 bytes in one buffer.
            let packets = UnsafeMutableRawBufferPointer.allocate(byteCount: 100 * 160, alignment: 16)
            defer { packets.deallocate() }
            packets.initializeMemory(as: UInt8.self, repeating: 0)
            try audio.withUnsafeBufferPointer { audio in
                try measure("\(name)_encode") { f in
                    let start = (f % 100) * n
                    let slot = UnsafeMutableRawBufferPointer(rebasing: packets[((f % 100) * 160)..<((f % 100 + 1) * 160)])
                    _ = try encoder.encode48k(UnsafeBufferPointer(rebasing: audio[start..<(start + n)]), into: slot)
                }
            }
            try pcm.withUnsafeMutableBufferPointer { pcm in
                try measure("\(name)_decode") { f in
                    let slot = UnsafeRawBufferPointer(rebasing: packets[((f % 100) * 160)..<((f % 100 + 1) * 160)])
                    _ = try decoder.decode48k(slot, into: pcm)
                }
            }
        }
        let opusEncoder = try Opus.Encoder(configuration: .init(bitrate: 48_000, complexity: 9, inbandFEC: false,
                                                                 expectedPacketLossPercent: 0, dtx: false))
        let opusDecoder = try Opus.Decoder()
        var opusPackets = [[UInt8]](repeating: [], count: 100)
        for f in 0..<100 {
            opusPackets[f] = try opusEncoder.encode(Array(audio[(f * n)..<((f + 1) * n)]))
        }
        try measure("opus_encode") { f in
            let start = (f % 100) * n
            _ = try audio[start..<(start + n)].withUnsafeBufferPointer { input in
                try payload.withUnsafeMutableBytes { try opusEncoder.encode(input, into: $0) }
            }
        }
        try measure("opus_decode") { f in
            _ = try opusPackets[f % 100].withUnsafeBytes { p in
                try pcm.withUnsafeMutableBufferPointer { try opusDecoder.decode(p, into: $0) }
            }
        }
    } catch {
        fail("\(error)")
    }
    print(results.map { "\($0.0)_ns=\($0.1) \($0.0)_allocs=\($0.2)" }.joined(separator: " "))
}
