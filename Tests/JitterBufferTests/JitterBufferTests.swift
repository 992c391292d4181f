import Testing
@testable import JitterBuffer

/// A simulated sender and network: packets with arrival times, played by 20 ms ticks.
struct Simulation {
    struct Packet {
        var sequence: UInt16
        var timestamp: UInt32
        var voice: Bool
        var arrivalMs: Double
    }

    enum Played: Equatable {
        case waiting, packet(UInt16), fec(UInt16), conceal
    }

    /// Packets for `frames` frames from `firstSequence`/`firstTimestamp`, sent every `periodMs`
    /// (20 for an exact sender clock) with a per-packet network delay.
    static func stream(frames: Int, firstSequence: UInt16 = 100, firstTimestamp: UInt32 = 5000, periodMs: Double = 20,
                       voice: (Int) -> Bool = { _ in true }, delayMs: (Int) -> Double = { _ in 30 }) -> [Packet] {
        (0..<frames).map { i in
            Packet(sequence: firstSequence &+ UInt16(truncatingIfNeeded: i),
                   timestamp: firstTimestamp &+ UInt32(truncatingIfNeeded: i * 960),
                   voice: voice(i), arrivalMs: Double(i) * periodMs + delayMs(i))
        }
    }

    /// Feeds packets in arrival order and ticks every 20 ms from 0 for `ticks` ticks.
    static func run(_ buffer: JitterBuffer, _ packets: [Packet], ticks: Int, ssrc: UInt32 = 0xABCD) -> [Played] {
        let ordered = packets.sorted { $0.arrivalMs < $1.arrivalMs }
        var next = 0
        var played: [Played] = []
        for tick in 0..<ticks {
            let now = Double(tick) * 20
            while next < ordered.count && ordered[next].arrivalMs <= now {
                let p = ordered[next]
                // The payload carries the sequence number, so we can tell what was played.
                let payload: [UInt8] = p.voice ? [UInt8(p.sequence >> 8), UInt8(p.sequence & 0xFF), 0xAA, 0xBB] : [UInt8(p.sequence >> 8), UInt8(p.sequence & 0xFF), 0xCC]
                payload.withUnsafeBytes {
                    buffer.insert(sequence: p.sequence, timestamp: p.timestamp, ssrc: ssrc, payload: $0,
                                  voiceActivity: p.voice, arrival: Int64(p.arrivalMs * 1_000_000))
                }
                next += 1
            }
            switch buffer.nextFrame(now: Int64(now * 1_000_000)) {
            case .waiting: played.append(.waiting)
            case .packet(let b): played.append(.packet(UInt16(b[0]) << 8 | UInt16(b[1])))
            case .fec(let b): played.append(.fec(UInt16(b[0]) << 8 | UInt16(b[1])))
            case .conceal: played.append(.conceal)
            }
        }
        return played
    }
}

@Suite("Jitter buffer")
struct JitterBufferTests {
    @Test func aSteadyStreamPlaysEveryPacketInOrder() {
        let buffer = JitterBuffer()
        let played = Simulation.run(buffer, Simulation.stream(frames: 100), ticks: 102)
        let packets = played.compactMap { if case .packet(let s) = $0 { s } else { nil } }
        #expect(packets == (0..<packets.count).map { 100 + UInt16($0) })
        #expect(packets.count >= 95)
        #expect(buffer.statistics.framesConcealed == 0 && buffer.statistics.packetsLate == 0)
        #expect(buffer.statistics.targetDelayMilliseconds <= 45)
    }

    @Test func reorderingInsideTheTargetLosesNothing() {
        let buffer = JitterBuffer(configuration: { var c = JitterBufferConfiguration(); c.minimumDelayMilliseconds = 80; return c }())
        // Every pair swapped: packet 2k+1 (30 ms of delay) overtakes packet 2k (65 ms).
        let packets = Simulation.stream(frames: 200, delayMs: { i in i % 2 == 0 ? 65 : 30 })
        let played = Simulation.run(buffer, packets, ticks: 204)
        let sequences = played.compactMap { if case .packet(let s) = $0 { s } else { nil } }
        #expect(sequences.count >= 190)
        #expect(sequences == sequences.sorted())
        #expect(buffer.statistics.packetsReordered > 90)
        #expect(buffer.statistics.framesConcealed == 0)
        #expect(buffer.statistics.packetsLate == 0)
    }

