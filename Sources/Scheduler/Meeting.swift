import CivilTime
import SiteDirectory

public typealias MeetingID = UInt32

/// One booked meeting (a single occurrence, for a recurring booking).
public struct Meeting: Sendable, Identifiable {
    public enum Status: UInt8, Sendable, CustomStringConvertible {
        case scheduled = 0
        case cancelled = 1
        /// Displaced whole by a higher-level meeting (preemption).
        case displaced = 2

        public var description: String {
            switch self {
            case .scheduled: "scheduled"
            case .cancelled: "cancelled"
            case .displaced: "displaced"
            }
        }
    }

    /// How one site is reached: the site and the site its media cascades through
    /// (the host's upstream is the host itself).
    public struct Link: Hashable, Sendable {
        private let siteIndex: UInt8
        private let upstreamIndex: UInt8
        /// Directory index of the site.
        public var site: Int { Int(siteIndex) }
        /// Directory index of the site its media comes through.
        public var upstream: Int { Int(upstreamIndex) }

        init(site: Int, upstream: Int) {
            siteIndex = UInt8(site)
            upstreamIndex = UInt8(upstream)
        }
    }

    /// A higher-level meeting took some (or all) of this meeting's sites.
    public struct Notice: Hashable, Sendable {
        public let at: Timestamp
        public let by: MeetingID
        public let sites: SiteSet
        public let whole: Bool
    }

    public let id: MeetingID
    /// The first occurrence's id; equal to `id` for a one-off meeting.
    public let seriesID: MeetingID
    /// 0-based position in the series.
    public let occurrence: Int
    public let occurrenceCount: Int
    public let title: String
    public let organiser: String
    /// Directory index of the hosting site.
    public let host: Int
    public let level: SiteLevel
    public internal(set) var start: Timestamp
    public internal(set) var end: Timestamp
    /// The setup window before `start` in which the sites are reserved for link tests.
    public let setupSeconds: Int64
    /// Every booked site with its cascade upstream, host first.
    public let links: [Link]
    /// Booked sites that still take part (booked minus displaced).
    public internal(set) var sites: SiteSet
    public internal(set) var displaced: SiteSet
    public internal(set) var status: Status
    /// The scope as the secretariat entered it ("district:song-lo,-lang-cong").
    public let scope: String
    /// The recurrence rule (RRULE value) of the series, empty for a one-off meeting.
    public let rule: String
    public let bookedAt: Timestamp
    public internal(set) var notices: [Notice]
    /// Times the meeting was moved or extended.
    public internal(set) var revisions: Int
    /// The upstream MCU's SIP address the bridge calls as one participant of the meeting (`--cascade-up`); the
    /// link is booked as the host's upstream site (its parent in the directory). Nil for most meetings.
    public internal(set) var cascadeUp: String? = nil

    /// The site the upstream link is admitted as: the host's parent, when the meeting cascades up.
    public func cascadeSite(in directory: SiteDirectory) -> Site? {
        cascadeUp == nil ? nil : directory.parent(of: directory[host])
    }

    /// When its sites become reserved: the setup window before the start.
    public var reservedFrom: Timestamp { start - setupSeconds }

    /// Whether it still takes bridge ports and sites.
    public var isActive: Bool { status == .scheduled && !sites.isEmpty }
}
