import Endpoint
import Foundation
import OpusCodec

// vcbridge-bench mouth-to-ear --sent FILE --heard FILE [--series FILE]
//   How long the talker's sound takes to reach a listener through the bridge: from the moment the
//   talker's packet carrying a stretch of audio leaves (`vcbridge endpoint --dump-sent`) to the moment
//   the bridge's packet carrying the same audio arrives at the listener (`--dump-heard`), both on the
//   machine's monotonic clock. Both streams are decoded in timestamp order; each second of what was
//   heard (with speech in it) is matched to what was sent by cross-correlation (at 4 kHz over delays
//   of -300 to 900 ms, then refined at 48 kHz), and every heard frame of that second gives a delay. Prints the
//   median and 95th percentile over frames, the per-second medians' largest step between consecutive
//   seconds, and the seconds matched. Framing (20 ms) counts the same on both sides, so it cancels;
//   the bridge's buffer, tick and encoder lookahead count.
func runMouthToEar(_ arguments: [String]) {
    guard let sentPath = option("--sent", in: arguments), let heardPath = option("--heard", in: arguments)
    else { fail("usage: vcbridge-bench mouth-to-ear --sent FILE --heard FILE [--series FILE]") }
    do {
        let talker = try DecodedStream(path: sentPath)
        let listener = try DecodedStream(path: heardPath)
        let seconds = matchSeconds(talker: talker, listener: listener)
        guard !seconds.isEmpty else { fail("no second of what was heard matched what was sent") }
        let delays = seconds.flatMap(\.frameDelays).sorted()
        let medians = seconds.map { $0.frameDelays.sorted()[$0.frameDelays.count / 2] }
        var largestStep = 0.0
        for i in 1..<max(1, medians.count) where seconds[i].index == seconds[i - 1].index + 1 {
            largestStep = max(largestStep, abs(medians[i] - medians[i - 1]))
        }
        let p95 = delays[min(delays.count - 1, delays.count * 95 / 100)]
        print(String(format: "mouth_to_ear_median_ms=%.1f p95_ms=%.1f largest_step_ms=%.1f seconds=%d frames=%d",
                     delays[delays.count / 2], p95, largestStep, seconds.count, delays.count))
        if let series = option("--series", in: arguments) {
            let lines = zip(seconds, medians).map { String(format: "%d %.1f %.3f", $0.index, $1, $0.correlation) }
            try (lines.joined(separator: "\n") + "\n").write(toFile: series, atomically: true, encoding: .utf8)
        }
    } catch {
        fail("\(error)")
    }
}

/// A stream of dumped packets decoded in timestamp order (gaps are silence), with the time each
/// 20 ms frame's packet left or arrived (filled in from the nearest packet for gaps).
private struct DecodedStream {
    var pcm: [Int16] = []
    var frameTimes: [Double] = []  // milliseconds

    init(path: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let packets = text.split(separator: "\n").compactMap { AudioPacketRecord(line: $0) }
        guard let first = packets.first else { fail("\(path) holds no packets") }
        var byFrame: [Int: AudioPacketRecord] = [:]
        for p in packets {
            let frame = Int(Int32(bitPattern: p.timestamp &- first.timestamp)) / 960
            if frame >= 0, byFrame[frame] == nil { byFrame[frame] = p }
        }
        let frames = (byFrame.keys.max() ?? 0) + 1
        let decoder = try Opus.Decoder()
        var frame = [Int16](repeating: 0, count: 960)
        var known: [Double?] = []
        for f in 0..<frames {
            if let p = byFrame[f] {
                let n = try p.payload.withUnsafeBytes { b in try frame.withUnsafeMutableBufferPointer { try decoder.decode(b, into: $0) } }
                for i in n..<960 { frame[i] = 0 }
                pcm += frame
                known.append(Double(p.at) / 1e6)
            } else {
                pcm += [Int16](repeating: 0, count: 960)
                known.append(nil)
            }
        }
        // A frame without a packet (DTX, loss) gets the time of the nearest known one, 20 ms a frame away.
        var last: (Int, Double)? = nil
        frameTimes = [Double](repeating: 0, count: frames)
        for f in 0..<frames { if let t = known[f] { last = (f, t) }; frameTimes[f] = last.map { $0.1 + Double(f - $0.0) * 20 } ?? .nan }
        var next: (Int, Double)? = nil
        for f in stride(from: frames - 1, through: 0, by: -1) {
            if let t = known[f] { next = (f, t) }
            if frameTimes[f].isNaN, let n = next { frameTimes[f] = n.1 - Double(n.0 - f) * 20 }
        }
    }

