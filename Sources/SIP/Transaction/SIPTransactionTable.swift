/// Names a transaction: RFC 3261 §17.2.3 matching for server transactions (top Via branch, sent-by, method with
/// ACK as INVITE), §17.1.3 for client ones (branch and CSeq method; `sentBy` empty).
public struct SIPTransactionID: Sendable, Hashable, CustomStringConvertible {
    public enum Role: Sendable, Hashable { case server, client }
    public var role: Role
    public var branch: String
    public var sentBy: String
    public var method: String

    public var description: String { "\(role == .server ? "server" : "client") \(method) \(branch) \(sentBy)" }
}

/// What the table asks its owner to do.
public enum SIPTableEvent: Sendable, Hashable {
    /// Send bytes to a peer.
    case send([UInt8], to: SIPPeer)
    /// A new request for the TU; `transaction` is where its response goes (nil for an ACK, which has none).
    case request(SIPMessage, from: SIPPeer, transaction: SIPTransactionID?)
    /// A response for the TU from one of its client transactions.
    case response(SIPMessage, transaction: SIPTransactionID)
    /// A CANCEL ended this INVITE: 200 went to the CANCEL, 487 to the INVITE.
    case cancelled(SIPTransactionID)
    /// A timer ran out (for a client transaction with the local 408 the TU gets).
    case timedOut(SIPTransactionID, SIPMessage?)
    case terminated(SIPTransactionID)
}

/// The transactions in flight, matched, bounded and driven by time passed in (milliseconds).
///
/// At most `maxTransactions` in all and `maxPerPeer` per peer address; a new request beyond either is answered
/// 503 with Retry-After at once, without a transaction. Every transaction ends by its own timers.
public struct SIPTransactionTable: Sendable {
    private enum Entry: Sendable {
        case serverInvite(SIPServerInviteTransaction)
        case serverNonInvite(SIPServerNonInviteTransaction)
        case clientInvite(SIPClientInviteTransaction)
        case clientNonInvite(SIPClientNonInviteTransaction)
    }

    private struct Slot: Sendable {
        var entry: Entry
        var peer: SIPPeer
    }

    public let timers: SIPTimers
    public let maxTransactions: Int
    public let maxPerPeer: Int
    public let retryAfterSeconds: Int
    private var slots: [SIPTransactionID: Slot] = [:]
    private var perPeer: [String: Int] = [:]
    /// Accepted server INVITEs by Call-ID and CSeq number, for the ACK of a 2xx (which has its own branch).
    private var acceptedInvites: [String: SIPTransactionID] = [:]
    private var tagCounter: UInt64 = 0
    private let tagSeed: String

    /// - Parameter tagSeed: random text (e.g. from `SecureRandom`) the To tags this table makes start with.
    public init(timers: SIPTimers = .default, maxTransactions: Int = 4096, maxPerPeer: Int = 256,
                retryAfterSeconds: Int = 5, tagSeed: String) {
        self.timers = timers
        self.maxTransactions = maxTransactions
        self.maxPerPeer = maxPerPeer
        self.retryAfterSeconds = retryAfterSeconds
        self.tagSeed = tagSeed
    }

    /// Transactions in flight.
    public var count: Int { slots.count }
    /// Entries of the per-peer and accepted-INVITE indexes (they empty as their transactions end).
    public var indexCount: Int { perPeer.count + acceptedInvites.count }

    /// The earliest timer of any transaction.
    public var nextDeadline: Int64? {
        slots.values.compactMap { slot -> Int64? in
            switch slot.entry {
            case .serverInvite(let t): t.nextDeadline
            case .serverNonInvite(let t): t.nextDeadline
            case .clientInvite(let t): t.nextDeadline
            case .clientNonInvite(let t): t.nextDeadline
            }
        }.min()
    }

    /// A message received from `peer`.
    public mutating func receive(_ message: SIPMessage, from peer: SIPPeer, now: Int64) -> [SIPTableEvent] {
        message.isRequest ? receiveRequest(message, from: peer, now: now) : receiveResponse(message, now: now)
    }

    /// The TU's response on a server transaction.
    public mutating func respond(_ response: SIPMessage, to id: SIPTransactionID, now: Int64) -> [SIPTableEvent] {
        guard var slot = slots[id] else { return [] }
        let actions: [SIPTransactionAction]
        switch slot.entry {
        case .serverInvite(var t):
            actions = t.respond(response, now: now)
            if t.state == .accepted, let key = Self.inviteKey(t.request) { acceptedInvites[key] = id }
            slot.entry = .serverInvite(t)
        case .serverNonInvite(var t):
            actions = t.respond(response, now: now)
            slot.entry = .serverNonInvite(t)
        default:
            return []
        }
        slots[id] = slot
        return apply(actions, id: id, peer: slot.peer)
    }

