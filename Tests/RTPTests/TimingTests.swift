import Testing
@testable import RTP

@Suite("Sequence and timing arithmetic")
struct TimingTests {
    @Test func sequenceNumbersCompareAcrossWrap() {
        #expect(Wrapping.isNewerSequence(0, than: 65535))
        #expect(!Wrapping.isNewerSequence(65535, than: 0))
        #expect(Wrapping.sequenceDistance(from: 65530, to: 4) == 10)
        #expect(Wrapping.sequenceDistance(from: 4, to: 65530) == -10)
        #expect(!Wrapping.isNewerSequence(7, than: 7))
        #expect(Wrapping.isNewerSequence(0x7FFF, than: 0))
        #expect(!Wrapping.isNewerSequence(0x8001, than: 0))
        #expect(Wrapping.isLaterTimestamp(5, than: UInt32.max - 5))
        #expect(!Wrapping.isLaterTimestamp(UInt32.max - 5, than: 5))
        #expect(Wrapping.timestampDistance(from: UInt32.max, to: 959) == 960)
    }

    @Test func probationThenCountsWithExtendedSequence() {
        var s = RTPSourceStatistics(firstSequence: 65534)
        #expect(s.update(sequence: 65534) == .probation)
        #expect(s.update(sequence: 65535) == .valid)
        #expect(s.update(sequence: 0) == .valid)
        #expect(s.update(sequence: 1) == .valid)
        #expect(s.cycles == 65536)
        #expect(s.extendedHighestSequence == 65537)
        #expect(s.received == 3)
        #expect(s.expected == 3)
        #expect(s.cumulativeLost == 0)
    }

    @Test func probationRestartsOnANonSequentialPacket() {
        var s = RTPSourceStatistics(firstSequence: 10)
        #expect(s.update(sequence: 10) == .probation)
        #expect(s.update(sequence: 50) == .probation)
        #expect(s.update(sequence: 51) == .valid)
        #expect(s.baseSequence == 51)
    }

    @Test func jumpPastMaxDropoutRestartsOnlyWhenConfirmed() {
        var s = RTPSourceStatistics(firstSequence: 1000)
        _ = s.update(sequence: 1000)
        _ = s.update(sequence: 1001)
        #expect(s.update(sequence: 1002) == .valid)
        // A jump of 3000 or more is not trusted on its own...
        #expect(s.update(sequence: 1002 + 3000) == .badSequence)
        #expect(s.extendedHighestSequence == 1002)
        // ...an ordinary packet in between keeps the old stream...
        #expect(s.update(sequence: 1003) == .valid)
        // ...and when the packet after the jump follows it, the source restarted.
        #expect(s.update(sequence: 9000) == .badSequence)
        #expect(s.update(sequence: 9001) == .restarted)
        #expect(s.baseSequence == 9001)
        #expect(s.received == 1)
        #expect(s.update(sequence: 9002) == .valid)
        #expect(s.expected == 2)
    }

    @Test func lossFromAHandComputedTrace() {
        var s = RTPSourceStatistics(firstSequence: 100)
        // 100 completes nothing (probation), 101 ends probation: base 101.
        let verdicts = [100, 101, 102, 104, 105, 103, 106, 106, 108].map { s.update(sequence: UInt16($0)) }
        #expect(verdicts == [.probation, .valid, .valid, .valid, .valid, .valid, .valid, .valid, .valid])
        // Received 8 (101-106, 106 again, 108); expected 108 - 101 + 1 = 8: the duplicate hides 107.
        #expect(s.received == 8)
        #expect(s.expected == 8)
        #expect(s.cumulativeLost == 0)
        #expect(s.takeFractionLost() == 0)
        _ = s.update(sequence: 110)
        _ = s.update(sequence: 111)
        // Interval: expected 3 (109-111), received 2, lost 1: (1 << 8) / 3 = 85.
        #expect(s.cumulativeLost == 1)
        #expect(s.takeFractionLost() == 85)
        #expect(s.takeFractionLost() == 0)
        let block = s.makeReportBlock(ssrc: 9, lastSenderReport: 0x10000, delaySinceLastSenderReport: 0x8000)
        #expect(block.cumulativeLost == 1 && block.extendedHighestSequence == 111 && block.lastSenderReport == 0x10000)
    }

