import Testing
@testable import SIP

private let hall = SIPPeer(host: "198.51.100.7", port: 5062, transport: .udp)
private let hallTCP = SIPPeer(host: "198.51.100.7", port: 5062, transport: .tcp)

private func request(_ method: String, branch: String = "z9hG4bKinv1", cseq: UInt32 = 1, callID: String = "call-1",
                     transport: String = "UDP", host: String = "198.51.100.7", toTag: String? = nil) -> SIPMessage {
    var message = SIPMessage(startLine: .request(method: method, uri: "sip:meeting@192.0.2.10"))
    message.add("Via", "SIP/2.0/\(transport) \(host):5062;branch=\(branch);rport")
    message.add("Max-Forwards", "70")
    message.add("From", "<sip:hall@198.51.100.7>;tag=from1")
    message.add("To", "<sip:meeting@192.0.2.10>" + (toTag.map { ";tag=\($0)" } ?? ""))
    message.add("Call-ID", callID)
    message.add("CSeq", "\(cseq) \(method)")
    return message
}

private func sentStatuses(_ events: [SIPTableEvent]) -> [Int] {
    events.compactMap {
        if case .send(let bytes, _) = $0 { (try? SIPMessage.parse(datagram: bytes))?.statusCode } else { nil }
    }
}

private func sentMethods(_ events: [SIPTableEvent]) -> [String] {
    events.compactMap {
        if case .send(let bytes, _) = $0 { (try? SIPMessage.parse(datagram: bytes))?.method } else { nil }
    }
}

/// Advances a table millisecond by millisecond range in steps, recording when bytes were sent.
private func run(_ table: inout SIPTransactionTable, from start: Int64, to end: Int64, step: Int64 = 10)
    -> [(Int64, SIPTableEvent)] {
    var out: [(Int64, SIPTableEvent)] = []
    var now = start
    while now <= end {
        for event in table.advance(now: now) { out.append((now, event)) }
        now += step
    }
    return out
}

@Suite("SIP transactions (RFC 3261 §17, RFC 6026)")
struct SIPTransactionTests {
    @Test("INVITE server: 100 Trying at once, 200 OK retransmitted at 0.5, 1, 2, 4, 4, 4 s intervals until ACK")
    func inviteServer2xxUntilAck() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let invite = request("INVITE")
        let first = table.receive(invite, from: hall, now: 0)
        #expect(sentStatuses(first) == [100])
        guard case .request(_, _, let id?) = first.last else { Issue.record("not delivered"); return }
        let ok = try #require(SIPMessage.response(to: invite, status: 200, toTag: "bridge1", receivedFrom: hall))
        #expect(sentStatuses(table.respond(ok, to: id, now: 0)) == [200])
        let events = run(&table, from: 0, to: 20_000)
        let times = events.compactMap { if case .send = $0.1 { $0.0 } else { nil } }
        #expect(times == [500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500])
        // The ACK (its own branch) stops the retransmissions and reaches the TU.
        let ackEvents = table.receive(request("ACK", branch: "z9hG4bKack1", toTag: "bridge1"), from: hall, now: 20_000)
        #expect(ackEvents.count == 1)
        if case .request(let ack, _, nil)? = ackEvents.first { #expect(ack.method == "ACK") } else { Issue.record("ACK not delivered") }
        let after = run(&table, from: 20_000, to: 40_000)
        #expect(!after.contains { if case .send = $0.1 { true } else { false } })
        #expect(table.count == 0, "Timer L ended it")
    }

    @Test("INVITE server: no ACK for the 200 → retransmitted until 32 s, then timed out for the TU and gone")
    func inviteServer2xxNoAck() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let invite = request("INVITE")
        guard case .request(_, _, let id?) = table.receive(invite, from: hall, now: 0).last else { return }
        _ = table.respond(try #require(SIPMessage.response(to: invite, status: 200, toTag: "b")), to: id, now: 0)
        let events = run(&table, from: 0, to: 40_000)
        let times = events.compactMap { if case .send = $0.1 { $0.0 } else { nil } }
        #expect(times == [500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500])
        #expect(events.contains { $0.0 == 32_000 && $0.1 == .timedOut(id, nil) })
        #expect(events.contains { $0.0 == 32_000 && $0.1 == .terminated(id) })
        #expect(table.count == 0)
    }

    @Test("a retransmitted INVITE gets the last provisional again")
    func retransmittedInvite() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let invite = request("INVITE")
        guard case .request(_, _, let id?) = table.receive(invite, from: hall, now: 0).last else { return }
        #expect(sentStatuses(table.receive(invite, from: hall, now: 300)) == [100])
        _ = table.respond(try #require(SIPMessage.response(to: invite, status: 180, toTag: "b")), to: id, now: 400)
        let again = table.receive(invite, from: hall, now: 900)
        #expect(sentStatuses(again) == [180])
        #expect(!again.contains { if case .request = $0 { true } else { false } }, "not a new request for the TU")
    }

