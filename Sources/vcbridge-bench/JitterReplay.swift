import AudioSignal
import Endpoint
import Foundation
import JitterBuffer
import OpusCodec
import Playout

// vcbridge-bench jitter-replay --sent FILE --fate FILE --out WAV [--phase MS] [--stretch] [--reencode KBPS]
//   The bridge's receive side for one talker, replayed offline from a run of Scripts/bench-quality.sh
//   (VCB_KEEP_WORKSPACE=1 keeps its files): the talker's packets (`--dump-sent`) arrive when they left
//   plus the delay the relay gave each (`--fate-log`); a 20 ms tick (at `--phase` ms after the first
//   packet left) takes the jitter buffer's decision and decodes it with libopus as the media thread
//   does (packet, FEC of the next packet, concealment), through the site's playout when `--stretch`.
//   The result has no mixer, no re-encode and no scheduling noise: the same trace gives the same
//   audio, so two jitter-buffer versions can be scored with PESQ side by side. Prints what the buffer
//   counted and its delay (median and p95, ms from a packet leaving to its frame being played).
//   `--reencode KBPS` passes the result through the mixer's Opus encode at that bitrate and a decoder,
//   as the bridge's shared mix reaches a hall.
func runJitterReplay(_ arguments: [String]) {
    guard let sentPath = option("--sent", in: arguments), let fatePath = option("--fate", in: arguments),
          let outPath = option("--out", in: arguments)
    else { fail("usage: vcbridge-bench jitter-replay --sent FILE --fate FILE --out WAV [--phase MS] [--stretch] [--reencode KBPS]") }
    let phase = Int64(option("--phase", in: arguments).flatMap(Double.init).map { $0 * 1_000_000 } ?? 0)
    let stretching = arguments.contains("--stretch")
    guard let sentText = try? String(contentsOfFile: sentPath, encoding: .utf8),
          let fateText = try? String(contentsOfFile: fatePath, encoding: .utf8)
    else { fail("cannot read \(sentPath) or \(fatePath)") }
    let sent = sentText.split(separator: "\n").compactMap { AudioPacketRecord(line: $0) }
    let fates: [[Double]] = fateText.split(separator: "\n").compactMap { line in
        let f = line.split(separator: " ")
        guard f.count == 3, f[1] == "rtp" else { return nil }
        return f[2] == "lost" ? [] : f[2].split(separator: ",").compactMap { Double($0) }
    }
    guard !sent.isEmpty, fates.count >= sent.count else {
        fail("the fate log has \(fates.count) RTP packets for \(sent.count) sent")
    }
    // Every delivery (a duplicated packet arrives twice), in arrival order.
    var arrivals: [(at: Int64, packet: Int)] = []
    for (i, packet) in sent.enumerated() {
        for delay in fates[i] { arrivals.append((packet.at + Int64(delay * 1_000_000), i)) }
    }
    arrivals.sort { $0.at != $1.at ? $0.at < $1.at : $0.packet < $1.packet }
    do {
        let jitter = JitterBuffer()
        let playout = SitePlayout()
        playout.stretching = stretching
        let decoder = try Opus.Decoder()
        var decoded = [Int16](repeating: 0, count: 960)
        var frame = [Int16](repeating: 0, count: 960)
        var out: [Int16] = []
        let start = sent[0].at + phase
        let end = (arrivals.last?.at ?? start) + 2_000_000_000
        var next = 0
        var now = start
        var sentAt: [UInt32: Int64] = [:]
        for p in sent { sentAt[p.timestamp] = p.at }
        var delays: [Double] = []
        var pending: PlayoutDecision = .waiting
        func decode() throws {
            var produced = 0
            switch pending {
            case .packet(let payload): produced = try decoded.withUnsafeMutableBufferPointer { try decoder.decode(payload, into: $0) }
            case .fec(let payload): produced = try decoded.withUnsafeMutableBufferPointer { try decoder.decodeFEC(from: payload, into: $0) }
            case .conceal: produced = try decoded.withUnsafeMutableBufferPointer { try decoder.conceal(into: $0) }
            case .waiting: produced = 0
            }
            for i in produced..<960 { decoded[i] = 0 }
        }
        while now < end {
            while next < arrivals.count, arrivals[next].at <= now {
                let p = sent[arrivals[next].packet]
                p.payload.withUnsafeBytes {
                    jitter.insert(sequence: p.sequence, timestamp: p.timestamp, ssrc: 1, payload: $0, arrival: arrivals[next].at)
                }
                next += 1
            }
            let target = Int(jitter.statistics.targetDelayMilliseconds) * 48
            // As MediaEngine's tick and play: a frame a tick into the playout unless it already holds one
            // (speech was stretched), another when it is to shed delay.
            if playout.buffered < SitePlayout.frameSamples {
                pending = jitter.nextFrame(now: now, downstreamSamples: playout.buffered)
                if case .packet = pending, let left = jitter.lastPlayedRTPTimestamp.flatMap({ sentAt[$0] }) {
                    delays.append(Double(now - left) / 1e6 + Double(playout.buffered) / 48)
                }
                try decode()
                decoded.withUnsafeBufferPointer { playout.append($0) }
            }
            if playout.needsFrame(target: target), jitter.bufferedMilliseconds >= JitterBuffer.frameMilliseconds {
                pending = jitter.nextFrame(now: now, downstreamSamples: playout.buffered)
                try decode()
                decoded.withUnsafeBufferPointer { playout.append($0) }
            }
            let level = Int(jitter.bufferedMilliseconds) * 48 + playout.buffered
            frame.withUnsafeMutableBufferPointer { playout.play(into: $0, level: level, target: target) }
            out += frame
            now += 20_000_000
        }
        if let kbps = option("--reencode", in: arguments).flatMap(Int32.init) {
            // The bridge's shared mix encode (AudioMixer: complexity 9, in-band FEC, no DTX), decoded as a hall does.
            let encoder = try Opus.Encoder(configuration: .init(bitrate: kbps * 1000, complexity: 9, inbandFEC: true,
                                                                 expectedPacketLossPercent: 0, dtx: false))
            let hall = try Opus.Decoder()
            var heard: [Int16] = []
            heard.reserveCapacity(out.count)
            for start in stride(from: 0, to: out.count - 959, by: 960) {
                let packet = try encoder.encode(Array(out[start..<start + 960]))
                let n = try packet.withUnsafeBytes { p in try frame.withUnsafeMutableBufferPointer { try hall.decode(p, into: $0) } }
                heard += frame[0..<n]
            }
            out = heard
        }
        try WAVFile.write(out, to: outPath)
        let s = jitter.statistics
        let sorted = delays.sorted()
        let median = sorted.isEmpty ? 0 : sorted[sorted.count / 2]
        let p95 = sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, sorted.count * 95 / 100)]
        print(String(format: "played=%d fec=%d concealed=%d dtx=%d late=%d dropped=%d inserted=%d target=%d delay_median_ms=%.1f delay_p95_ms=%.1f",
                     s.framesPlayed, s.framesRecoveredByFEC, s.framesConcealed, s.framesDTX, s.packetsLate,
                     s.framesDroppedForAcceleration, s.framesInsertedForDeceleration, Int(s.targetDelayMilliseconds), median, p95))
    } catch {
        fail("\(error)")
    }
}