    @Test func aLatePacketIsCountedConcealedAndRaisesTheTarget() {
        let buffer = JitterBuffer()
        // Packet 60 arrives 300 ms late.
        let packets = Simulation.stream(frames: 120, delayMs: { i in i == 60 ? 330 : 30 })
        let before = Simulation.run(buffer, Array(packets.prefix(55)), ticks: 0)
        #expect(before.isEmpty)
        let played = Simulation.run(buffer, packets, ticks: 122)
        #expect(buffer.statistics.packetsLate == 1)
        #expect(!played.contains(.packet(160)))
        // Packet 161 was already there: 160 is rebuilt from its FEC at once.
        #expect(played.contains(.fec(161)))
        #expect(buffer.statistics.framesRecoveredByFEC == 1)
        #expect(buffer.statistics.targetDelayMilliseconds >= 250)
    }

    @Test func aDTXGapIsNotLoss() {
        let buffer = JitterBuffer()
        // 50 frames of speech, then the sender stops for 30 frames (DTX: no packets, timestamps
        // skip ahead, sequence numbers continue), then speech again.
        var packets = Simulation.stream(frames: 50)
        packets += Simulation.stream(frames: 50, firstSequence: 150, firstTimestamp: 5000 &+ 80 * 960).map { p in
            var q = p
            q.arrivalMs += 80 * 20
            return q
        }
        let played = Simulation.run(buffer, packets, ticks: 132)
        #expect(buffer.statistics.framesDTX >= 29)
        #expect(buffer.statistics.framesConcealed == 0)
        #expect(played.filter { if case .packet = $0 { true } else { false } }.count >= 95)
    }

    @Test func aLostFrameIsRebuiltFromTheNextPacketsFEC() {
        let buffer = JitterBuffer()
        var packets = Simulation.stream(frames: 60)
        packets.remove(at: 30)  // sequence 130 never arrives
        let played = Simulation.run(buffer, packets, ticks: 62)
        #expect(played.contains(.fec(131)))
        #expect(played.contains(.packet(131)))
        #expect(buffer.statistics.framesRecoveredByFEC == 1)
        #expect(buffer.statistics.framesConcealed == 0)
        // Two in a row: the first has no next packet to rebuild from, so it is concealed.
        let second = JitterBuffer()
        var twoLost = Simulation.stream(frames: 60)
        twoLost.removeSubrange(30...31)
        let played2 = Simulation.run(second, twoLost, ticks: 62)
        #expect((1...2).contains(second.statistics.framesConcealed))
        #expect(played2.contains(.fec(132)))
    }

