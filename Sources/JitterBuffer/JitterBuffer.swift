import RTP

/// What to play for the next 20 ms frame.
public enum PlayoutDecision {
    /// Not started yet (no packet, or still filling to the target delay): play nothing.
    case waiting
    /// Decode this payload (valid until the next call on the buffer).
    case packet(UnsafeRawBufferPointer)
    /// The frame was lost; rebuild it from the in-band FEC of the next packet (this payload).
    case fec(UnsafeRawBufferPointer)
    /// The frame is missing: conceal it (PLC). It is counted once the next packet plays: as
    /// concealed if packets were lost, as DTX if the sender was silent.
    case conceal
}

/// Figures for technicians (W3C webrtc-stats names where they exist).
public struct JitterBufferStatistics: Sendable, Equatable {
    public var packetsReceived = 0
    public var packetsLate = 0
    public var packetsDuplicated = 0
    public var packetsReordered = 0
    /// Frames played from a packet.
    public var framesPlayed = 0
    /// Frames rebuilt from the next packet's FEC.
    public var framesRecoveredByFEC = 0
    /// Frames concealed because their packet was lost or late (not DTX). Counted when the next
    /// packet plays and tells the two apart, so the counter never goes back.
    public var framesConcealed = 0
    /// Frames during which the sender was in discontinuous transmission (silence, not loss).
    public var framesDTX = 0
    /// Frames dropped to shorten the delay (in speech pauses).
    public var framesDroppedForAcceleration = 0
    /// Frames inserted to lengthen the delay (in speech pauses).
    public var framesInsertedForDeceleration = 0
    /// Times the stream restarted (a new SSRC, or a jump the buffer could not follow).
    public var resets = 0
    public var targetDelayMilliseconds: Int64 = 0
    /// Audio buffered ahead of playout now.
    public var currentDelayMilliseconds: Int64 = 0

    public init() {}
}

public struct JitterBufferConfiguration: Sendable, Equatable {
    public var minimumDelayMilliseconds: Int64 = 20
    public var maximumDelayMilliseconds: Int64 = 400
    /// Quantile of observed relative delays the target covers.
    public var quantile: Double = 0.97
    public init() {}
}

/// A jitter buffer for one 48 kHz, 20 ms-frame audio stream, ordered by RTP timestamp.
///
/// It keeps reordered packets, drops duplicates and late packets (counting them), plays each
/// frame from its packet, from the next packet's FEC, or conceals it; a gap the sender made in
/// discontinuous transmission (sequence numbers continue across it) is counted as DTX, not loss.
/// The target delay follows the observed delays (``DelayEstimator``); the buffer moves towards it
/// by dropping or inserting whole frames in speech pauses, which also absorbs a sender clock that
/// runs fast or slow. Time is passed in by the caller (nanoseconds on any monotonic clock).
/// No allocation after `init`; one thread only.
public final class JitterBuffer {
    public static let frameTicks: Int64 = 960
    public static let frameMilliseconds: Int64 = 20
    static let capacity = 64  // frames (1.28 s)
    static let slotBytes = 1500

    public let configuration: JitterBufferConfiguration
    public private(set) var statistics = JitterBufferStatistics()

    private var storage: UnsafeMutableRawBufferPointer
    private var slotLength = [Int](repeating: 0, count: capacity)
    private var slotTimestamp = [Int64](repeating: 0, count: capacity)  // extended
    private var slotSequence = [UInt16](repeating: 0, count: capacity)
    private var slotVoice = [Bool](repeating: true, count: capacity)
    private var slotValid = [Bool](repeating: false, count: capacity)

