/// Reception state of one RTP source: RFC 3550 A.1 validation and extended sequence numbers,
/// A.3 loss accounting and A.8 interarrival jitter. Allocation-free.
public struct RTPSourceStatistics: Sendable {
    public static let maxDropout: UInt16 = 3000
    public static let maxMisorder: UInt16 = 100
    public static let minSequential: Int = 2
    private static let sequenceModulus: UInt32 = 1 << 16

    /// What ``update(sequence:)`` decided about a packet.
    public enum Verdict: Hashable, Sendable {
        /// In sequence or acceptably misordered/duplicated: count and use it.
        case valid
        /// The source has restarted (a large jump confirmed by a following packet): state was reset.
        case restarted
        /// Still on probation: not yet enough sequential packets to trust the source.
        case probation
        /// A jump too large to accept; if the next packet follows it, the source restarts.
        case badSequence
    }

    public private(set) var maxSequence: UInt16
    /// Sequence-number wrap count, shifted (RFC 3550 `cycles`).
    public private(set) var cycles: UInt32 = 0
    public private(set) var baseSequence: UInt32
    private var badSequence: UInt32 = sequenceModulus + 1
    public private(set) var probation: Int
    /// Packets received and accepted (duplicates included, as in RFC 3550).
    public private(set) var received: UInt32 = 0
    private var expectedPrior: UInt32 = 0
    private var receivedPrior: UInt32 = 0

    private var lastTransit: Int32 = 0
    private var hasTransit = false
    /// Interarrival jitter estimate, in timestamp units (RFC 3550 A.8, J += (|D| - J) / 16).
    public private(set) var jitter: Double = 0

    /// State for a new source whose first packet carries `firstSequence` (RFC 3550 A.1: the
    /// source is on probation until `minSequential` packets arrive in sequence).
    public init(firstSequence: UInt16) {
        maxSequence = firstSequence &- 1
        baseSequence = UInt32(firstSequence)
        probation = Self.minSequential
    }

    private mutating func reset(to sequence: UInt16) {
        baseSequence = UInt32(sequence)
        maxSequence = sequence
        badSequence = Self.sequenceModulus + 1
        cycles = 0
        received = 0
        receivedPrior = 0
        expectedPrior = 0
    }

    /// Feeds one packet's sequence number (RFC 3550 A.1 `update_seq`).
    public mutating func update(sequence: UInt16) -> Verdict {
        let delta = sequence &- maxSequence
        if probation > 0 {
            if sequence == maxSequence &+ 1 {
                probation -= 1
                maxSequence = sequence
                if probation == 0 {
                    reset(to: sequence)
                    received += 1
                    return .valid
                }
            } else {
                probation = Self.minSequential - 1
                maxSequence = sequence
            }
            return .probation
        } else if delta < Self.maxDropout {
            if sequence < maxSequence { cycles &+= Self.sequenceModulus }
            maxSequence = sequence
        } else if UInt32(delta) <= Self.sequenceModulus - UInt32(Self.maxMisorder) {
            if UInt32(sequence) == badSequence {
                reset(to: sequence)
                received += 1
                return .restarted
            }
            badSequence = (UInt32(sequence) + 1) & (Self.sequenceModulus - 1)
            return .badSequence
        } else {
            // Duplicate or reordered packet: counted, no change to the highest sequence.
        }
        received += 1
        return .valid
    }

    /// The highest sequence number received, extended with the wrap count.
    public var extendedHighestSequence: UInt32 { cycles &+ UInt32(maxSequence) }

    /// Packets expected so far: extended highest - base + 1 (A.3).
    public var expected: UInt32 { extendedHighestSequence &- baseSequence &+ 1 }

    /// Cumulative packets lost, clamped to the 24-bit signed range of report blocks (A.3).
    /// Negative when duplicates outnumber losses.
    public var cumulativeLost: Int32 {
        let lost = Int64(expected) - Int64(received)
        return Int32(max(-0x80_0000, min(0x7F_FFFF, lost)))
    }

    /// The fraction lost since the previous call, in 1/256 (A.3); starts a new interval.
    public mutating func takeFractionLost() -> UInt8 {
        let expectedNow = expected
        let expectedInterval = Int64(expectedNow) - Int64(expectedPrior)
        expectedPrior = expectedNow
        let receivedInterval = Int64(received) - Int64(receivedPrior)
        receivedPrior = received
        let lostInterval = expectedInterval - receivedInterval
        guard expectedInterval > 0, lostInterval > 0 else { return 0 }
        return UInt8(min(255, (lostInterval << 8) / expectedInterval))
    }

    /// Feeds one packet's arrival time and RTP timestamp, both in timestamp units (A.8).
    /// The first packet only sets the reference transit time.
    public mutating func updateJitter(arrival: UInt32, rtpTimestamp: UInt32) {
        let transit = Int32(bitPattern: arrival &- rtpTimestamp)
        defer {
            lastTransit = transit
            hasTransit = true
        }
        guard hasTransit else { return }
        let d = abs(Double(transit &- lastTransit))
        jitter += (d - jitter) / 16
    }

    /// The jitter as carried in a report block (timestamp units, truncated).
    public var reportedJitter: UInt32 { UInt32(jitter) }

    /// A report block for this source (the caller supplies the SR reference fields).
    public mutating func makeReportBlock(
        ssrc: UInt32, lastSenderReport: UInt32 = 0, delaySinceLastSenderReport: UInt32 = 0
    ) -> ReportBlock {
        ReportBlock(
            ssrc: ssrc, fractionLost: takeFractionLost(), cumulativeLost: cumulativeLost,
            extendedHighestSequence: extendedHighestSequence, jitter: reportedJitter,
            lastSenderReport: lastSenderReport, delaySinceLastSenderReport: delaySinceLastSenderReport)
    }
}
