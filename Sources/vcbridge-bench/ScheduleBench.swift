#if canImport(Glibc)
import Glibc
#endif
import CivilTime
import Scheduler
import SiteDirectory
import Transport

// vcbridge-bench schedule-fill --data-dir D --bookings N
//   Fills a store with N bookings of years of realistic traffic: every day each district holds four
//   meetings with some of its communes (07:30, 09:45, 13:30, 15:45) and the province one at 12:00.
// vcbridge-bench schedule-load --data-dir D
//   Loads the store; prints load_ms and the resident memory it took (rss_mb).
// vcbridge-bench schedule-book --data-dir D --count N
//   Books N province-wide meetings (central host, all 147 sites) in free evenings, one at a time,
//   each with its lock, conflict check, append and fsync; prints the median and p90 in ms.

let benchRules = ScheduleRules(capacity: 160, setupSeconds: 15 * 60, maxOccurrences: 366)
let fillStart = LocalDateTime(date: CivilDate(year: 2027, month: 1, day: 1)!, minuteOfDay: 0).timestamp(in: .vietnam)

/// Resident memory of this process, from /proc/self/statm.
func residentMegabytes() -> Double {
    guard let file = fopen("/proc/self/statm", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    guard fgets(&line, 256, file) != nil else { return 0 }
    let fields = String(cString: line).split(separator: " ")
    guard fields.count >= 2, let pages = Double(fields[1]) else { return 0 }
    return pages * Double(sysconf(Int32(_SC_PAGESIZE))) / 1_048_576
}

func openStore(_ dir: String, now: Timestamp) -> ScheduleStore {
    do {
        return try ScheduleStore(dataDirectory: dir, directory: .embedded, rules: benchRules, clock: FixedClock(now))
    } catch {
        fail("\(error)")
    }
}

func runScheduleFill(_ arguments: [String]) {
    guard let dir = option("--data-dir", in: arguments) else { fail("--data-dir is required") }
    let total = Int(option("--bookings", in: arguments) ?? "100000") ?? 100_000
    let directory = SiteDirectory.embedded
    let store = openStore(dir, now: fillStart - 86400)
    let districts = directory.sites.filter { $0.level == .district }
    let province = directory.site("vinh-phuc")!
    var rng = SplitMix(seed: 2026)
    var requests: [BookingRequest] = []
    var day = 0
    let slots = [(7 * 60 + 30, 120), (9 * 60 + 45, 120), (13 * 60 + 30, 120), (15 * 60 + 45, 120)]
    outer: while true {
        let date = CivilDate(daysSinceEpoch: CivilDate(year: 2027, month: 1, day: 1)!.daysSinceEpoch + day)
        for district in districts {
            let communes = directory.children(of: district)
            for (minute, length) in slots {
                var chosen = [district] + communes.filter { _ in rng.next() % 3 != 0 }
                if chosen.count == 1 { chosen.append(communes[0]) }
                let start = LocalDateTime(date: date, minuteOfDay: minute).timestamp(in: .vietnam)
                requests.append(BookingRequest(
                    title: "Giao ban \(district.name) \(date)", organiser: "VP \(district.name)", host: district,
                    sites: chosen, scopeText: "communes", start: start, end: start + Int64(length * 60)))
                if requests.count == total { break outer }
            }
        }
        let noon = LocalDateTime(date: date, minuteOfDay: 12 * 60).timestamp(in: .vietnam)
        requests.append(BookingRequest(
            title: "Hội nghị tỉnh \(date)", organiser: "VP UBND tỉnh", host: province,
            sites: directory.subtree(of: province), scopeText: "province", start: noon, end: noon + 75 * 60))
        if requests.count == total { break }
        day += 1
    }
    let t0 = monotonicNanoseconds()
    var index = 0
    while index < requests.count {
        let batch = Array(requests[index..<min(index + 5000, requests.count)])
        do { try store.bookAll(batch) } catch { fail("fill: \(error)") }
        index += batch.count
    }
    let t1 = monotonicNanoseconds()
    print("bookings=\(store.schedule.count) days=\(day + 1) fill_s=\(Double(t1 - t0) / 1e9)")
}

func runScheduleLoad(_ arguments: [String]) {
    guard let dir = option("--data-dir", in: arguments) else { fail("--data-dir is required") }
    let before = residentMegabytes()
    let t0 = monotonicNanoseconds()
    let store = openStore(dir, now: fillStart)
    let t1 = monotonicNanoseconds()
    let after = residentMegabytes()
    print("bookings=\(store.schedule.count) load_ms=\(Double(t1 - t0) / 1e6) rss_mb=\(after) store_mb=\(after - before)")
}

func runScheduleBook(_ arguments: [String]) {
    guard let dir = option("--data-dir", in: arguments) else { fail("--data-dir is required") }
    let count = Int(option("--count", in: arguments) ?? "30") ?? 30
    let directory = SiteDirectory.embedded
    let store = openStore(dir, now: fillStart)
    let central = directory.central
    let everyone = directory.subtree(of: central)
    // Evenings are free in the filled store; a new evening each time (after earlier runs' evenings).
    let firstFree = store.schedule.meetings(reservedDuring: fillStart, fillStart + 3000 * 86400)
        .filter { $0.title == "vcbridge-bench" }.count
    var times: [Double] = []
    for i in 0..<count {
        let date = CivilDate(year: 2027, month: 1, day: 2)!.adding(days: firstFree + i)
        let start = LocalDateTime(date: date, minuteOfDay: 19 * 60).timestamp(in: .vietnam)
        let request = BookingRequest(title: "vcbridge-bench", organiser: "bench", host: central, sites: everyone,
                                     scopeText: "all", start: start, end: start + 3600)
        let t0 = monotonicNanoseconds()
        do { try store.book(request) } catch { fail("book: \(error)") }
        times.append(Double(monotonicNanoseconds() - t0) / 1e6)
    }
    times.sort()
    print("bookings=\(store.schedule.count) sites=\(everyone.count) book_median_ms=\(times[times.count / 2]) book_p90_ms=\(times[times.count * 9 / 10])")
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
