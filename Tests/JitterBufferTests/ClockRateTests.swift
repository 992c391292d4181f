import Testing
@testable import JitterBuffer

/// G.722 and G.711 streams count RTP time at 8 kHz (160 a frame); the buffer counts 48 kHz (960 a frame).
@Suite("8 kHz RTP clocks")
struct ClockRateTests {
    /// Packets as a G.722 room system sends them: 160 ticks a frame, starting 40 frames before the 32-bit wrap.
    static func stream8k(frames: Int, delayMs: (Int) -> Double = { _ in 30 }) -> [Simulation.Packet] {
        let first: UInt32 = 0 &- 40 * 160
        return (0..<frames).map { i in
            Simulation.Packet(sequence: 65_500 &+ UInt16(truncatingIfNeeded: i),
                              timestamp: JitterBuffer.timestamp48k(first &+ UInt32(i * 160), rtpClockRate: 8_000),
                              voice: true, arrivalMs: Double(i) * 20 + delayMs(i))
        }
    }

    @Test func theConversionScalesDistancesAcrossTheWrap() {
        // The frame just before the 8 kHz wrap and the one after it are one 48 kHz frame apart.
        let before = JitterBuffer.timestamp48k(UInt32.max - 159, rtpClockRate: 8_000)
        let after = JitterBuffer.timestamp48k(0, rtpClockRate: 8_000)
        #expect(after &- before == 960)
        #expect(JitterBuffer.timestamp48k(123_456, rtpClockRate: 48_000) == 123_456)
        #expect(JitterBuffer.timestamp48k(1000, rtpClockRate: 8_000) == 6000)
    }

    @Test func aStreamCrossingTheWrapPlaysEveryFrameInOrder() {
        let buffer = JitterBuffer()
        let played = Simulation.run(buffer, Self.stream8k(frames: 100), ticks: 104)
        let sequences = played.compactMap { if case .packet(let s) = $0 { s } else { nil } }
        #expect(sequences.count >= 95)
        #expect(sequences == (0..<sequences.count).map { 65_500 &+ UInt16($0) })
        #expect(buffer.statistics.resets == 0)
        #expect(buffer.statistics.framesConcealed == 0 && buffer.statistics.packetsLate == 0)
    }

    @Test func reorderingAcrossTheWrapLosesNothing() {
        let buffer = JitterBuffer(configuration: { var c = JitterBufferConfiguration(); c.minimumDelayMilliseconds = 80; return c }())
        let played = Simulation.run(buffer, Self.stream8k(frames: 100, delayMs: { i in i % 2 == 0 ? 65 : 30 }), ticks: 106)
        let sequences = played.compactMap { if case .packet(let s) = $0 { s } else { nil } }
        #expect(sequences.count >= 95)
        #expect(sequences == (0..<sequences.count).map { 65_500 &+ UInt16($0) })
        #expect(buffer.statistics.packetsReordered > 40)
        #expect(buffer.statistics.framesConcealed == 0 && buffer.statistics.resets == 0)
    }

    @Test func unconvertedEightKilohertzTimestampsWouldNotPlay() {
        // What the media thread did before: 160-tick steps given as they are collapse six frames into one slot.
        let buffer = JitterBuffer()
        let raw = Self.stream8k(frames: 60).enumerated().map { i, p in
            var q = p
            q.timestamp = (0 &- 40 * 160) &+ UInt32(i * 160)
            return q
        }
        let played = Simulation.run(buffer, raw, ticks: 64)
        let sequences = played.compactMap { if case .packet(let s) = $0 { s } else { nil } }
        #expect(sequences.count < 30)
    }
}
