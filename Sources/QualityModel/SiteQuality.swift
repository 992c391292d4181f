/// A site's cumulative media counters at one moment, as the bridge publishes them.
public struct QualityCounters: Sendable, Equatable {
    /// Monotonic time of the snapshot, nanoseconds.
    public var at: Int64
    /// Audio from the site: packets received and lost (RFC 3550 cumulative loss).
    public var packetsReceived: Int
    public var packetsLost: Int
    /// 20 ms frames the jitter buffer had to conceal, and frames rebuilt from FEC.
    public var framesConcealed: Int
    public var framesRecoveredByFEC: Int
    /// 20 ms frames in which the site was in discontinuous transmission (silent, not lost).
    public var framesDTX: Int
    /// Instantaneous figures: interarrival jitter, jitter-buffer delay and target, milliseconds.
    public var jitterMilliseconds: Double
    public var bufferDelayMilliseconds: Double
    public var bufferTargetMilliseconds: Double
    /// What the site reports about the bridge's stream to it.
    public var remoteLossFraction: Double
    public var remoteJitterMilliseconds: Double
    public var roundTripMilliseconds: Double?
    /// Video counters (bytes in and out).
    public var videoBytesIn: Int
    public var videoBytesOut: Int

    public init(at: Int64, packetsReceived: Int = 0, packetsLost: Int = 0, framesConcealed: Int = 0, framesRecoveredByFEC: Int = 0,
                framesDTX: Int = 0, jitterMilliseconds: Double = 0, bufferDelayMilliseconds: Double = 0, bufferTargetMilliseconds: Double = 0,
                remoteLossFraction: Double = 0, remoteJitterMilliseconds: Double = 0, roundTripMilliseconds: Double? = nil,
                videoBytesIn: Int = 0, videoBytesOut: Int = 0) {
        self.at = at
        self.packetsReceived = packetsReceived
        self.packetsLost = packetsLost
        self.framesConcealed = framesConcealed
        self.framesRecoveredByFEC = framesRecoveredByFEC
        self.framesDTX = framesDTX
        self.jitterMilliseconds = jitterMilliseconds
        self.bufferDelayMilliseconds = bufferDelayMilliseconds
        self.bufferTargetMilliseconds = bufferTargetMilliseconds
        self.remoteLossFraction = remoteLossFraction
        self.remoteJitterMilliseconds = remoteJitterMilliseconds
        self.roundTripMilliseconds = roundTripMilliseconds
        self.videoBytesIn = videoBytesIn
        self.videoBytesOut = videoBytesOut
    }
}

/// The grade boundaries and alert timing (`Config/vcbridge.json`, section `quality`).
public struct QualityThresholds: Sendable, Equatable {
    /// MOS estimates at or above these are good, fair, poor; below `poor` is bad (on the calibrated,
    /// PESQ-WB scale of speech through the bridge: a clean link estimates about 2.9).
    public var good = 2.7
    public var fair = 2.4
    public var poor = 1.9
    /// A site graded poor or bad for longer than this raises an alert.
    public var alertAfterNanoseconds: Int64 = 10_000_000_000

    public init(good: Double = 2.7, fair: Double = 2.4, poor: Double = 1.9, alertAfterSeconds: Int = 10) {
        self.good = good
        self.fair = fair
        self.poor = poor
        alertAfterNanoseconds = Int64(alertAfterSeconds) * 1_000_000_000
    }

    public func grade(mos: Double) -> QualityGrade { QualityGrade.of(mos: mos, good: good, fair: fair, poor: poor) }
}

/// What is hurting a site's call most, in the words technicians use.
public enum QualityCause: String, Sendable, CaseIterable {
    case none, loss, jitter, delay, silence
}

/// A site's quality over an interval: what `vcbridge quality` shows and history stores.
public struct SiteQuality: Sendable, Equatable {
    public var seconds: Double
    /// Audio packets lost on the way to the bridge, percent of those sent (before FEC).
    public var lossPercent: Double
    /// Frames the listeners' copy of this site needed concealment for, percent of frames played.
    public var concealedPercent: Double
    public var recoveredByFEC: Int
    public var jitterMilliseconds: Double
    public var bufferDelayMilliseconds: Double
    public var bufferTargetMilliseconds: Double
    /// The site's own reports about what it receives.
    public var remoteLossPercent: Double
    public var remoteJitterMilliseconds: Double
    public var roundTripMilliseconds: Double?
    /// Mouth-to-ear delay the estimate assumes: half the round trip, the jitter buffer, one 20 ms frame.
    public var oneWayDelayMilliseconds: Double
    public var videoInKilobitsPerSecond: Double
    public var videoOutKilobitsPerSecond: Double
    /// E-model MOS estimate (ITU-T G.107; Opus constants calibrated against PESQ) and its grade.
    public var mos: Double
    public var grade: QualityGrade
    public var cause: QualityCause

