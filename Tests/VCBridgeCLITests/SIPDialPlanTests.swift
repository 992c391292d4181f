@testable import Bridge
import Scheduler
import Testing

/// When the bridge dials halls, on time passed in (hours in milliseconds, no sleeping).
@Suite("SIP: dial-out plan")
struct SIPDialPlanTests {
    @Test func aWantedSiteIsDialledOnceAndRetriedWithDoublingBackoffCappedAtSixtySeconds() {
        var plan = SIPDialPlan(random: { 0 })
        var now: Int64 = 0
        var (dials, _) = plan.step(now: now, wanted: [7: 1], connected: [])
        #expect(dials == [SIPDialPlan.Dial(site: 7, meeting: 1, attempt: 1)])
        // While it rings, no second call to the same site.
        #expect(plan.step(now: 1_000, wanted: [7: 1], connected: []).dial.isEmpty)
        var waits: [Int64] = []
        for attempt in 2...7 {
            now += 3_000
            let wait = plan.failed(site: 7, now: now)
            waits.append(wait)
            #expect(plan.step(now: now + wait - 1, wanted: [7: 1], connected: []).dial.isEmpty)
            now += wait
            (dials, _) = plan.step(now: now, wanted: [7: 1], connected: [])
            #expect(dials == [SIPDialPlan.Dial(site: 7, meeting: 1, attempt: attempt)])
        }
        #expect(waits == [5_000, 10_000, 20_000, 40_000, 60_000, 60_000])
    }

    @Test func jitterMovesEachWaitByAtMostAFifth() {
        var low = SIPDialPlan(random: { -1 })
        var high = SIPDialPlan(random: { 1 })
        _ = low.step(now: 0, wanted: [3: 1], connected: [])
        _ = high.step(now: 0, wanted: [3: 1], connected: [])
        #expect(low.failed(site: 3, now: 0) == 4_000)
        #expect(high.failed(site: 3, now: 0) == 6_000)
    }

    @Test func aDroppedCallIsRetriedAndALongCallStartsTheBackoffAfresh() {
        var plan = SIPDialPlan(random: { 0 })
        _ = plan.step(now: 0, wanted: [5: 2], connected: [])
        plan.answered(site: 5, now: 1_000)
        #expect(plan.step(now: 2_000, wanted: [5: 2], connected: [5]).dial.isEmpty)
        // Dropped after 9 s: the first retry after 5 s.
        #expect(plan.step(now: 10_000, wanted: [5: 2], connected: []).dial.isEmpty)
        #expect(plan.state(of: 5) == .waiting(until: 15_000))
        #expect(plan.step(now: 15_000, wanted: [5: 2], connected: []).dial.map(\.attempt) == [2])
        plan.answered(site: 5, now: 16_000)
        // An hour in the meeting, then dropped: 5 s again, not 10 s.
        _ = plan.step(now: 3_616_000, wanted: [5: 2], connected: [])
        #expect(plan.state(of: 5) == .waiting(until: 3_621_000))
    }

    @Test func atMostEightRingAtOnceAndTheRestFollowAsCallsEnd() {
        var plan = SIPDialPlan(random: { 0 })
        let wanted = Dictionary(uniqueKeysWithValues: (10..<30).map { ($0, MeetingID(1)) })
        let first = plan.step(now: 0, wanted: wanted, connected: []).dial
        #expect(first.map(\.site) == Array(10..<18))
        #expect(plan.step(now: 100, wanted: wanted, connected: []).dial.isEmpty)
        for site in 10..<13 { plan.answered(site: site, now: 200) }
        #expect(plan.step(now: 300, wanted: wanted, connected: Set(10..<13)).dial.map(\.site) == [18, 19, 20])
    }

    @Test func aSiteWithASessionOfItsOwnIsNotDialledAndOneNoLongerWantedIsGivenUp() {
        var plan = SIPDialPlan(random: { 0 })
        #expect(plan.step(now: 0, wanted: [1: 4], connected: [1]).dial.isEmpty)
        #expect(plan.state(of: 1) == .connected(since: 0))
        _ = plan.step(now: 0, wanted: [2: 4], connected: [1])
        // The meeting ended (or was cancelled) while site 2's call rang: give it up; nothing is dialled.
        let step = plan.step(now: 500, wanted: [:], connected: [])
        #expect(step.abandon == [2])
        #expect(step.dial.isEmpty)
        #expect(plan.state(of: 2) == nil)
    }

    @Test func aCallNeverReportedIsCountedAsFailedAfterFiveAndAHalfMinutes() {
        var plan = SIPDialPlan(random: { 0 })
        _ = plan.step(now: 0, wanted: [9: 1], connected: [])
        #expect(plan.step(now: 329_999, wanted: [9: 1], connected: []).dial.isEmpty)
        #expect(plan.state(of: 9) == .dialling(since: 0))
        _ = plan.step(now: 330_000, wanted: [9: 1], connected: [])
        #expect(plan.state(of: 9) == .waiting(until: 335_000))
        #expect(plan.step(now: 335_000, wanted: [9: 1], connected: []).dial.map(\.attempt) == [2])
    }
}