    /// Starts a client transaction for a request (its top Via carries our branch). Nil and no events when full.
    public mutating func send(request: SIPMessage, to peer: SIPPeer, now: Int64) -> (SIPTransactionID, [SIPTableEvent])? {
        guard let method = request.method, method != "ACK", let via = try? request.topVia(), let branch = via.branch,
              slots.count < maxTransactions, perPeer[peer.host, default: 0] < maxPerPeer
        else { return nil }
        let id = SIPTransactionID(role: .client, branch: branch, sentBy: "", method: method)
        guard slots[id] == nil else { return nil }
        let actions: [SIPTransactionAction]
        if method == "INVITE" {
            let t = SIPClientInviteTransaction(request: request, transport: peer.transport, timers: timers, now: now)
            actions = t.start()
            insert(id, Slot(entry: .clientInvite(t), peer: peer))
        } else {
            let t = SIPClientNonInviteTransaction(request: request, transport: peer.transport, timers: timers, now: now)
            actions = t.start()
            insert(id, Slot(entry: .clientNonInvite(t), peer: peer))
        }
        return (id, apply(actions, id: id, peer: peer))
    }

    /// Runs every timer due by `now`.
    public mutating func advance(now: Int64) -> [SIPTableEvent] {
        var events: [SIPTableEvent] = []
        for id in Array(slots.keys) {
            guard var slot = slots[id] else { continue }
            let actions: [SIPTransactionAction]
            switch slot.entry {
            case .serverInvite(var t): actions = t.advance(now: now); slot.entry = .serverInvite(t)
            case .serverNonInvite(var t): actions = t.advance(now: now); slot.entry = .serverNonInvite(t)
            case .clientInvite(var t): actions = t.advance(now: now); slot.entry = .clientInvite(t)
            case .clientNonInvite(var t): actions = t.advance(now: now); slot.entry = .clientNonInvite(t)
            }
            guard !actions.isEmpty else { continue }
            slots[id] = slot
            events += apply(actions, id: id, peer: slot.peer)
        }
        return events
    }

    /// The state of a server INVITE transaction (for tests and status).
    public func serverInviteState(_ id: SIPTransactionID) -> SIPServerInviteTransaction.State? {
        if case .serverInvite(let t)? = slots[id]?.entry { return t.state }
        return nil
    }

    // MARK: - Requests

    private mutating func receiveRequest(_ request: SIPMessage, from peer: SIPPeer, now: Int64) -> [SIPTableEvent] {
        guard let method = request.method, let via = try? request.topVia() else { return [] }
        let branch = via.branch.flatMap { $0.hasPrefix(SIPVia.magicCookie) ? $0 : nil } ?? Self.legacyBranch(request, via)
        let matchMethod = method == "ACK" ? "INVITE" : method
        let id = SIPTransactionID(role: .server, branch: branch, sentBy: via.sentBy.lowercased(), method: matchMethod)

        if var slot = slots[id] {
            let actions: [SIPTransactionAction]
            switch slot.entry {
            case .serverInvite(var t): actions = t.receive(request, now: now); slot.entry = .serverInvite(t)
            case .serverNonInvite(var t): actions = t.receive(request, now: now); slot.entry = .serverNonInvite(t)
            default: return []
            }
            slots[id] = slot
            return apply(actions, id: id, peer: slot.peer)
        }
        if method == "ACK" {
            // The ACK of a 2xx is its own transaction: find the INVITE by Call-ID and CSeq number.
            if let key = Self.inviteKey(request), let inviteID = acceptedInvites[key], var slot = slots[inviteID],
               case .serverInvite(var t) = slot.entry {
                let actions = t.receive(request, now: now)
                slot.entry = .serverInvite(t)
                slots[inviteID] = slot
                return apply(actions, id: inviteID, peer: slot.peer).map {
                    if case .request(let message, let from, _) = $0 { .request(message, from: from, transaction: nil) } else { $0 }
                }
            }
            return [.request(request, from: peer, transaction: nil)]
        }
        guard slots.count < maxTransactions, perPeer[peer.host, default: 0] < maxPerPeer else {
            guard var busy = SIPMessage.response(to: request, status: 503, receivedFrom: peer.transport == .udp ? peer : nil)
            else { return [] }
            busy.add("Retry-After", String(retryAfterSeconds))
            return [.send(busy.serialized(), to: peer)]
        }
        if method == "CANCEL" { return receiveCancel(request, id: id, from: peer, now: now) }
        if method == "INVITE" {
            var t = SIPServerInviteTransaction(request: request, transport: peer.transport, timers: timers, now: now)
            let trying = SIPMessage.response(to: request, status: 100, receivedFrom: udpSource(peer)).map {
                t.respond($0, now: now)
            } ?? []
            insert(id, Slot(entry: .serverInvite(t), peer: peer))
            return apply(trying, id: id, peer: peer) + [.request(request, from: peer, transaction: id)]
        }
        let t = SIPServerNonInviteTransaction(request: request, transport: peer.transport, timers: timers, now: now)
        insert(id, Slot(entry: .serverNonInvite(t), peer: peer))
        return [.request(request, from: peer, transaction: id)]
    }

