import Testing
@testable import QualityModel

@Suite("Site quality over an interval")
struct SiteQualityTests {
    let model = EModel(equipmentImpairment: 10, packetLossRobustness: 25, delaySensitivity: 1)
    let thresholds = QualityThresholds(good: 4.0, fair: 3.6, poor: 3.1)

    /// 5 s of a site: 250 frames sent, 20 lost on the way, 5 of them rebuilt by FEC, 15 concealed.
    func trace() -> (QualityCounters, QualityCounters) {
        let a = QualityCounters(at: 1_000_000_000, packetsReceived: 1000, packetsLost: 10, framesConcealed: 8, framesRecoveredByFEC: 2)
        let b = QualityCounters(at: 6_000_000_000, packetsReceived: 1230, packetsLost: 30, framesConcealed: 23, framesRecoveredByFEC: 7,
                                jitterMilliseconds: 12.5, bufferDelayMilliseconds: 60, bufferTargetMilliseconds: 40,
                                remoteLossFraction: 0.02, remoteJitterMilliseconds: 3, roundTripMilliseconds: 80,
                                videoBytesIn: 625_000, videoBytesOut: 1_250_000)
        return (a, b)
    }

    @Test func figuresAreThoseOfTheTrace() {
        let (a, b) = trace()
        let q = SiteQuality.between(a, b, model: model, thresholds: thresholds)
        #expect(q.seconds == 5)
        #expect(abs(q.lossPercent - 100.0 * 20 / 250) < 1e-9)  // 8 %
        #expect(abs(q.concealedPercent - 100.0 * 15 / 245) < 1e-9)
        #expect(q.recoveredByFEC == 5)
        #expect(q.remoteLossPercent == 2)
        #expect(q.oneWayDelayMilliseconds == 40 + 60 + 20)
        #expect(q.videoInKilobitsPerSecond == 1000 && q.videoOutKilobitsPerSecond == 2000)
        // MOS from the worse direction's loss (6.12 % concealed) and 120 ms, by G.107.
        let expected = model.mos(lossPercent: 100.0 * 15 / 245, oneWayDelayMilliseconds: 120)
        #expect(q.mos == expected)
        #expect(q.grade == thresholds.grade(mos: expected))
        #expect(q.cause == .loss)
    }

    @Test func gradesChangeAtTheConfiguredThresholds() {
        let t = QualityThresholds(good: 4.0, fair: 3.6, poor: 3.1)
        #expect(QualityThresholds() == QualityThresholds(good: 2.7, fair: 2.4, poor: 1.9, alertAfterSeconds: 10))
        #expect(t.grade(mos: 4.0) == .good && t.grade(mos: 3.999) == .fair)
        #expect(t.grade(mos: 3.6) == .fair && t.grade(mos: 3.599) == .poor)
        #expect(t.grade(mos: 3.1) == .poor && t.grade(mos: 3.099) == .bad)
        let strict = QualityThresholds(good: 4.3, fair: 4.1, poor: 3.9)
        #expect(strict.grade(mos: 4.2) == .fair)
    }

    @Test func silenceIsNamedNotGraded() {
        // DTX: no speech to grade, and nothing shows trouble.
        let a = QualityCounters(at: 0, packetsReceived: 500)
        let dtx = SiteQuality.between(a, QualityCounters(at: 5_000_000_000, packetsReceived: 512, framesDTX: 238),
                                      model: model, thresholds: thresholds)
        #expect(dtx.grade == .silent && dtx.cause == .silence)
        // No audio packet at all in 5 s is not DTX (which sends one every 400 ms): the audio is gone.
        let gone = SiteQuality.between(a, QualityCounters(at: 5_000_000_000, packetsReceived: 500), model: model, thresholds: thresholds)
        #expect(gone.grade == .bad && gone.cause == .silence)
        // A silent site that reports losing a fifth of what it hears is graded by that.
        let lossy = QualityCounters(at: 5_000_000_000, packetsReceived: 512, framesDTX: 238, remoteLossFraction: 0.2)
        let q = SiteQuality.between(a, lossy, model: model, thresholds: thresholds)
        #expect(q.grade >= .poor && q.cause == .loss)
    }

    @Test func aStretchedBufferIsJitterAndALongPathIsDelay() {
        let a = QualityCounters(at: 0, packetsReceived: 0)
        let jittery = QualityCounters(at: 5_000_000_000, packetsReceived: 250, bufferDelayMilliseconds: 400, roundTripMilliseconds: 20)
        let q1 = SiteQuality.between(a, jittery, model: model, thresholds: thresholds)
        #expect(q1.grade >= .poor && q1.cause == .jitter)
        let far = QualityCounters(at: 5_000_000_000, packetsReceived: 250, bufferDelayMilliseconds: 30, roundTripMilliseconds: 800)
        let q2 = SiteQuality.between(a, far, model: model, thresholds: thresholds)
        #expect(q2.grade >= .poor && q2.cause == .delay)
    }

    @Test func anAlertOpensAfterTenSecondsOfABadGradeAndClosesOnRecovery() {
        var tracker = AlertTracker(after: 10_000_000_000)
        var changes: [AlertTracker.Change] = []
        for second in 0...25 {
            let grade: QualityGrade = second < 2 ? .good : second < 20 ? .bad : .fair
            if let c = tracker.observe(site: 7, grade: grade, cause: .loss, at: Int64(second) * 1_000_000_000) { changes.append(c) }
        }
        let alert = AlertTracker.Alert(site: 7, since: 2_000_000_000, grade: .bad, cause: .loss)
        #expect(changes == [.opened(alert), .closed(alert, at: 20_000_000_000)])
        // Poor for exactly 10 s is not yet an alert; a moment of fair in between restarts the count.
        var t2 = AlertTracker(after: 10_000_000_000)
        #expect(t2.observe(site: 1, grade: .poor, cause: .jitter, at: 0) == nil)
        #expect(t2.observe(site: 1, grade: .poor, cause: .jitter, at: 10_000_000_000) == nil)
        #expect(t2.observe(site: 1, grade: .fair, cause: .none, at: 10_500_000_000) == nil)
        #expect(t2.observe(site: 1, grade: .poor, cause: .jitter, at: 11_000_000_000) == nil)
        #expect(t2.observe(site: 1, grade: .poor, cause: .jitter, at: 21_500_000_000) != nil)
        #expect(t2.open.count == 1)
    }
}