    @Test("CANCEL: 200 for the CANCEL, 487 for the INVITE, which ends after its ACK")
    func cancel() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let invite = request("INVITE")
        guard case .request(_, _, let id?) = table.receive(invite, from: hall, now: 0).last else { return }
        _ = table.respond(try #require(SIPMessage.response(to: invite, status: 180, toTag: "ring")), to: id, now: 10)
        let events = table.receive(request("CANCEL"), from: hall, now: 1_000)
        #expect(sentStatuses(events) == [200, 487])
        #expect(events.contains(.cancelled(id)))
        let responses = events.compactMap { if case .send(let b, _) = $0 { try? SIPMessage.parse(datagram: b) } else { nil } }
        #expect(responses.allSatisfy { $0.toTag == "ring" })
        #expect(responses[1].value("CSeq") == "1 INVITE" && responses[0].value("CSeq") == "1 CANCEL")
        // 487 retransmitted (Timer G) until the ACK for it (same branch).
        #expect(run(&table, from: 1_001, to: 1_600).contains { if case .send = $0.1 { true } else { false } })
        #expect(table.receive(request("ACK", toTag: "ring"), from: hall, now: 1_700).isEmpty)
        #expect(table.serverInviteState(id) == .confirmed)
        _ = run(&table, from: 1_700, to: 40_000, step: 100)
        #expect(table.count == 0)
        // A CANCEL for an unknown INVITE: 481.
        #expect(sentStatuses(table.receive(request("CANCEL", branch: "z9hG4bKnone"), from: hall, now: 50_000)) == [481])
    }

