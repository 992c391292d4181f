import AudioSignal
import Endpoint
import Foundation
import OpusCodec

// vcbridge-bench opus-floor --sent FILE --fate FILE --out WAV
//   The quality floor for Scripts/bench-quality.sh: the sender's own packets (from `vcbridge endpoint
//   --dump-sent`) after the impairment the relay applied to them (`vcbridge relay --fate-log`),
//   decoded straight by libopus with an ideal buffer: every delivered packet is played however late
//   it came; a lost one is rebuilt from the next packet's FEC when that one was delivered, else
//   concealed; silent (DTX) stretches are concealed as a receiver would.
func runOpusFloor(_ arguments: [String]) {
    guard let sentPath = option("--sent", in: arguments), let fatePath = option("--fate", in: arguments),
          let outPath = option("--out", in: arguments)
    else { fail("usage: vcbridge-bench opus-floor --sent FILE --fate FILE --out WAV") }
    guard let sentText = try? String(contentsOfFile: sentPath, encoding: .utf8),
          let fateText = try? String(contentsOfFile: fatePath, encoding: .utf8)
    else { fail("cannot read \(sentPath) or \(fatePath)") }
    let sent = sentText.split(separator: "\n").compactMap { AudioPacketRecord(line: $0) }
    let lost: [Bool] = fateText.split(separator: "\n").compactMap { line in
        let f = line.split(separator: " ")
        guard f.count == 3, f[1] == "rtp" else { return nil }
        return f[2] == "lost"
    }
    guard !sent.isEmpty, lost.count >= sent.count else {
        fail("the fate log has \(lost.count) RTP packets for \(sent.count) sent")
    }
    do {
        let decoder = try Opus.Decoder()
        var out: [Int16] = []
        var pcm = [Int16](repeating: 0, count: 960)
        var byTimestamp: [UInt32: Int] = [:]
        for (i, p) in sent.enumerated() { byTimestamp[p.timestamp] = i }
        var t = sent[0].timestamp
        let last = sent[sent.count - 1].timestamp
        var fec = 0, concealed = 0
        while t != last &+ 960 {
            let n: Int
            if let i = byTimestamp[t], !lost[i] {
                n = try sent[i].payload.withUnsafeBytes { p in try pcm.withUnsafeMutableBufferPointer { try decoder.decode(p, into: $0) } }
            } else if let i = byTimestamp[t], let next = byTimestamp[t &+ 960], !lost[next] {
                _ = i
                fec += 1
                n = try sent[next].payload.withUnsafeBytes { p in try pcm.withUnsafeMutableBufferPointer { try decoder.decodeFEC(from: p, into: $0) } }
            } else {
                if byTimestamp[t] != nil { concealed += 1 }
                n = try pcm.withUnsafeMutableBufferPointer { try decoder.conceal(into: $0) }
            }
            out += pcm[0..<n]
            t &+= 960
        }
        try WAVFile.write(out, to: outPath)
        print("frames=\(out.count / 960) lost=\(lost.prefix(sent.count).filter { $0 }.count) fec=\(fec) concealed=\(concealed)")
    } catch {
        fail("\(error)")
    }
}
