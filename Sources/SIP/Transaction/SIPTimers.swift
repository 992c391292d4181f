/// The transaction timer bases (RFC 3261 §17.1.1.1, Table 4), in milliseconds.
public struct SIPTimers: Sendable, Hashable {
    /// Round-trip estimate: 500 ms.
    public var t1: Int64
    /// Longest retransmit interval for non-INVITE requests and INVITE responses: 4 s.
    public var t2: Int64
    /// Longest time a message stays in the network: 5 s.
    public var t4: Int64
    /// How long a server transaction waits for its TU's final response before answering 408 itself (INVITE), so
    /// no transaction lives forever; also a client INVITE's longest wait in Proceeding (like a proxy's Timer C).
    public var inviteAnswerMs: Int64

    public init(t1: Int64 = 500, t2: Int64 = 4_000, t4: Int64 = 5_000, inviteAnswerMs: Int64 = 180_000) {
        self.t1 = t1
        self.t2 = t2
        self.t4 = t4
        self.inviteAnswerMs = inviteAnswerMs
    }

    public static let `default` = SIPTimers()

    /// Timers B, F, H, J, L, M: 64*T1 (32 s).
    var sixtyFourT1: Int64 { 64 * t1 }
}

/// What a transaction asks its owner to do; time is passed in as milliseconds of a monotonic clock.
public enum SIPTransactionAction: Sendable, Hashable {
    /// Send these bytes to the transaction's peer.
    case send([UInt8])
    /// Hand this message to the transaction user (the UA core / dialog layer).
    case deliver(SIPMessage)
    /// A timer ran out: for a client transaction, a locally made 408 for the TU (RFC 3261 §8.1.3.1); for a
    /// server transaction, nil (no ACK came for a final response).
    case timedOut(SIPMessage?)
    /// The transaction is over; forget it.
    case terminated
}

extension SIPMessage {
    /// The locally made 408 a client TU gets when its transaction times out.
    static func localTimeout(for request: SIPMessage) -> SIPMessage {
        SIPMessage.response(to: request, status: 408)
            ?? SIPMessage(startLine: .response(status: 408, reason: reasonPhrase(408)))
    }

    /// The To tag of a response, if any.
    var toTag: String? { (try? to())?.tag }
}
