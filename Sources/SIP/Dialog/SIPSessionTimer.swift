/// Session timers (RFC 4028): the interval negotiated for a dialog, who refreshes it, and when to refresh or end it.
public struct SIPSessionTimer: Sendable, Hashable {
    /// What we accept and ask for.
    public struct Policy: Sendable, Hashable {
        /// The smallest interval we accept (Min-SE): 90 s (RFC 4028 §4 says at least 90).
        public var minimumSeconds: UInt32
        /// The interval we ask for or pick: 1800 s.
        public var defaultSeconds: UInt32

        public init(minimumSeconds: UInt32 = 90, defaultSeconds: UInt32 = 1800) {
            self.minimumSeconds = max(90, minimumSeconds)
            self.defaultSeconds = max(self.minimumSeconds, defaultSeconds)
        }
    }

    /// What to do now.
    public enum Action: Sendable, Hashable {
        /// Send a refresh (re-INVITE or UPDATE): half the interval has passed.
        case refresh
        /// No refresh came in time: end the dialog with BYE (RFC 4028 §10).
        case bye
    }

    /// The negotiated interval, seconds.
    public private(set) var intervalSeconds: UInt32
    /// Who refreshes, as named in Session-Expires.
    public private(set) var refresher: SIPSessionExpires.Refresher
    /// Whether we are that refresher.
    public private(set) var weRefresh: Bool
    /// When the session was last refreshed (ms).
    public private(set) var lastRefresh: Int64
    private var refreshSent = false

    public init(intervalSeconds: UInt32, refresher: SIPSessionExpires.Refresher, weAreUAC: Bool, now: Int64) {
        self.intervalSeconds = intervalSeconds
        self.refresher = refresher
        self.weRefresh = (refresher == .uac) == weAreUAC
        self.lastRefresh = now
    }

    /// When we send a refresh (half the interval), if we refresh.
    public var refreshAt: Int64? { weRefresh && !refreshSent ? lastRefresh + Int64(intervalSeconds) * 500 : nil }

    /// When the session ends without a refresh: the interval minus min(32 s, a third of it) (RFC 4028 §10).
    public var expiresAt: Int64 {
        let interval = Int64(intervalSeconds) * 1000
        return lastRefresh + interval - min(32_000, interval / 3)
    }

    /// What is due at `now` (a refresh is asked for once until ``refreshed(now:interval:refresher:weAreUAC:)``).
    public mutating func advance(now: Int64) -> Action? {
        if now >= expiresAt { return .bye }
        if let refreshAt, now >= refreshAt {
            refreshSent = true
            return .refresh
        }
        return nil
    }

    /// A refresh succeeded (a 2xx to a re-INVITE or UPDATE, sent or received) at `now`, perhaps renegotiating.
    public mutating func refreshed(now: Int64, interval: UInt32? = nil, refresher: SIPSessionExpires.Refresher? = nil,
                                   weAreUAC: Bool? = nil) {
        lastRefresh = now
        refreshSent = false
        if let interval { intervalSeconds = interval }
        if let refresher, let weAreUAC {
            self.refresher = refresher
            weRefresh = (refresher == .uac) == weAreUAC
        }
    }

    /// The UAS's answer to a session-refresh-capable request (RFC 4028 §9).
    public enum Answer: Sendable, Hashable {
        /// 422 Session Interval Too Small with these headers (Min-SE).
        case reject(status: Int, reason: String, headers: [SIPHeader])
        /// Accept: put `headers` (Session-Expires, Require: timer when the UAC refreshes) in the 2xx; run `timer`.
        case accept(timer: SIPSessionTimer, headers: [SIPHeader])
    }

    /// Negotiates as UAS for an INVITE or UPDATE received at `now`.
    public static func answer(request: SIPMessage, policy: Policy = Policy(), now: Int64) -> Answer {
        let asked = try? request.sessionExpires()
        let theirMin = (try? request.minSE()).flatMap { $0 } ?? 90
        if let asked, asked.seconds < policy.minimumSeconds {
            return .reject(status: 422, reason: "Session Interval Too Small",
                           headers: [SIPHeader("Min-SE", String(policy.minimumSeconds))])
        }
        // A UAS may lower the interval (RFC 4028 §9), never below either side's Min-SE: a bridge wants a dead call
        // found within its default interval.
        let interval = max(min(asked?.seconds ?? policy.defaultSeconds, policy.defaultSeconds), theirMin, policy.minimumSeconds)
        let uacSupports = (request.tokens("Supported") + request.tokens("Require")).contains { $0.lowercased() == "timer" }
        let refresher: SIPSessionExpires.Refresher = uacSupports ? (asked?.refresher ?? .uac) : .uas
        var headers = [SIPHeader("Session-Expires", SIPSessionExpires(seconds: interval, refresher: refresher).description)]
        if refresher == .uac { headers.append(SIPHeader("Require", "timer")) }
        let timer = SIPSessionTimer(intervalSeconds: interval, refresher: refresher, weAreUAC: false, now: now)
        return .accept(timer: timer, headers: headers)
    }

    /// The headers a UAC puts in its INVITE: Supported, Session-Expires, Min-SE (after a 422, `interval` is the
    /// larger of ours and the Min-SE it named: see ``interval(after422:policy:)``).
    public static func offerHeaders(policy: Policy = Policy(), interval: UInt32? = nil) -> [SIPHeader] {
        let seconds = max(interval ?? policy.defaultSeconds, policy.minimumSeconds)
        return [SIPHeader("Supported", "timer"), SIPHeader("Session-Expires", String(seconds)),
                SIPHeader("Min-SE", String(policy.minimumSeconds))]
    }

    /// The interval to ask for again after a 422 (RFC 4028 §7.4): its Min-SE, at least our own; nil if it had none.
    public static func interval(after422 response: SIPMessage, policy: Policy = Policy()) -> UInt32? {
        guard response.statusCode == 422, let minSE = (try? response.minSE()).flatMap({ $0 }) else { return nil }
        return max(minSE, policy.minimumSeconds)
    }

    /// The UAC's timer from the 2xx it received at `now`; nil when the 2xx has no Session-Expires (no timer).
    public static func accepted(response: SIPMessage, now: Int64) -> SIPSessionTimer? {
        guard let expires = (try? response.sessionExpires()).flatMap({ $0 }) else { return nil }
        return SIPSessionTimer(intervalSeconds: expires.seconds, refresher: expires.refresher ?? .uac, weAreUAC: true,
                               now: now)
    }
}
