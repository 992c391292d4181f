/// The INVITE client transaction (RFC 3261 §17.1.1 with RFC 6026's Accepted state).
///
/// Calling: the INVITE is retransmitted by Timer A (T1, doubling; unreliable transports only) until a response or
/// Timer B (64*T1: a local 408 for the TU). Provisional responses move to Proceeding (at most
/// ``SIPTimers/inviteAnswerMs``, then a local 408: the TU should CANCEL). A 2xx moves to Accepted (every 2xx goes to
/// the TU, which ACKs it) until Timer M; a 300-699 is ACKed here and moves to Completed until Timer D.
public struct SIPClientInviteTransaction: Sendable {
    public enum State: Sendable, Hashable { case calling, proceeding, accepted, completed, terminated }

    public private(set) var state: State = .calling
    public let request: SIPMessage
    public let reliable: Bool
    let timers: SIPTimers
    private let requestBytes: [UInt8]
    private var ackBytes: [UInt8]?
    private var retransmitAt: Int64?
    private var retransmitInterval: Int64
    /// Timer B (Calling) or the longest Proceeding.
    private var giveUpAt: Int64?
    /// Timer D (Completed) or Timer M (Accepted).
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

    /// The first transmission.
    public func start() -> [SIPTransactionAction] { [.send(requestBytes)] }

    /// A response matched to this transaction.
    public mutating func receive(_ response: SIPMessage, now: Int64) -> [SIPTransactionAction] {
        guard let status = response.statusCode else { return [] }
        switch (state, status) {
        case (.calling, 100...199), (.proceeding, 100...199):
            if state == .calling {
                state = .proceeding
                retransmitAt = nil
                giveUpAt = now + timers.inviteAnswerMs
            }
            return [.deliver(response)]
        case (.calling, 200...299), (.proceeding, 200...299):
            state = .accepted
            retransmitAt = nil
            giveUpAt = nil
            endAt = now + timers.sixtyFourT1
            return [.deliver(response)]
        case (.accepted, 200...299):
            return [.deliver(response)]
        case (.calling, 300...699), (.proceeding, 300...699):
            state = .completed
            retransmitAt = nil
            giveUpAt = nil
            endAt = now + (reliable ? 0 : 32_000)
            let ack = Self.ack(for: request, response: response).serialized()
            ackBytes = ack
            return [.send(ack), .deliver(response)] + advance(now: now)
        case (.completed, 300...699):
            return ackBytes.map { [.send($0)] } ?? []
        default:
            return []
        }
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
                retransmitInterval *= 2
                retransmitAt = at + retransmitInterval
            } else {
                break
            }
        }
        return actions
    }

    public var nextDeadline: Int64? { [retransmitAt, giveUpAt, endAt].compactMap { $0 }.min() }

    /// The ACK for a non-2xx final response (RFC 3261 §17.1.1.3): the INVITE's Request-URI, top Via, From, Call-ID,
    /// CSeq number and Route; the response's To (with its tag).
    static func ack(for invite: SIPMessage, response: SIPMessage) -> SIPMessage {
        var ack = SIPMessage(startLine: .request(method: "ACK", uri: invite.requestURI ?? ""))
        if let via = invite.value("Via") { ack.add("Via", via) }
        ack.add("Max-Forwards", "70")
        if let from = invite.value("From") { ack.add("From", from) }
        if let to = response.value("To") ?? invite.value("To") { ack.add("To", to) }
        if let callID = invite.callID { ack.add("Call-ID", callID) }
        if let cseq = try? invite.cseq() { ack.add("CSeq", "\(cseq.number) ACK") }
        for route in invite.values("Route") { ack.add("Route", route) }
        return ack
    }
}