    /// CANCEL (RFC 3261 §9.2): 481 if its INVITE is unknown; else 200, and 487 to the INVITE if it has no final
    /// response yet.
    private mutating func receiveCancel(_ cancel: SIPMessage, id: SIPTransactionID, from peer: SIPPeer,
                                        now: Int64) -> [SIPTableEvent] {
        let t = SIPServerNonInviteTransaction(request: cancel, transport: peer.transport, timers: timers, now: now)
        insert(id, Slot(entry: .serverNonInvite(t), peer: peer))
        var inviteID = id
        inviteID.method = "INVITE"
        guard case .serverInvite(let invite)? = slots[inviteID]?.entry else {
            return SIPMessage.response(to: cancel, status: 481, toTag: nextTag(), receivedFrom: udpSource(peer))
                .map { respond($0, to: id, now: now) } ?? []
        }
        let tag = invite.lastResponse?.toTag ?? nextTag()
        var events = SIPMessage.response(to: cancel, status: 200, toTag: tag, receivedFrom: udpSource(peer))
            .map { respond($0, to: id, now: now) } ?? []
        if invite.state == .proceeding,
           let terminated = SIPMessage.response(to: invite.request, status: 487, toTag: tag, receivedFrom: udpSource(peer)) {
            events += respond(terminated, to: inviteID, now: now)
            events.append(.cancelled(inviteID))
        }
        return events
    }

    // MARK: - Responses

    private mutating func receiveResponse(_ response: SIPMessage, now: Int64) -> [SIPTableEvent] {
        guard let via = try? response.topVia(), let branch = via.branch, let cseq = try? response.cseq() else { return [] }
        let id = SIPTransactionID(role: .client, branch: branch, sentBy: "", method: cseq.method)
        guard var slot = slots[id] else { return [] }
        let actions: [SIPTransactionAction]
        switch slot.entry {
        case .clientInvite(var t): actions = t.receive(response, now: now); slot.entry = .clientInvite(t)
        case .clientNonInvite(var t): actions = t.receive(response, now: now); slot.entry = .clientNonInvite(t)
        default: return []
        }
        slots[id] = slot
        return apply(actions, id: id, peer: slot.peer)
    }

    // MARK: - Bookkeeping

    private mutating func apply(_ actions: [SIPTransactionAction], id: SIPTransactionID, peer: SIPPeer) -> [SIPTableEvent] {
        var events: [SIPTableEvent] = []
        for action in actions {
            switch action {
            case .send(let bytes): events.append(.send(bytes, to: peer))
            case .deliver(let message):
                events.append(message.isRequest ? .request(message, from: peer, transaction: id)
                                                : .response(message, transaction: id))
            case .timedOut(let response): events.append(.timedOut(id, response))
            case .terminated:
                remove(id)
                events.append(.terminated(id))
            }
        }
        return events
    }

    private mutating func insert(_ id: SIPTransactionID, _ slot: Slot) {
        slots[id] = slot
        perPeer[slot.peer.host, default: 0] += 1
    }

    private mutating func remove(_ id: SIPTransactionID) {
        guard let slot = slots.removeValue(forKey: id) else { return }
        let left = perPeer[slot.peer.host, default: 1] - 1
        perPeer[slot.peer.host] = left > 0 ? left : nil
        if case .serverInvite(let t) = slot.entry, let key = Self.inviteKey(t.request), acceptedInvites[key] == id {
            acceptedInvites[key] = nil
        }
    }

    private mutating func nextTag() -> String {
        tagCounter &+= 1
        return tagSeed + String(tagCounter, radix: 36)
    }

    private func udpSource(_ peer: SIPPeer) -> SIPPeer? { peer.transport == .udp ? peer : nil }

    private static func inviteKey(_ message: SIPMessage) -> String? {
        guard let callID = message.callID, let cseq = try? message.cseq() else { return nil }
        return "\(callID) \(cseq.number)"
    }

    /// RFC 2543 peers have no magic-cookie branch: match by Call-ID, CSeq number, From tag and the branch as given.
    private static func legacyBranch(_ request: SIPMessage, _ via: SIPVia) -> String {
        let number = (try? request.cseq()).map { String($0.number) } ?? ""
        let fromTag = (try? request.from())?.tag ?? ""
        return "legacy:\(request.callID ?? "") \(number) \(fromTag) \(via.branch ?? "")"
    }
}