    private var estimator = DelayEstimator()
    private var ssrc: UInt32 = 0
    private var started = false
    private var playing = false
    private var firstArrival: Int64 = 0
    /// Extended timestamps: 32-bit RTP timestamps unwrapped against the last one seen.
    private var lastRawTimestamp: UInt32 = 0
    private var lastExtendedTimestamp: Int64 = 0
    private var newestTimestamp: Int64 = 0
    private var highestSequence: UInt16 = 0
    /// The next frame to play (extended timestamp).
    private var playTimestamp: Int64 = 0
    private var lastPlayedSequence: UInt16? = nil
    /// The RTP timestamp extended timestamps count from (the stream's first, at `1 << 40`).
    private var baseRawTimestamp: UInt32 = 0
    /// The RTP timestamp of the last frame played from a packet (nil before any): tools that match what was
    /// played with what was sent use it.
    public private(set) var lastPlayedRTPTimestamp: UInt32?
    /// Frames concealed since the last played packet, not counted yet: the next packet's sequence
    /// number tells how many were lost (the rest were the sender's silence, DTX). Those that moved
    /// playout on, and those spent waiting for a packet before moving on.
    private var pendingConcealed = 0
    private var pendingWaited = 0
    private var targetMilliseconds: Int64
    /// Ticks spent above / below the target band, to move only when it lasts.
    private var ticksAbove = 0
    private var ticksBelow = 0
    private var lastVoice = true
    /// Frames concealed while waiting (without moving on) for a missing packet.
    private var expansions = 0
    /// Set after moving past a missing frame with nothing buffered: wait again only after a packet plays.
    private var gaveUpWaiting = false
    static let maximumExpansions = 3
    private var histogramTarget: Int64 = 0
    /// Packets arrived since the target was last computed (it is computed once per frame).
    private var targetStale = false
    private var lateFloorMilliseconds: Int64 = 0
    private var lateFloorSetAt: Int64 = 0
    static let lateFloorDecayPerSecond: Int64 = 10
    /// This many packets in a row too late to play means the sender's timeline moved: resynchronise.
    static let lateRunBeforeResync = 10
    private var consecutiveLate = 0

    public init(configuration: JitterBufferConfiguration = .init()) {
        self.configuration = configuration
        storage = .allocate(byteCount: Self.capacity * Self.slotBytes, alignment: 16)
        targetMilliseconds = max(configuration.minimumDelayMilliseconds, 2 * Self.frameMilliseconds)
        statistics.targetDelayMilliseconds = targetMilliseconds
    }

    deinit { storage.deallocate() }

    /// The buffer's 48 kHz timestamp for an RTP timestamp counted at `rtpClockRate` (48,000 for Opus; 8,000 for
    /// G.722 and G.711, 160 a 20 ms frame): multiplied by 48,000 / rate modulo 2^32. Multiplication modulo 2^32
    /// keeps differences (t2 - t1) x 6 ≡ t2 x 6 - t1 x 6, so the distances the buffer measures with wrapping
    /// arithmetic stay right across the 8 kHz stream's own wrap (its last frame before the wrap and the first
    /// after it are 960 apart), for any distance under 2^31 / 6 ticks (about 44 hours at 8 kHz).
    @inline(__always)
    public static func timestamp48k(_ rtpTimestamp: UInt32, rtpClockRate: Int) -> UInt32 {
        rtpClockRate == 48_000 ? rtpTimestamp : rtpTimestamp &* UInt32(truncatingIfNeeded: 48_000 / rtpClockRate)
    }

    private func slot(for timestamp: Int64) -> Int {
        Int((timestamp / Self.frameTicks) % Int64(Self.capacity))
    }

    private func unwrap(_ timestamp: UInt32) -> Int64 {
        let extended = lastExtendedTimestamp + Wrapping.timestampDistance(from: lastRawTimestamp, to: timestamp)
        return extended
    }

    private func reset(ssrc: UInt32, timestamp: UInt32) {
        for i in 0..<Self.capacity { slotValid[i] = false }
        self.ssrc = ssrc
        started = true
        playing = false
        lastRawTimestamp = timestamp
        baseRawTimestamp = timestamp
        lastPlayedRTPTimestamp = nil
        // Keep extended timestamps positive and frame-aligned slots independent of the raw value.
        lastExtendedTimestamp = Int64(1) << 40
        newestTimestamp = lastExtendedTimestamp
        lastPlayedSequence = nil
        pendingConcealed = 0
        pendingWaited = 0
        expansions = 0
        gaveUpWaiting = false
        ticksAbove = 0
        ticksBelow = 0
        consecutiveLate = 0
        lateFloorMilliseconds = 0
        estimator.reset()
        updateTarget()
    }

