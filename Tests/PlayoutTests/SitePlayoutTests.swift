import AudioSignal
import JitterBuffer
import Testing
@testable import Playout

/// A talker who never pauses, through the real jitter buffer and a `SitePlayout`: the delay a
/// network stall leaves behind is shed by accelerating speech, where the jitter buffer alone would
/// keep it (it drops frames only in pauses).
@Suite struct SitePlayoutTests {
    /// 150 Hz voiced audio: a 20 ms frame holds exactly three periods, so every frame is the same
    /// and a packet's "decoding" is a copy (a listener hears one steady voiced sound).
    static let frame = Signals.voiced(count: 960, fundamental: 150)

    struct Run {
        var delayMilliseconds: [Int] = []  // per tick: jitter buffer + FIFO
        var targetMilliseconds: [Int] = []
        var heard: [Int16] = []
        var removed = 0
        var inserted = 0
        var largestBuffered = 0
        var concealed = 0
        var late = 0
    }

    /// Plays `ticks` ticks of a stream whose packets take 30 ms, except those of a stall: every
    /// `stallEvery` ticks the network holds packets for `stallMilliseconds` and then delivers them at once.
    static func run(ticks: Int, stallEvery: Int, stallMilliseconds: Int, keepAudio: Bool, stretching: Bool = true) -> Run {
        let buffer = JitterBuffer()
        let playout = SitePlayout()
        playout.stretching = stretching
        var run = Run()
        var out = [Int16](repeating: 0, count: 960)
        var sent = 0
        var pending: [(arrival: Int, sequence: Int)] = []  // at most a stall's worth
        var payload: [UInt8] = [0x78, 0x00, 0x00]  // any voice payload: the test "decodes" by copying `frame`
        for tick in 0..<ticks {
            let now = tick * 20
            // The sender's packet for this tick, and when the network delivers it.
            let stallStart = (sent / stallEvery) * stallEvery * 20 + 10_000
            let inStall = sent * 20 >= stallStart && sent * 20 < stallStart + stallMilliseconds
            pending.append((arrival: inStall ? stallStart + stallMilliseconds + 30 : sent * 20 + 30, sequence: sent))
            sent += 1
            while let first = pending.first, first.arrival <= now {
                pending.removeFirst()
                payload[1] = UInt8(truncatingIfNeeded: first.sequence)
                payload.withUnsafeBytes { bytes in
                    buffer.insert(sequence: UInt16(truncatingIfNeeded: first.sequence), timestamp: UInt32(truncatingIfNeeded: first.sequence * 960),
                                  ssrc: 7, payload: bytes, voiceActivity: true, arrival: Int64(first.arrival) * 1_000_000)
                }
            }
            // Decode what the playout needs, then play one frame, as the bridge's media thread does:
            // a frame unless a whole one waits, and one more, taken early, when the playout is to shed
            // delay and the jitter buffer has it.
            let target = Int(buffer.statistics.targetDelayMilliseconds) * 48
            func level() -> Int { Int(buffer.bufferedMilliseconds) * 48 + playout.buffered }
            func take() {
                switch buffer.nextFrame(now: Int64(now) * 1_000_000, downstreamSamples: playout.buffered) {
                case .packet, .fec, .conceal: frame.withUnsafeBufferPointer { _ = playout.append($0) }
                case .waiting: break
                }
            }
            if playout.buffered < SitePlayout.frameSamples { take() }
            if playout.needsFrame(target: target), buffer.bufferedMilliseconds >= JitterBuffer.frameMilliseconds { take() }
            out.withUnsafeMutableBufferPointer { playout.play(into: $0, level: level(), target: target) }
            // The site's delay as the frame just played left it: what waits in both stages, plus that frame.
            run.delayMilliseconds.append(Int(buffer.bufferedMilliseconds) + (playout.buffered + 960) / 48)
            run.targetMilliseconds.append(Int(buffer.statistics.targetDelayMilliseconds))
            run.largestBuffered = max(run.largestBuffered, playout.buffered)
            if keepAudio { run.heard += out }
        }
        run.concealed = buffer.statistics.framesConcealed
        run.late = buffer.statistics.packetsLate
        run.removed = playout.removedSamplesForAcceleration
        run.inserted = playout.insertedSamplesForDeceleration
        return run
    }
}

