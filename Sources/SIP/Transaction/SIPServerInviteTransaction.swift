/// The INVITE server transaction (RFC 3261 §17.2.1 with RFC 6026's Accepted state).
///
/// Proceeding: a retransmitted INVITE gets the last provisional again. A 2xx moves to Accepted, where the 2xx is
/// retransmitted at T1, 2T1, ... capped at T2 until an ACK (or 64*T1: timed out, the TU should BYE), and INVITE
/// retransmissions are absorbed until Timer L. A 300-699 moves to Completed: retransmitted by Timer G (unreliable
/// transports only) until an ACK (Confirmed, Timer I) or Timer H.
public struct SIPServerInviteTransaction: Sendable {
    public enum State: Sendable, Hashable { case proceeding, accepted, completed, confirmed, terminated }

    public private(set) var state: State = .proceeding
    public let request: SIPMessage
    public let reliable: Bool
    let timers: SIPTimers
    /// The last response sent (provisional in Proceeding, final after).
    public private(set) var lastResponse: SIPMessage?
    private var lastResponseBytes: [UInt8]?
    private var retransmitAt: Int64?
    private var retransmitInterval: Int64 = 0
    /// Timer H (Completed), the 2xx give-up (Accepted, before the ACK), or the TU's deadline (Proceeding).
    private var giveUpAt: Int64?
    /// Timer I (Confirmed) or Timer L (Accepted).
    private var endAt: Int64?
    /// An ACK for the 2xx arrived (Accepted).
    public private(set) var acknowledged = false

    public init(request: SIPMessage, transport: SIPTransportKind, timers: SIPTimers = .default, now: Int64) {
        self.request = request
        self.reliable = transport.isReliable
        self.timers = timers
        self.giveUpAt = now + timers.inviteAnswerMs
    }

    /// The TU's response (or the table's 100 Trying).
    public mutating func respond(_ response: SIPMessage, now: Int64) -> [SIPTransactionAction] {
        guard state == .proceeding, let status = response.statusCode else { return [] }
        let bytes = response.serialized()
        lastResponse = response
        lastResponseBytes = bytes
        switch status {
        case 100...199:
            return [.send(bytes)]
        case 200...299:
            state = .accepted
            retransmitInterval = timers.t1
            retransmitAt = now + timers.t1
            giveUpAt = now + timers.sixtyFourT1
            endAt = now + timers.sixtyFourT1
            return [.send(bytes)]
        default:
            state = .completed
            retransmitInterval = timers.t1
            retransmitAt = reliable ? nil : now + timers.t1
            giveUpAt = now + timers.sixtyFourT1
            return [.send(bytes)]
        }
    }

    /// A retransmitted INVITE or an ACK matched to this transaction (an ACK for a 2xx is matched by the table).
    public mutating func receive(_ message: SIPMessage, now: Int64) -> [SIPTransactionAction] {
        let isAck = message.method == "ACK"
        switch state {
        case .proceeding:
            if !isAck, let bytes = lastResponseBytes { return [.send(bytes)] }
            return []
        case .completed:
            if isAck {
                state = .confirmed
                retransmitAt = nil
                giveUpAt = nil
                endAt = now + (reliable ? 0 : timers.t4)
                return advance(now: now)
            }
            return lastResponseBytes.map { [.send($0)] } ?? []
        case .accepted:
            guard isAck else { return [] }
            acknowledged = true
            retransmitAt = nil
            giveUpAt = nil
            return [.deliver(message)]
        case .confirmed, .terminated:
            return []
        }
    }

    /// Runs the timers due by `now`.
    public mutating func advance(now: Int64) -> [SIPTransactionAction] {
        var actions: [SIPTransactionAction] = []
        while state != .terminated, let deadline = nextDeadline, deadline <= now {
            if let giveUp = giveUpAt, giveUp == deadline {
                if state == .proceeding {
                    // The TU never answered: answer 408 so the peer is not left waiting, then finish as Completed.
                    let tag = lastResponse?.toTag
                    giveUpAt = nil
                    if let timeout = SIPMessage.response(to: request, status: 408, toTag: tag ?? "t408") {
                        actions += respond(timeout, now: deadline)
                    } else {
                        state = .terminated
                        actions.append(.terminated)
                    }
                } else {
                    state = .terminated
                    actions += [.timedOut(nil), .terminated]
                }
            } else if let end = endAt, end == deadline {
                state = .terminated
                actions.append(.terminated)
            } else if let at = retransmitAt, at == deadline, let bytes = lastResponseBytes {
                actions.append(.send(bytes))
                retransmitInterval = min(retransmitInterval * 2, timers.t2)
                retransmitAt = at + retransmitInterval
            } else {
                break
            }
        }
        return actions
    }

    /// The earliest timer, if any runs.
    public var nextDeadline: Int64? {
        [retransmitAt, giveUpAt, endAt].compactMap { $0 }.min()
    }
}
