/// The nonces of accepted requests, each kept for `lifetime` after it was accepted: long enough that a replay after
/// it is forgotten fails the request's time check anyway. Bounded: at `capacity` live nonces a new one is refused
/// (after the expired ones are dropped), so memory never grows with time or traffic. Time is the caller's (seconds).
public struct ReplayCache: Sendable {
    public enum Outcome: Sendable, Equatable {
        case accepted
        /// The nonce was accepted before and is still remembered.
        case replayed
        /// `capacity` nonces are live: nothing new can be remembered until some expire.
        case full
    }

    public let capacity: Int
    public let lifetime: Int64
    private var expiries: [[UInt8]: Int64] = [:]

    public init(capacity: Int, lifetime: Int64) {
        precondition(capacity > 0 && lifetime > 0)
        self.capacity = capacity
        self.lifetime = lifetime
    }

    /// Nonces remembered now (some may have expired since the last pruning).
    public var count: Int { expiries.count }

    /// Remembers `nonce` at `now` unless it is a replay or the cache is full of live nonces.
    public mutating func insert(_ nonce: [UInt8], now: Int64) -> Outcome {
        if let expiry = expiries[nonce] {
            if expiry > now { return .replayed }
            expiries[nonce] = nil
        }
        if expiries.count >= capacity { expiries = expiries.filter { $0.value > now } }
        guard expiries.count < capacity else { return .full }
        expiries[nonce] = now + lifetime
        return .accepted
    }
}