    /// Adds a received packet.
    /// - Parameters:
    ///   - voiceActivity: the RFC 6464 V flag when the sender sends it (nil: assume speech).
    ///   - arrival: when it arrived, in nanoseconds.
    public func insert(
        sequence: UInt16, timestamp: UInt32, ssrc: UInt32, payload: UnsafeRawBufferPointer,
        voiceActivity: Bool? = nil, arrival: Int64
    ) {
        if !started || ssrc != self.ssrc {
            if started { statistics.resets += 1 }
            reset(ssrc: ssrc, timestamp: timestamp)
            firstArrival = arrival
            highestSequence = sequence &- 1
        }
        statistics.packetsReceived += 1
        var extended = unwrap(timestamp)
        if playing, abs(extended - playTimestamp) > Int64(Self.capacity) * Self.frameTicks * 4 {
            // A jump far beyond anything bufferable (sender restarted its timeline): start over.
            statistics.resets += 1
            reset(ssrc: ssrc, timestamp: timestamp)
            firstArrival = arrival
            highestSequence = sequence &- 1
            extended = lastExtendedTimestamp
        }
        if Wrapping.timestampDistance(from: lastRawTimestamp, to: timestamp) > 0 {
            lastRawTimestamp = timestamp
            lastExtendedTimestamp = extended
        }
        estimator.record(arrival: arrival / 1_000_000, mediaMilliseconds: extended / 48)

        if playing && extended < playTimestamp {
            statistics.packetsLate += 1
            consecutiveLate += 1
            if consecutiveLate >= Self.lateRunBeforeResync {
                // Every packet for a while came too late to play: the sender's timeline moved back
                // against ours (it stalled and went on where it was). Start over from this packet
                // rather than conceal everything from now on.
                statistics.resets += 1
                statistics.packetsReceived -= 1  // counted again below
                reset(ssrc: ssrc, timestamp: timestamp)
                firstArrival = arrival
                highestSequence = sequence &- 1
                return insert(sequence: sequence, timestamp: timestamp, ssrc: ssrc, payload: payload,
                              voiceActivity: voiceActivity, arrival: arrival)
            }
            // Late means the target was too small: raise it at once to cover this delay.
            raiseTarget(to: estimator.lastRelativeDelay + Self.frameMilliseconds, at: arrival)
            return
        }
        consecutiveLate = 0
        let index = slot(for: extended)
        if slotValid[index] && slotTimestamp[index] == extended {
            statistics.packetsDuplicated += 1
            return
        }
        if Wrapping.isNewerSequence(sequence, than: highestSequence) {
            highestSequence = sequence
        } else {
            statistics.packetsReordered += 1
        }
        if playing && extended >= playTimestamp + Int64(Self.capacity) * Self.frameTicks {
            // Too far ahead to hold: the stream jumped; follow it.
            statistics.resets += 1
            statistics.packetsReceived -= 1  // counted again below
            reset(ssrc: ssrc, timestamp: timestamp)
            firstArrival = arrival
            return insert(sequence: sequence, timestamp: timestamp, ssrc: ssrc, payload: payload,
                          voiceActivity: voiceActivity, arrival: arrival)
        }
        let length = min(payload.count, Self.slotBytes)
        if length > 0, let base = payload.baseAddress {
            (storage.baseAddress! + index * Self.slotBytes).copyMemory(from: base, byteCount: length)
        }
        slotLength[index] = length
        slotTimestamp[index] = extended
        slotSequence[index] = sequence
        slotVoice[index] = voiceActivity ?? (length > 2)
        slotValid[index] = true
        newestTimestamp = max(newestTimestamp, extended)
        targetStale = true
    }