    @Test func theTargetRisesUnderJitterAndFallsAfter() {
        let buffer = JitterBuffer()
        // Calm, then 20 s of delays spread over 0-100 ms, then 60 s of calm again.
        var state: UInt64 = 7
        func random() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) / Double(1 << 53)
        }
        let packets = Simulation.stream(frames: 5000, delayMs: { i in
            (250..<1250).contains(i) ? 20 + 100 * random() : 20
        })
        var targets: [Int64] = []
        var fed: [Simulation.Packet] = []
        // Run in steps to sample the target.
        let all = packets.sorted { $0.arrivalMs < $1.arrivalMs }
        var next = 0
        for tick in 0..<5000 {
            let now = Double(tick) * 20
            while next < all.count && all[next].arrivalMs <= now {
                fed.append(all[next])
                let p = all[next]
                [UInt8(0), 1, 2, 3].withUnsafeBytes {
                    buffer.insert(sequence: p.sequence, timestamp: p.timestamp, ssrc: 1, payload: $0, voiceActivity: tick % 150 < 100,
                                  arrival: Int64(p.arrivalMs * 1_000_000))
                }
                next += 1
            }
            _ = buffer.nextFrame(now: Int64(now * 1_000_000))
            if tick % 250 == 0 { targets.append(buffer.statistics.targetDelayMilliseconds) }
        }
        let calm = targets[0]
        let stormy = targets[4]  // 20 s in: 15 s into the jitter
        let after = targets.last!
        #expect(calm <= 45)
        #expect(stormy >= 90, "target under jitter: \(stormy)")
        #expect(after < stormy - 30, "target a minute after calm returned: \(after)")
        // It fell slowly, not at once: 2 s after the storm it is still high.
        #expect(targets[6] >= stormy - 20)
    }

    @Test("a sender clock off by 100 ppm for an hour neither grows nor starves the buffer", arguments: [-100.0, 100.0])
    func clockDrift(ppm: Double) {
        let buffer = JitterBuffer()
        let frames = 180_000  // one hour
        let period = 20 * (1 - ppm / 1_000_000)  // a fast sender clock sends more often
        // Talk spurts: 4 s of speech, 1 s of pause.
        let packets = Simulation.stream(frames: frames, periodMs: period, voice: { ($0 / 50) % 5 != 4 }, delayMs: { _ in 30 })
        var maxDelay: Int64 = 0
        let ordered = packets
        var next = 0
        var concealedAtTenMinutes = 0
        // Until the last packet has arrived (after that the sender has simply stopped).
        for tick in 0..<Int(ordered.last!.arrivalMs / 20) {
            let now = Double(tick) * 20
            while next < ordered.count && ordered[next].arrivalMs <= now {
                let p = ordered[next]
                [UInt8(1), 2, 3].withUnsafeBytes {
                    buffer.insert(sequence: p.sequence, timestamp: p.timestamp, ssrc: 9, payload: $0, voiceActivity: p.voice,
                                  arrival: Int64(p.arrivalMs * 1_000_000))
                }
                next += 1
            }
            _ = buffer.nextFrame(now: Int64(now * 1_000_000))
            if tick > 1000 { maxDelay = max(maxDelay, buffer.statistics.currentDelayMilliseconds) }
            if tick == 30_000 { concealedAtTenMinutes = buffer.statistics.framesConcealed }
        }
        // 100 ppm is 360 ms an hour: without adaptation the buffer would grow or run dry by that much.
        #expect(maxDelay <= 120, "buffered up to \(maxDelay) ms")
        #expect(buffer.statistics.framesConcealed - concealedAtTenMinutes <= 10)
        let adjustments = ppm > 0 ? buffer.statistics.framesDroppedForAcceleration : buffer.statistics.framesInsertedForDeceleration
        #expect(adjustments >= 15, "adjustments: \(adjustments)")
    }

    @Test func sequenceAndTimestampWrap() {
        let buffer = JitterBuffer()
        let packets = Simulation.stream(frames: 100, firstSequence: 65500, firstTimestamp: UInt32.max - 960 * 40)
        let played = Simulation.run(buffer, packets, ticks: 102)
        let sequences = played.compactMap { if case .packet(let s) = $0 { s } else { nil } }
        #expect(sequences.count >= 95)
        #expect(sequences.contains(65535) && sequences.contains(0))
        #expect(buffer.statistics.framesConcealed == 0 && buffer.statistics.resets == 0)
    }

    @Test func duplicatesAreCountedAndAnSSRCChangeRestarts() {
        let buffer = JitterBuffer()
        var packets = Simulation.stream(frames: 50)
        packets.append(contentsOf: packets[10..<15].map { var p = $0; p.arrivalMs += 5; return p })
        _ = Simulation.run(buffer, packets, ticks: 60)
        #expect(buffer.statistics.packetsDuplicated == 5)
        let restarted = Simulation.stream(frames: 50, firstSequence: 7, firstTimestamp: 123_456).map { p in
            var q = p
            q.arrivalMs += 1300
            return q
        }
        let played = Simulation.run(buffer, restarted, ticks: 140, ssrc: 0x5555)
        #expect(buffer.statistics.resets == 1)
        #expect(played.contains(.packet(7)) && played.contains(.packet(50)))
    }
}

@Suite("Jitter buffer: a sender whose timeline moves back")
struct JitterBufferResyncTests {
    @Test func aSenderThatStallsAndGoesOnWhereItWasIsFollowedNotConcealedForever() {
        let buffer = JitterBuffer()
        // 600 frames on time; then the sender stops for 5 s and carries on with the next sequence
        // numbers and timestamps, as if no time had passed: every packet now arrives 5 s "late".
        let packets = Simulation.stream(frames: 1200, voice: { _ in false }, delayMs: { i in i < 600 ? 1 : 5001 })
        let played = Simulation.run(buffer, packets, ticks: 1400)
        // Once it has followed the sender again (within the first second after the stall), nothing is concealed.
        let after = played[(850 + 50)..<1400]
        #expect(after.filter { $0 == .conceal }.count == 0)
        #expect(buffer.statistics.resets == 1)
        #expect(buffer.statistics.packetsLate == JitterBuffer.lateRunBeforeResync)
        // The lateness was the timeline's, not the network's: the target is back to a steady stream's.
        #expect(buffer.statistics.targetDelayMilliseconds <= 40)
    }
}
