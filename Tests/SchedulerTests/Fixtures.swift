import CivilTime
import Foundation
import SiteDirectory
@testable import Scheduler

let directory = SiteDirectory.embedded

/// 2026-11-30 (a Monday) 07:00 in Vietnam: the injected "now" of these tests.
let testNow: Timestamp = try! TimeFormat.parseMoment("2026-11-30 07:00", zone: .vietnam, now: 0)

func at(_ text: String) -> Timestamp { try! TimeFormat.parseMoment(text, zone: .vietnam, now: testNow) }

func site(_ id: String) -> Site { directory.site(id)! }

func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-sched-\(UUID().uuidString)").path
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func makeStore(_ path: String = temporaryDirectory(), capacity: Int = 160, setupMinutes: Int64 = 15,
               now: Timestamp = testNow) throws -> ScheduleStore {
    try ScheduleStore(dataDirectory: path, directory: directory,
                      rules: ScheduleRules(capacity: capacity, setupSeconds: setupMinutes * 60, maxOccurrences: 366),
                      clock: FixedClock(now))
}

func request(_ title: String, host: String, scope: [String], _ start: String, _ end: String,
             organiser: String = "VP UBND tỉnh", recurrence: Recurrence? = nil, preempt: Bool = false) throws -> BookingRequest {
    let h = site(host)
    return BookingRequest(title: title, organiser: organiser, host: h,
                          sites: try Scope.resolve(scope, host: h, in: directory), scopeText: scope.joined(separator: ","),
                          start: at(start), end: at(end), recurrence: recurrence, preempt: preempt)
}

func siteIDs(_ set: SiteSet) -> [String] { set.map { directory[$0].id } }

func journalSize(_ path: String) -> Int {
    (try? FileManager.default.attributesOfItem(atPath: path + "/" + ScheduleStore.journalName)[.size] as? Int) ?? -1
}

/// The scheduling error `body` throws (nil, recording an issue, if it succeeds or throws something else).
func refusal(_ body: () throws -> Void) -> SchedulingError? {
    do {
        try body()
        return nil
    } catch let error as SchedulingError {
        return error
    } catch {
        return nil
    }
}
