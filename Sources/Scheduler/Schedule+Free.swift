import CivilTime

/// A time from which a booking of the asked duration fits, and how long it stays free.
public struct FreeSlot: Sendable, Equatable {
    public let start: Timestamp
    public let freeUntil: Timestamp
}

extension Schedule {
    /// The earliest start times at which `sites` and the bridge are free for `duration`
    /// (setup window included), within [from, to), optionally only in working hours on working days.
    public func freeSlots(
        sites: SiteSet, duration: Int64, setup: Int64, from: Timestamp, to: Timestamp, capacity: Int,
        workingHours: ClosedRange<Int>?, workingDays: Set<Weekday>?, zone: ZoneOffset, limit: Int
    ) -> [FreeSlot] {
        var windows: [(start: Timestamp, end: Timestamp)] = []
        if let hours = workingHours {
            var day = LocalDateTime(from, in: zone).date
            let lastDay = LocalDateTime(to, in: zone).date
            while day <= lastDay {
                if workingDays?.contains(day.weekday) ?? true {
                    let open = LocalDateTime(date: day, minuteOfDay: hours.lowerBound).timestamp(in: zone)
                    let close = LocalDateTime(date: day, minuteOfDay: hours.upperBound).timestamp(in: zone)
                    let start = max(open, from)
                    let end = min(close, to)
                    if end - start >= duration { windows.append((start, end)) }
                }
                day = day.adding(days: 1)
            }
        } else if to - from >= duration {
            windows = [(from, to)]
        }

        func fits(_ start: Timestamp, _ end: Timestamp) -> Bool {
            (try? plan(occurrences: [(start, end)], sites: sites, host: 0, level: .central, setup: setup,
                       excluding: [], preempt: false, capacity: capacity, zone: zone, strict: true)) != nil
        }

        var slots: [FreeSlot] = []
        for window in windows {
            // A slot can open at the window's start or when something ends (plus our setup window).
            var candidates: Set<Timestamp> = [window.start]
            var boundaries: Set<Timestamp> = [window.end]
            forEachSlot(reservedDuring: window.start - setup, window.end) { m in
                guard m.isActive else { return }
                let opens = roundUp(m.end + setup, to: 300)
                if opens > window.start && opens + duration <= window.end { candidates.insert(opens) }
                if m.reservedFrom > window.start && m.reservedFrom < window.end { boundaries.insert(m.reservedFrom) }
            }
            var coveredUntil = window.start
            for start in candidates.sorted() where start >= coveredUntil && start + duration <= window.end {
                guard fits(start, start + duration) else { continue }
                var freeUntil = start + duration
                for boundary in boundaries.sorted() where boundary > freeUntil {
                    guard fits(start, boundary) else { break }
                    freeUntil = boundary
                }
                slots.append(FreeSlot(start: start, freeUntil: freeUntil))
                coveredUntil = freeUntil
                if slots.count >= limit { return slots }
            }
        }
        return slots
    }
}

func roundUp(_ t: Timestamp, to step: Int64) -> Timestamp {
    let r = t % step
    return r == 0 ? t : t + (step - r)
}