extension SitePlayoutTests {
    static func median(_ values: ArraySlice<Int>) -> Int { values.sorted()[values.count / 2] }

    /// A 120 ms stall 10 s in: the delay it leaves is shed within seconds by accelerating speech, at
    /// the same pitch and without a click; without stretching it stays.
    @Test func delayLeftByAStallIsShedInSpeechWithoutAClick() throws {
        let ticks = 1_000  // 20 s
        let stretched = Self.run(ticks: ticks, stallEvery: 100_000, stallMilliseconds: 120, keepAudio: true)
        let plain = Self.run(ticks: ticks, stallEvery: 100_000, stallMilliseconds: 120, keepAudio: false, stretching: false)
        let lastSecond = (ticks - 50)..<ticks
        let before = Self.median(stretched.delayMilliseconds[400..<500])
        let after = Self.median(stretched.delayMilliseconds[lastSecond])
        let plainAfter = Self.median(plain.delayMilliseconds[lastSecond])
        let target = Self.median(stretched.targetMilliseconds[lastSecond])
        print("delay before \(before) ms, after \(after) ms (target \(target)), without stretching \(plainAfter) ms; removed \(stretched.removed), inserted \(stretched.inserted); concealed \(stretched.concealed) (\(plain.concealed) without), late \(stretched.late) (\(plain.late))")
        #expect(stretched.removed > 0)
        // Shedding delay does not drain the jitter buffer into concealment or late packets: the stall
        // costs about what it costs without stretching (sitting nearer the target may cost a frame more).
        #expect(stretched.concealed <= plain.concealed + 2)
        #expect(stretched.late <= plain.late + 2)
        #expect(after >= target - 20, "delay \(after) ms against a target of \(target) ms")
        #expect(after <= target + 20, "delay \(after) ms against a target of \(target) ms")
        #expect(plainAfter > after + 40, "without stretching: \(plainAfter) ms")
        // From half a second after the stall on, the listener hears the same 150 Hz voice, no click.
        let heard = Array(stretched.heard[(525 * 960)...])
        let voiced = try #require(Tone.dominant(among: Signals.semitones(around: 150), in: heard))
        #expect(voiced.frequency == 150)
        #expect(Signals.largestStep(heard) <= Signals.largestStep(Self.frame) + 2)
        #expect(Signals.loudestWindowRMS(heard) <= Signals.loudestWindowRMS(Self.frame) * 1.02)
    }

    /// An hour with a 100 ms stall every minute: every stall's delay is shed before the next, the FIFO
    /// never holds more than its fixed capacity, and the delay does not drift.
    @Test func anHourOfStallsLeavesNoDriftAndNoGrowth() {
        let ticks = 180_000
        let run = Self.run(ticks: ticks, stallEvery: 3_000, stallMilliseconds: 100, keepAudio: false)
        #expect(run.largestBuffered <= SitePlayout.capacity)
        var worst = 0
        for minute in 1..<(ticks / 3_000) {
            // The last 5 s before each minute's stall.
            let end = minute * 3_000 + 500  // stalls start 10 s into each minute
            let settled = Self.median(run.delayMilliseconds[(end - 250)..<end]) - Self.median(run.targetMilliseconds[(end - 250)..<end])
            worst = max(worst, settled)
        }
        print("an hour: worst settled delay above target \(worst) ms; removed \(run.removed), inserted \(run.inserted); concealed \(run.concealed), late \(run.late)")
        #expect(run.concealed <= 60 * 10, "concealed \(run.concealed) frames in 60 stalls")
        #expect(worst <= 20)
        let first = Self.median(run.delayMilliseconds[2_250..<2_500])
        let last = Self.median(run.delayMilliseconds[(ticks - 2_750)..<(ticks - 2_500)])
        #expect(abs(last - first) <= 10, "settled delay \(first) ms in the first minute, \(last) ms in the last")
    }
}
