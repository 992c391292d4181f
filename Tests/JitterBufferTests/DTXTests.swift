import Testing
@testable import JitterBuffer

/// Discontinuous transmission as Opus, browsers and room systems send it: in silence, one small
/// packet every 400 ms, sequence numbers consecutive, timestamps jumping.
@Suite("Jitter buffer: silence is not loss")
struct DTXTests {
    /// A talker that speaks for `talkFrames`, then sends DTX for `silentFrames`, repeatedly;
    /// packets whose sequence number is in `lost` never arrive. Every packet takes 30 ms.
    static func dtxStream(cycles: Int, talkFrames: Int, silentFrames: Int, lost: Set<UInt16> = []) -> [Simulation.Packet] {
        var packets: [Simulation.Packet] = []
        var sequence: UInt16 = 65_000  // and across the wrap
        var frame = 0
        for _ in 0..<cycles {
            for i in 0..<(talkFrames + silentFrames) {
                let silent = i >= talkFrames
                if !silent || (i - talkFrames) % 20 == 0 {  // a DTX packet every 20 frames (400 ms)
                    if !lost.contains(sequence) {
                        packets.append(Simulation.Packet(sequence: sequence, timestamp: 5000 &+ UInt32(frame * 960),
                                                         voice: !silent, arrivalMs: Double(frame) * 20 + 30))
                    }
                    sequence &+= 1
                }
                frame += 1
            }
        }
        return packets
    }

    /// Runs the stream and checks after every tick that the concealment counter never goes back.
    static func play(_ packets: [Simulation.Packet], ticks: Int) -> (JitterBuffer, [Int]) {
        let buffer = JitterBuffer()
        var concealed: [Int] = []
        var next = 0
        for tick in 0..<ticks {
            let now = Double(tick) * 20
            while next < packets.count && packets[next].arrivalMs <= now {
                let p = packets[next]
                [UInt8](repeating: 0x55, count: p.voice ? 60 : 1).withUnsafeBytes {
                    buffer.insert(sequence: p.sequence, timestamp: p.timestamp, ssrc: 7, payload: $0, voiceActivity: p.voice,
                                  arrival: Int64(p.arrivalMs * 1_000_000))
                }
                next += 1
            }
            _ = buffer.nextFrame(now: Int64(now * 1_000_000))
            concealed.append(buffer.statistics.framesConcealed)
        }
        return (buffer, concealed)
    }

    @Test func aSiteSilentMostOfTheTimeShowsNoConcealmentAtAnyMoment() {
        // Ten minutes: 1 s of speech, then 9 s of DTX, over and over.
        let packets = Self.dtxStream(cycles: 60, talkFrames: 50, silentFrames: 450)
        let (buffer, concealed) = Self.play(packets, ticks: 30_000)
        #expect(concealed.allSatisfy { $0 == 0 }, "concealment seen at some moment: max \(concealed.max() ?? 0)")
        #expect(buffer.statistics.framesDTX > 20_000)
        #expect(buffer.statistics.framesPlayed >= packets.count - 2)
    }

    @Test func aLostDTXPacketIsOneConcealedFrameNotTheWholePause() {
        // Every third DTX packet of each pause lost, and one speech packet per cycle.
        var lost: Set<UInt16> = []
        var sequence: UInt16 = 65_000
        for _ in 0..<30 {
            lost.insert(sequence &+ 10)  // speech
            sequence &+= 50
            for k in 0..<23 {
                if k % 3 == 2 { lost.insert(sequence) }
                sequence &+= 1
            }
        }
        let packets = Self.dtxStream(cycles: 30, talkFrames: 50, silentFrames: 450, lost: lost)
        let (buffer, concealed) = Self.play(packets, ticks: 15_000)
        #expect(zip(concealed, concealed.dropFirst()).allSatisfy { $0 <= $1 }, "the concealment counter went back")
        // Each lost packet is one frame (rebuilt from the next packet's FEC where that is the next frame, or
        // concealed, with at most 3 frames waited for it), never a 400 ms pause.
        let lostInRun = lost.count - 1  // the last pause's final loss may not be settled within the run
        #expect(buffer.statistics.framesConcealed + buffer.statistics.framesRecoveredByFEC >= lostInRun)
        #expect(buffer.statistics.framesConcealed <= 4 * lost.count, "\(buffer.statistics.framesConcealed) for \(lost.count) lost")
    }