    /// The quality between two snapshots of a site's counters.
    ///
    /// The estimate takes the worse direction: loss is the larger of what the bridge had to conceal
    /// of the site's audio and what the site reports losing of the bridge's; the delay is half the
    /// round trip plus the bridge's jitter buffer plus one frame.
    ///
    /// A site in DTX for at least half the interval has no speech to grade: it is graded from what it
    /// does send and report (the loss of its DTX packets, its own reports of what it hears, the
    /// delay) and shown `silent`, cause silence, unless those show trouble; then it gets that grade
    /// and cause like any other site. No audio packet at all is not DTX (a DTX sender still sends
    /// one every 400 ms): the site's audio is gone, graded bad, cause silence.
    public static func between(_ a: QualityCounters, _ b: QualityCounters, model: EModel, thresholds: QualityThresholds) -> SiteQuality {
        let seconds = max(0.001, Double(b.at - a.at) / 1e9)
        let received = max(0, b.packetsReceived - a.packetsReceived)
        let lost = max(0, b.packetsLost - a.packetsLost)
        let concealed = max(0, b.framesConcealed - a.framesConcealed)
        let dtx = max(0, b.framesDTX - a.framesDTX)
        let silent = received > 0 && Double(dtx) >= 0.5 * seconds * 50
        let lossPercent = received + lost > 0 ? 100 * Double(lost) / Double(received + lost) : 0
        let concealedPercent = received + concealed > 0 ? 100 * Double(concealed) / Double(received + concealed) : 0
        let remoteLossPercent = 100 * b.remoteLossFraction
        let halfTrip = (b.roundTripMilliseconds ?? 0) / 2
        let delay = halfTrip + b.bufferDelayMilliseconds + 20
        // A silent site's own packets carry no FEC worth the name: their loss counts as it is.
        let effectiveLoss = max(silent ? lossPercent : concealedPercent, remoteLossPercent)
        let mos = model.mos(lossPercent: effectiveLoss, oneWayDelayMilliseconds: delay)
        var cause = QualityCause.none
        // The larger of the two impairments names the cause; a buffer stretched by jitter is jitter.
        let lossImpairment = model.rating(lossPercent: 0, oneWayDelayMilliseconds: delay)
            - model.rating(lossPercent: effectiveLoss, oneWayDelayMilliseconds: delay)
        let delayImpairment = model.rating(lossPercent: effectiveLoss, oneWayDelayMilliseconds: 0)
            - model.rating(lossPercent: effectiveLoss, oneWayDelayMilliseconds: delay)
        if lossImpairment >= 1 || delayImpairment >= 1 {
            if lossImpairment >= delayImpairment {
                cause = .loss
            } else {
                cause = b.bufferDelayMilliseconds > halfTrip ? .jitter : .delay
            }
        }
        var grade = thresholds.grade(mos: mos)
        if received == 0 {
            grade = .bad
            cause = .silence
        } else if silent && grade == .good {
            grade = .silent
            cause = .silence
        }
        return SiteQuality(
            seconds: seconds, lossPercent: lossPercent, concealedPercent: concealedPercent,
            recoveredByFEC: max(0, b.framesRecoveredByFEC - a.framesRecoveredByFEC), jitterMilliseconds: b.jitterMilliseconds,
            bufferDelayMilliseconds: b.bufferDelayMilliseconds, bufferTargetMilliseconds: b.bufferTargetMilliseconds,
            remoteLossPercent: remoteLossPercent, remoteJitterMilliseconds: b.remoteJitterMilliseconds,
            roundTripMilliseconds: b.roundTripMilliseconds, oneWayDelayMilliseconds: delay,
            videoInKilobitsPerSecond: Double(max(0, b.videoBytesIn - a.videoBytesIn)) * 8 / 1000 / seconds,
            videoOutKilobitsPerSecond: Double(max(0, b.videoBytesOut - a.videoBytesOut)) * 8 / 1000 / seconds,
            mos: mos, grade: grade, cause: grade == .silent || grade > .fair ? cause : .none)
    }
}

/// Opens an alert when a site stays poor or bad for longer than the threshold, and closes it when
/// the site recovers (fair or good). Fed once per evaluation with the site's current grade.
public struct AlertTracker: Sendable {
    public struct Alert: Sendable, Equatable {
        public var site: Int
        public var since: Int64
        public var grade: QualityGrade
        public var cause: QualityCause
    }

    public enum Change: Sendable, Equatable {
        case opened(Alert)
        case closed(Alert, at: Int64)
    }

    private var badSince: [Int: Int64] = [:]
    public private(set) var open: [Int: Alert] = [:]
    /// Sites it follows (a grade below good, or an alert open).
    public var trackedCount: Int { badSince.count + open.count }
    let after: Int64

    public init(after: Int64) { self.after = after }

    /// - Returns: the alert opened or closed by this observation, if any.
    public mutating func observe(site: Int, grade: QualityGrade, cause: QualityCause, at now: Int64) -> Change? {
        if grade >= .poor {
            let since = badSince[site] ?? now
            badSince[site] = since
            if var alert = open[site] {
                if grade > alert.grade { alert.grade = grade }
                alert.cause = cause
                open[site] = alert
                return nil
            }
            guard now - since > after else { return nil }
            let alert = Alert(site: site, since: since, grade: grade, cause: cause)
            open[site] = alert
            return .opened(alert)
        }
        badSince[site] = nil
        guard let alert = open.removeValue(forKey: site) else { return nil }
        return .closed(alert, at: now)
    }

    /// A site that left: its alert (if any) closes.
    public mutating func forget(site: Int, at now: Int64) -> Change? {
        badSince[site] = nil
        guard let alert = open.removeValue(forKey: site) else { return nil }
        return .closed(alert, at: now)
    }
}
