/// Session timers (RFC 4028) from the caller's side of an INVITE (the bridge dialling a hall or its upstream MCU):
/// what the INVITE asks for, one retry after a 422 with the interval it names, and the timer the 2xx sets up.
/// Refreshing and ending the session are ``SIPSessionTimer``'s.
public struct SIPCallerSessionTimer: Sendable, Hashable {
    /// The longest interval a 422 may push the bridge to (a day): beyond it a dead call would hold its port too long.
    public static let maximumSeconds: UInt32 = 86_400

    public let policy: SIPSessionTimer.Policy
    /// What the next INVITE asks for (Session-Expires) and the floor it states (Min-SE).
    public private(set) var intervalSeconds: UInt32
    public private(set) var minimumSeconds: UInt32
    /// A 422 was answered already (a second one fails the call).
    public private(set) var retried = false

    public init(policy: SIPSessionTimer.Policy = SIPSessionTimer.Policy()) {
        self.policy = policy
        intervalSeconds = policy.defaultSeconds
        minimumSeconds = policy.minimumSeconds
    }

    /// Supported: timer, Session-Expires (no refresher: the UAS may choose, RFC 4028 §7.1) and Min-SE.
    public var inviteHeaders: [SIPHeader] {
        [SIPHeader("Supported", "timer"), SIPHeader("Session-Expires", String(intervalSeconds)),
         SIPHeader("Min-SE", String(minimumSeconds))]
    }

    /// What to do after a 422.
    public enum After422: Sendable, Hashable {
        /// Send the INVITE again with ``inviteHeaders`` (now asking for the 422's Min-SE).
        case retry
        /// The call fails, for this reason.
        case refuse(String)
    }

    /// A 422 (Session Interval Too Small) to the INVITE: retried once with its Min-SE as both the interval and the
    /// floor (RFC 4028 §7.4), unless it names none, one not above what was asked, or one over a day.
    public mutating func rejected(_ response: SIPMessage) -> After422 {
        guard let minSE = (try? response.minSE()).flatMap({ $0 }) else { return .refuse("422 without a Min-SE") }
        guard !retried else {
            return .refuse("422 again after retrying with Session-Expires \(intervalSeconds) (Min-SE \(minSE))")
        }
        guard minSE > intervalSeconds else {
            return .refuse("422 with Min-SE \(minSE), not above the \(intervalSeconds) s asked")
        }
        guard minSE <= Self.maximumSeconds else {
            return .refuse("422 with Min-SE \(minSE), over the \(Self.maximumSeconds) s the bridge accepts")
        }
        retried = true
        intervalSeconds = minSE
        minimumSeconds = minSE
        return .retry
    }

    /// The session timer the 2xx sets up at `now`: its Session-Expires (at least the policy's floor) and refresher
    /// (absent: the UAC, RFC 4028 §7.2); nil when the 2xx has none (the far end does not do timers).
    public func timer(answeredBy response: SIPMessage, now: Int64) -> SIPSessionTimer? {
        guard let expires = (try? response.sessionExpires()).flatMap({ $0 }) else { return nil }
        return SIPSessionTimer(intervalSeconds: max(expires.seconds, policy.minimumSeconds),
                               refresher: expires.refresher ?? .uac, weAreUAC: true, now: now)
    }
}

extension SIPSessionTimer {
    /// The final answer to a refresh the bridge sent (`status`; 408 when its transaction timed out, with no
    /// `response`) at `now`: a 2xx refreshes the session (taking a Session-Expires it names, refresher kept as the
    /// dialog's); anything else is a failed refresh, and the call ends with BYE (RFC 4028 §10).
    public mutating func refreshAnswered(status: Int, response: SIPMessage?, now: Int64) -> Action? {
        guard (200..<300).contains(status) else { return .bye }
        let expires = response.flatMap { (try? $0.sessionExpires()).flatMap { $0 } }
        refreshed(now: now, interval: expires.map { max($0.seconds, 90) })
        return nil
    }
}