    @Test func cumulativeLossClampsTo24Bits() {
        var s = RTPSourceStatistics(firstSequence: 0)
        _ = s.update(sequence: 0)
        _ = s.update(sequence: 1)
        // Advance 2999 at a time through 2^24 sequence numbers, receiving one packet per step.
        var seq: UInt16 = 1
        for _ in 0..<(0x100_0000 / 2999 + 10) {
            seq &+= 2999
            _ = s.update(sequence: seq)
        }
        #expect(s.expected > 0x80_0000)
        #expect(s.cumulativeLost == 0x7F_FFFF)
    }

    @Test func jitterFollowsRFC3550Exactly() {
        var s = RTPSourceStatistics(firstSequence: 0)
        // (RTP timestamp, arrival) in timestamp units. Transits: 1000, 1020, 980, 1000.
        let trace: [(UInt32, UInt32)] = [(0, 1000), (960, 1980), (1920, 2900), (2880, 3880)]
        var expected = 0.0
        var previousTransit: Double? = nil
        for (ts, arrival) in trace {
            s.updateJitter(arrival: arrival, rtpTimestamp: ts)
            let transit = Double(arrival) - Double(ts)
            if let previousTransit { expected += (abs(transit - previousTransit) - expected) / 16 }
            previousTransit = transit
        }
        #expect(expected == 4.6923828125)  // 1.25, 3.671875, 4.6923828125 by hand
        #expect(s.jitter == expected)
        #expect(s.reportedJitter == 4)
    }

    @Test func jitterSurvivesTimestampWrap() {
        var s = RTPSourceStatistics(firstSequence: 0)
        // Arrival 2^32 - 100 and timestamp 2^32 - 1100: transit 1000. Then arrival wraps to 20 and the
        // timestamp is 2^32 - 940: transit 960, |D| = 40, J = 40 / 16 = 2.5.
        s.updateJitter(arrival: UInt32.max - 99, rtpTimestamp: UInt32.max - 1099)
        s.updateJitter(arrival: 20, rtpTimestamp: UInt32.max - 939)
        #expect(s.jitter == 2.5)
    }

    @Test func ntpConversions() {
        let epoch = NTPTimestamp(unixSeconds: 0, nanoseconds: 0)
        #expect(epoch.seconds == 2_208_988_800 && epoch.fraction == 0)
        let half = NTPTimestamp(unixSeconds: 1_800_000_000, nanoseconds: 500_000_000)
        #expect(half.fraction == 0x8000_0000)
        #expect(half.seconds == UInt32(1_800_000_000 + 2_208_988_800))
        #expect(NTPTimestamp(seconds: 0x1234_5678, fraction: 0x9ABC_DEF0).compact == 0x5678_9ABC)
        #expect(CompactNTP.units(nanoseconds: 1_500_000_000) == 0x0001_8000)
        #expect(CompactNTP.seconds(0x0000_8000) == 0.5)
    }

    @Test func roundTripTimeFromAReportBlock() {
        // Arrival 5 s, SR sent at 3 s, held 1.5 s by the receiver: RTT 0.5 s.
        #expect(CompactNTP.roundTrip(arrival: 0x0005_0000, lastSenderReport: 0x0003_0000,
                                     delaySinceLastSenderReport: 0x0001_8000) == 0x8000)
        #expect(CompactNTP.roundTrip(arrival: 0x0005_0000, lastSenderReport: 0, delaySinceLastSenderReport: 0) == nil)
        #expect(CompactNTP.roundTrip(arrival: 0x0005_0000, lastSenderReport: 0x0004_0000,
                                     delaySinceLastSenderReport: 0x0002_0000) == nil)
        // Across the 16-bit seconds wrap of the compact form.
        #expect(CompactNTP.roundTrip(arrival: 0x0000_8000, lastSenderReport: 0xFFFF_0000,
                                     delaySinceLastSenderReport: 0x0001_0000) == 0x8000)
    }
}
