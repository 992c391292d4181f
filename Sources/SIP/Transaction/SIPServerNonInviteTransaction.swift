/// The non-INVITE server transaction (RFC 3261 §17.2.2): Trying, Proceeding (a retransmitted request gets the last
/// provisional), Completed (the final response again) until Timer J (64*T1 on UDP, 0 on TCP/TLS). A TU that never
/// answers within 64*T1 gets a 408 sent for it, so no transaction lives forever.
public struct SIPServerNonInviteTransaction: Sendable {
    public enum State: Sendable, Hashable { case trying, proceeding, completed, terminated }

    public private(set) var state: State = .trying
    public let request: SIPMessage
    public let reliable: Bool
    let timers: SIPTimers
    public private(set) var lastResponse: SIPMessage?
    private var lastResponseBytes: [UInt8]?
    private var answerBy: Int64?
    private var endAt: Int64?

    public init(request: SIPMessage, transport: SIPTransportKind, timers: SIPTimers = .default, now: Int64) {
        self.request = request
        self.reliable = transport.isReliable
        self.timers = timers
        self.answerBy = now + timers.sixtyFourT1
    }

    public mutating func respond(_ response: SIPMessage, now: Int64) -> [SIPTransactionAction] {
        guard state == .trying || state == .proceeding, let status = response.statusCode else { return [] }
        let bytes = response.serialized()
        lastResponse = response
        lastResponseBytes = bytes
        if status < 200 {
            state = .proceeding
            return [.send(bytes)]
        }
        state = .completed
        answerBy = nil
        endAt = now + (reliable ? 0 : timers.sixtyFourT1)
        return [.send(bytes)] + advance(now: now)
    }

    /// A retransmission of the request.
    public mutating func receive(_ message: SIPMessage, now: Int64) -> [SIPTransactionAction] {
        switch state {
        case .proceeding, .completed: lastResponseBytes.map { [.send($0)] } ?? []
        case .trying, .terminated: []
        }
    }

    public mutating func advance(now: Int64) -> [SIPTransactionAction] {
        var actions: [SIPTransactionAction] = []
        if let answerBy, answerBy <= now, state == .trying || state == .proceeding {
            if let timeout = SIPMessage.response(to: request, status: 408, toTag: lastResponse?.toTag) {
                actions += respond(timeout, now: answerBy)
            } else {
                self.answerBy = nil
                state = .terminated
                return [.terminated]
            }
        }
        if let endAt, endAt <= now, state == .completed {
            state = .terminated
            actions.append(.terminated)
        }
        return actions
    }

    public var nextDeadline: Int64? { state == .completed ? endAt : (state == .terminated ? nil : answerBy) }
}