    /// A late packet raises the target at once to cover it; this floor then decays slowly.
    private func raiseTarget(to milliseconds: Int64, at arrival: Int64) {
        lateFloorMilliseconds = max(lateFloorMilliseconds, milliseconds)
        lateFloorSetAt = arrival
        updateTarget()
    }

    private func updateTarget() {
        histogramTarget = estimator.delay(atQuantile: configuration.quantile) + Self.frameMilliseconds
        let wanted = max(histogramTarget, lateFloorMilliseconds)
        targetMilliseconds = min(configuration.maximumDelayMilliseconds, max(configuration.minimumDelayMilliseconds, wanted))
        statistics.targetDelayMilliseconds = targetMilliseconds
    }

    private func payload(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: storage.baseAddress! + index * Self.slotBytes, count: slotLength[index])
    }

    /// Audio buffered ahead of playout, in milliseconds: after `nextFrame`, what still waits here
    /// (`statistics.currentDelayMilliseconds` is the level before that frame was taken). A playout
    /// stage after the decoder adds what it holds to this to know the site's whole delay.
    public var bufferedMilliseconds: Int64 {
        max(0, (newestTimestamp + Self.frameTicks - playTimestamp) / 48)
    }

    /// The decision for the next 20 ms frame; call once per frame period, or more often when a
    /// playout stage after the decoder (time-stretching) takes frames faster or slower.
    /// - Parameter downstreamSamples: decoded audio (48 kHz samples) waiting after the decoder, part of
    ///   the site's delay: counted with what waits here when the level is compared with the target.
    public func nextFrame(now: Int64, downstreamSamples: Int = 0) -> PlayoutDecision {
        guard started else { return .waiting }
        if !playing {
            // Start once the first packet has waited the target delay.
            guard (now - firstArrival) / 1_000_000 >= targetMilliseconds else { return .waiting }
            playing = true
            // Play from the oldest buffered frame.
            var oldest = newestTimestamp
            for i in 0..<Self.capacity where slotValid[i] { oldest = min(oldest, slotTimestamp[i]) }
            playTimestamp = oldest
        }
        if targetStale {
            updateTarget()
            targetStale = false
        }
        decayLateFloor(now: now)
        let level = bufferedMilliseconds + Int64(max(0, downstreamSamples)) / 48
        statistics.currentDelayMilliseconds = level

        // Move towards the target in speech pauses: drop a frame when well above it for a while,
        // repeat one (play concealment without advancing) when below it.
        if level > targetMilliseconds + 2 * Self.frameMilliseconds { ticksAbove += 1 } else { ticksAbove = 0 }
        if level + Self.frameMilliseconds < targetMilliseconds { ticksBelow += 1 } else { ticksBelow = 0 }
        let index = slot(for: playTimestamp)
        let present = slotValid[index] && slotTimestamp[index] == playTimestamp
        let pause = present ? !slotVoice[index] : !lastVoice
        if (ticksAbove >= 10 && pause) || (level > targetMilliseconds + 10 * Self.frameMilliseconds && ticksAbove >= 25) {
            if present { slotValid[index] = false }
            playTimestamp += Self.frameTicks
            statistics.framesDroppedForAcceleration += 1
            ticksAbove = 0
            return playDue()
        }
        if ticksBelow >= 10 && pause && present {
            statistics.framesInsertedForDeceleration += 1
            ticksBelow = 0
            return .conceal
        }
        return playDue()
    }

    /// Plays the frame at `playTimestamp`, rebuilds it, or conceals it.
    private func playDue() -> PlayoutDecision {
        let due = playTimestamp
        let index = slot(for: due)
        if slotValid[index] && slotTimestamp[index] == due {
            slotValid[index] = false
            playTimestamp += Self.frameTicks
            statistics.framesPlayed += 1
            settleConcealed(nextSequence: slotSequence[index])
            lastPlayedSequence = slotSequence[index]
            lastPlayedRTPTimestamp = baseRawTimestamp &+ UInt32(truncatingIfNeeded: due - (Int64(1) << 40))
            lastVoice = slotVoice[index]
            // Waiting for this packet cost time but lost nothing: those frames were insertions.
            statistics.framesInsertedForDeceleration += expansions
            expansions = 0
            gaveUpWaiting = false
            return .packet(payload(index))
        }
        // Missing. Is anything later here?
        var laterSequenceFollows = false
        var anyLater = false
        for i in 0..<Self.capacity where slotValid[i] && slotTimestamp[i] > due {
            anyLater = true
            if let last = lastPlayedSequence, slotSequence[i] == last &+ 1 { laterSequenceFollows = true }
        }
        if !anyLater && !gaveUpWaiting && expansions < Self.maximumExpansions {
            // Nothing to play yet: the packet may be just late. Conceal without moving on, so it
            // still plays if it comes.
            expansions += 1
            return .conceal
        }
        // Moving past the missing frame: the frames spent waiting for it were concealment, or DTX.
        pendingWaited += expansions
        expansions = 0
        gaveUpWaiting = !anyLater
        playTimestamp += Self.frameTicks
        if laterSequenceFollows {
            // Consecutive sequence numbers around a timestamp gap: the sender was silent (DTX).
            statistics.framesDTX += 1 + pendingConcealed + pendingWaited
            pendingConcealed = 0
            pendingWaited = 0
            // The rest of the pause need not be played out: move on so that what is buffered
            // equals the target (a speech pause is where delay is shed).
            let skipTo = min(earliestBuffered(), newestTimestamp + Self.frameTicks - targetMilliseconds * 48)
            if skipTo > playTimestamp {
                let frames = (skipTo - playTimestamp) / Self.frameTicks
                playTimestamp += frames * Self.frameTicks
                statistics.framesDroppedForAcceleration += Int(frames)
            }
            // The talk spurt starts here: play its first frame now rather than one more frame of the
            // pause (each such frame would stay as delay for the whole spurt).
            let first = slot(for: playTimestamp)
            if slotValid[first] && slotTimestamp[first] == playTimestamp { return playDue() }
            return .conceal
        }
        let next = slot(for: playTimestamp)
        if slotValid[next] && slotTimestamp[next] == playTimestamp {
            statistics.framesRecoveredByFEC += 1
            return .fec(payload(next))
        }
        pendingConcealed += 1
        return .conceal
    }

    /// The packet with `nextSequence` plays after frames were concealed: as many of those that moved
    /// playout on as packets are missing between it and the last one played were lost, and so were
    /// the frames spent waiting, if anything was missing; the rest were the sender's DTX.
    private func settleConcealed(nextSequence: UInt16) {
        guard pendingConcealed + pendingWaited > 0 else { return }
        let missing = lastPlayedSequence.map { max(0, Int(Wrapping.sequenceDistance(from: $0, to: nextSequence)) - 1) }
            ?? pendingConcealed
        if missing == 0 {
            statistics.framesDTX += pendingConcealed + pendingWaited
        } else {
            let lost = min(pendingConcealed, missing)
            statistics.framesConcealed += lost + pendingWaited
            statistics.framesDTX += pendingConcealed - lost
        }
        pendingConcealed = 0
        pendingWaited = 0
    }

    private func earliestBuffered() -> Int64 {
        var earliest = Int64.max
        for i in 0..<Self.capacity where slotValid[i] { earliest = min(earliest, slotTimestamp[i]) }
        return earliest
    }

    private func decayLateFloor(now: Int64) {
        guard lateFloorMilliseconds > 0 else { return }
        let elapsed = max(0, now - lateFloorSetAt) / 1_000_000
        let floor = max(0, lateFloorMilliseconds - elapsed * Self.lateFloorDecayPerSecond / 1000)
        if floor == 0 { lateFloorMilliseconds = 0 }
        let wanted = max(floor, histogramTarget)
        targetMilliseconds = min(configuration.maximumDelayMilliseconds, max(configuration.minimumDelayMilliseconds, wanted))
        statistics.targetDelayMilliseconds = targetMilliseconds
    }
}