    @Test func framesWaitedForAStalledLinkAreNeverDTX() {
        // Continuous speech for 30 s; every 10 s the link stalls for 400 ms and then delivers what it held at once.
        var packets = Simulation.stream(frames: 1500)
        for i in packets.indices {
            let sent = Double(i) * 20
            let phase = sent.truncatingRemainder(dividingBy: 10_000)
            if phase >= 5_000 && phase < 5_400 { packets[i].arrivalMs = sent - phase + 5_400 + 30 }
        }
        let (buffer, concealed) = Self.play(packets.sorted { $0.arrivalMs < $1.arrivalMs }, ticks: 1560)
        #expect(buffer.statistics.framesDTX == 0, "a sender that never paused: \(buffer.statistics)")
        #expect((concealed.last ?? 0) > 0)
        #expect(zip(concealed, concealed.dropFirst()).allSatisfy { $0 <= $1 })
    }
}

extension DTXTests {
    /// A talker whose encoder sends nothing at all in silence (as the reference endpoint and many
    /// browsers do): when speech comes back, its first packet plays at the first tick after it
    /// arrives, so every talk spurt starts at the target delay. (The buffer used to conceal one more
    /// frame of the pause first, and the spurt kept that 20 ms as extra delay to its end.)
    @Test func aTalkSpurtAfterSilenceStartsAtTheTargetDelay() {
        let buffer = JitterBuffer()
        var packets: [DTXTests.Spurt] = []
        var sequence: UInt16 = 65_500  // and across the wrap
        for cycle in 0..<20 {
            for i in 0..<50 {  // 1 s of speech, then 600 ms of nothing
                let frame = cycle * 80 + i
                packets.append(Spurt(sequence: sequence, timestamp: 7_000 &+ UInt32(frame * 960), arrivalMs: frame * 20 + 33, first: i == 0))
                sequence &+= 1
            }
        }
        var next = 0
        var waits: [Int] = []  // per spurt: from its first packet's arrival to the tick that played it
        for tick in 0..<(20 * 80 + 50) {
            let now = tick * 20
            while next < packets.count && packets[next].arrivalMs <= now {
                let p = packets[next]
                withUnsafeBytes(of: p.sequence.bigEndian) { bytes in
                    buffer.insert(sequence: p.sequence, timestamp: p.timestamp, ssrc: 9, payload: bytes, voiceActivity: true,
                                  arrival: Int64(p.arrivalMs) * 1_000_000)
                }
                next += 1
            }
            if case .packet(let payload) = buffer.nextFrame(now: Int64(now) * 1_000_000) {
                let played = UInt16(payload[0]) << 8 | UInt16(payload[1])
                if let spurt = packets.first(where: { $0.first && $0.sequence == played }) { waits.append(now - spurt.arrivalMs) }
            }
        }
        let target = Int(buffer.statistics.targetDelayMilliseconds)
        #expect(waits.count == 20)
        // Packets arrive 7 ms before a tick: a spurt's first plays at the tick that leaves the target
        // (rounded up to whole frames, counting the frame played) buffered: 7 ms plus the frames above one.
        let rounded = (target + 19) / 20 * 20
        #expect(waits.dropFirst().allSatisfy { $0 <= rounded - 13 }, "waits \(waits) with a target of \(target) ms")
        #expect(buffer.statistics.framesConcealed == 0)
    }

    struct Spurt {
        var sequence: UInt16
        var timestamp: UInt32
        var arrivalMs: Int
        var first: Bool
    }
}