    @Test("client INVITE: retransmitted at 0.5, 1.5, 3.5 ... s; Timer B → a local 408 for the TU")
    func clientInviteTimeout() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let sent = table.send(request: request("INVITE", branch: "z9hG4bKout"), to: hall, now: 0)
        let (id, events) = try #require(sent)
        #expect(sentMethods(events) == ["INVITE"])
        let later = run(&table, from: 0, to: 40_000)
        let times = later.compactMap { if case .send = $0.1 { $0.0 } else { nil } }
        #expect(times == [500, 1_500, 3_500, 7_500, 15_500, 31_500])
        let timeout = later.compactMap { if case .timedOut(id, let response) = $0.1 { response } else { nil } }
        #expect(timeout.first?.statusCode == 408 && timeout.first?.value("CSeq") == "1 INVITE")
        #expect(table.count == 0)
    }

    @Test("client INVITE: a 486 is ACKed by the transaction (To tag of the response) and reaches the TU once")
    func clientInviteRejected() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let invite = request("INVITE", branch: "z9hG4bKout")
        let sent = table.send(request: invite, to: hall, now: 0)
        let (id, _) = try #require(sent)
        let busy = try #require(SIPMessage.response(to: invite, status: 486, toTag: "far"))
        let events = table.receive(busy, from: hall, now: 200)
        #expect(sentMethods(events) == ["ACK"])
        #expect(events.contains(.response(busy, transaction: id)))
        let ack = try #require(events.compactMap { if case .send(let b, _) = $0 { try? SIPMessage.parse(datagram: b) } else { nil } }.first)
        #expect(ack.toTag == "far" && ack.value("CSeq") == "1 ACK" && ack.values("Via").count == 1)
        let again = table.receive(busy, from: hall, now: 700)
        #expect(sentMethods(again) == ["ACK"] && again.count == 1)
        _ = run(&table, from: 700, to: 40_000, step: 100)
        #expect(table.count == 0)
    }

    @Test("client non-INVITE: retransmits capped at T2, Timer F → 408; over TCP nothing is retransmitted")
    func clientNonInvite() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let sent = table.send(request: request("OPTIONS", branch: "z9hG4bKo"), to: hall, now: 0)
        let (id, _) = try #require(sent)
        let events = run(&table, from: 0, to: 40_000)
        let times = events.compactMap { if case .send = $0.1 { $0.0 } else { nil } }
        #expect(times == [500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500])
        #expect(events.contains { if case .timedOut(id, let r?) = $0.1 { r.statusCode == 408 } else { false } })
        var tcp = SIPTransactionTable(tagSeed: "t")
        let sentTCP = tcp.send(request: request("OPTIONS", branch: "z9hG4bKo", transport: "TCP"), to: hallTCP, now: 0)
        _ = try #require(sentTCP)
        #expect(!run(&tcp, from: 0, to: 40_000).contains { if case .send = $0.1 { true } else { false } })
        #expect(tcp.count == 0)
    }

    @Test("server non-INVITE: final response resent for retransmissions, then Timer J; TCP ends at once")
    func serverNonInvite() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let bye = request("BYE", branch: "z9hG4bKbye", cseq: 2, toTag: "b")
        guard case .request(_, _, let id?) = table.receive(bye, from: hall, now: 0).last else { return }
        #expect(table.receive(bye, from: hall, now: 100).isEmpty, "Trying absorbs")
        _ = table.respond(try #require(SIPMessage.response(to: bye, status: 200)), to: id, now: 200)
        #expect(sentStatuses(table.receive(bye, from: hall, now: 300)) == [200])
        _ = run(&table, from: 300, to: 32_300, step: 100)
        #expect(table.count == 0)
        var tcp = SIPTransactionTable(tagSeed: "t")
        let tcpBye = request("BYE", branch: "z9hG4bKbye", cseq: 2, transport: "TCP", toTag: "b")
        guard case .request(_, _, let tcpID?) = tcp.receive(tcpBye, from: hallTCP, now: 0).last else { return }
        let done = tcp.respond(try #require(SIPMessage.response(to: tcpBye, status: 200)), to: tcpID, now: 1)
        #expect(done.contains(.terminated(tcpID)) && tcp.count == 0)
    }

    @Test("INVITE server over TCP: a 486 is not retransmitted (no Timer G), its ACK ends it at once (Timer I = 0)")
    func inviteServerReliable() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        let invite = request("INVITE", transport: "TCP")
        guard case .request(_, _, let id?) = table.receive(invite, from: hallTCP, now: 0).last else { return }
        #expect(sentStatuses(table.respond(try #require(SIPMessage.response(to: invite, status: 486, toTag: "b")), to: id,
                                           now: 0)) == [486])
        #expect(!run(&table, from: 0, to: 10_000).contains { if case .send = $0.1 { true } else { false } })
        let ack = table.receive(request("ACK", transport: "TCP", toTag: "b"), from: hallTCP, now: 10_000)
        #expect(ack == [.terminated(id)] && table.count == 0)
    }

    @Test("a TU that never answers: the INVITE gets 408 after 180 s, the BYE after 32 s; nothing stays")
    func silentTU() throws {
        var table = SIPTransactionTable(tagSeed: "t")
        _ = table.receive(request("INVITE"), from: hall, now: 0)
        _ = table.receive(request("BYE", branch: "z9hG4bKb2", cseq: 2), from: hall, now: 0)
        let events = run(&table, from: 0, to: 300_000, step: 250)
        let statuses = events.compactMap { e -> Int? in
            if case .send(let b, _) = e.1 { (try? SIPMessage.parse(datagram: b))?.statusCode } else { nil }
        }
        #expect(statuses.contains(408))
        #expect(table.count == 0)
    }

    @Test("full table or per-peer cap: 503 with Retry-After, no transaction; hours of traffic leave it empty")
    func boundedAndDrains() throws {
        var table = SIPTransactionTable(maxTransactions: 50, maxPerPeer: 20, tagSeed: "t")
        var refusals = 0
        for index in 0..<30 {
            let events = table.receive(request("OPTIONS", branch: "z9hG4bKp\(index)"), from: hall, now: 0)
            if case .send(let bytes, _)? = events.first, let response = try? SIPMessage.parse(datagram: bytes) {
                #expect(response.statusCode == 503 && response.value("Retry-After") == "5")
                refusals += 1
            }
        }
        #expect(refusals == 10 && table.count == 20)
        for peer in 0..<5 {
            let other = SIPPeer(host: "203.0.113.\(peer)", port: 5060, transport: .udp)
            for index in 0..<20 {
                _ = table.receive(request("OPTIONS", branch: "z9hG4bKq\(peer)-\(index)", host: other.host), from: other, now: 0)
            }
        }
        #expect(table.count == 50)
        // Two simulated hours of INVITEs answered, ACKed or not, CANCELled, OPTIONS unanswered: every timer runs out.
        var now: Int64 = 0
        var rng = SplitMix64(seed: 42)
        var drained = SIPTransactionTable(maxTransactions: 4096, tagSeed: "t")
        while now < 2 * 3_600_000 {
            let branch = "z9hG4bK\(now)"
            let invite = request("INVITE", branch: branch, callID: "c\(now)")
            if case .request(_, _, let id?)? = drained.receive(invite, from: hall, now: now).last {
                switch rng.next() % 4 {
                case 0: _ = drained.respond(SIPMessage.response(to: invite, status: 200, toTag: "x")!, to: id, now: now + 5)
                case 1: _ = drained.respond(SIPMessage.response(to: invite, status: 486, toTag: "x")!, to: id, now: now + 5)
                case 2: _ = drained.receive(request("CANCEL", branch: branch, callID: "c\(now)"), from: hall, now: now + 5)
                default: break
                }
            }
            _ = drained.advance(now: now)
            now += 1_000
        }
        _ = drained.advance(now: now + 600_000)
        #expect(drained.count == 0 && drained.nextDeadline == nil)
    }
}

/// A small seeded generator for tests.
struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