    /// When sample `i` left or arrived, in milliseconds.
    func time(ofSample i: Int) -> Double { frameTimes[i / 960] + Double(i % 960) / 48 }
}

private struct MatchedSecond {
    var index: Int
    var correlation: Double
    var frameDelays: [Double]
}

/// To 4 kHz by sums of 12 samples (enough to find the lag to 0.25 ms before refining it).
private func decimate(_ pcm: [Int16]) -> [Double] {
    var out = [Double](repeating: 0, count: pcm.count / 12)
    for i in 0..<out.count { var s = 0.0; for k in 0..<12 { s += Double(pcm[i * 12 + k]) }; out[i] = s }
    return out
}

private func matchSeconds(talker: DecodedStream, listener: DecodedStream) -> [MatchedSecond] {
    let a = decimate(talker.pcm), b = decimate(listener.pcm)
    // What is heard at time t was sent at t - delay: searched from 900 ms before t to 300 ms after.
    var result: [MatchedSecond] = []
    let window = 4_000, search = 2_400
    var second = 0
    while (second + 1) * window <= b.count {
        defer { second += 1 }
        let start = second * window
        var energy = 0.0
        for i in start..<(start + window) { energy += b[i] * b[i] }
        guard energy / Double(window) > 144 * 144 * 1_000 else { continue }  // quieter than about -40 dBFS: no speech
        let heardAt = listener.time(ofSample: start * 12)
        // Where in the talker's stream that moment was sent: find the frame sent at heardAt.
        guard let guessFrame = talker.frameTimes.firstIndex(where: { $0 >= heardAt }) else { continue }
        let guess = guessFrame * 80  // 4 kHz samples
        var best = (lag: 0, score: -Double.infinity, norm: 0.0)
        for offset in -search...search {
            let from = guess + offset - search / 2
            guard from >= 0, from + window <= a.count else { continue }
            var dot = 0.0, norm = 0.0
            for i in 0..<window { dot += a[from + i] * b[start + i]; norm += a[from + i] * a[from + i] }
            if dot > best.score { best = (from, dot, norm) }
        }
        guard best.score > 0, best.norm > 0 else { continue }
        let correlation = best.score / (best.norm * energy).squareRoot()
        guard correlation > 0.6 else { continue }
        // Refine at 48 kHz within ±12 samples.
        var fine = (lag: best.lag * 12, score: -Double.infinity)
        for offset in -12...12 {
            let from = best.lag * 12 + offset
            guard from >= 0, from + window * 12 <= talker.pcm.count else { continue }
            var dot = 0.0
            for i in stride(from: 0, to: window * 12, by: 2) { dot += Double(talker.pcm[from + i]) * Double(listener.pcm[start * 12 + i]) }
            if dot > fine.score { fine = (from, dot) }
        }
        var delays: [Double] = []
        for f in stride(from: start * 12 + 480, to: (start + window) * 12, by: 960) {
            let source = fine.lag + (f - start * 12)
            delays.append(listener.time(ofSample: f) - talker.time(ofSample: source))
        }
        result.append(MatchedSecond(index: second, correlation: correlation, frameDelays: delays))
    }
    return result
}
