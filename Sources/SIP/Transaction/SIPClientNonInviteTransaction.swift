/// The non-INVITE client transaction (RFC 3261 §17.1.2): the request retransmitted by Timer E (T1 doubling to T2,
/// then T2 once a provisional came; unreliable transports only) until a final response (Completed, Timer K: T4 on
/// UDP, 0 on TCP/TLS) or Timer F (64*T1: a local 408 for the TU).
public struct SIPClientNonInviteTransaction: Sendable {
    public enum State: Sendable, Hashable { case trying, proceeding, completed, terminated }

    public private(set) var state: State = .trying
    public let request: SIPMessage
    public let reliable: Bool
    let timers: SIPTimers
    private let requestBytes: [UInt8]
    private var retransmitAt: Int64?
    private var retransmitInterval: Int64
    private var giveUpAt: Int64?
    private var endAt: Int64?

    public init(request: SIPMessage, transport: SIPTransportKind, timers: SIPTimers = .default, now: Int64) {
        self.request = request
        self.reliable = transport.isReliable
        self.timers = timers
        self.requestBytes = request.serialized()
        self.retransmitInterval = timers.t1
        self.retransmitAt = reliable ? nil : now + timers.t1
        self.giveUpAt = now + timers.sixtyFourT1
    }

    public func start() -> [SIPTransactionAction] { [.send(requestBytes)] }

    public mutating func receive(_ response: SIPMessage, now: Int64) -> [SIPTransactionAction] {
        guard let status = response.statusCode, state == .trying || state == .proceeding else { return [] }
        if status < 200 {
            state = .proceeding
            return [.deliver(response)]
        }
        state = .completed
        retransmitAt = nil
        giveUpAt = nil
        endAt = now + (reliable ? 0 : timers.t4)
        return [.deliver(response)] + advance(now: now)
    }

    public mutating func advance(now: Int64) -> [SIPTransactionAction] {
        var actions: [SIPTransactionAction] = []
        while state != .terminated, let deadline = nextDeadline, deadline <= now {
            if let giveUp = giveUpAt, giveUp == deadline {
                state = .terminated
                actions += [.timedOut(SIPMessage.localTimeout(for: request)), .terminated]
            } else if let end = endAt, end == deadline {
                state = .terminated
                actions.append(.terminated)
            } else if let at = retransmitAt, at == deadline {
                actions.append(.send(requestBytes))
                retransmitInterval = state == .proceeding ? timers.t2 : min(retransmitInterval * 2, timers.t2)
                retransmitAt = at + retransmitInterval
            } else {
                break
            }
        }
        return actions
    }

    public var nextDeadline: Int64? { [retransmitAt, giveUpAt, endAt].compactMap { $0 }.min() }
}
