import Testing
@testable import ICE
import KeyDerivation
import Transport

@Suite("ICE-lite responder")
struct ICELiteSessionTests {
    static let local = try! ICECredentials(ufrag: "brdg", password: "abcdefghijklmnopqrstuvwx")
    static let remoteUfrag = "peer"
    static let username = "brdg:peer"

    func session(now: Int64 = 0) throws -> ICELiteSession {
        try ICELiteSession(local: Self.local, remoteUfrag: Self.remoteUfrag, now: now)
    }

    @Test("A valid check gets a response an independent reader accepts: same id, sender's address, integrity, CRC")
    func roundTrip() throws {
        for (ip, size) in [("127.0.0.1", 64), ("::1", 76), ("2001:db8::7", 76)] {
            var s = try session()
            let source = try SocketAddress(ip: ip, port: 54_321)
            let id = randomTransactionID()
            let request = try checkRequest(username: Self.username, password: Self.local.password, transactionID: id)
            let (result, response) = s.check(request, from: source, now: 5)
            guard case .respond(let answer) = result else {
                Issue.record("refused: \(result)")
                continue
            }
            #expect(answer.byteCount == size && response.count == size)
            #expect(response.count <= request.count, "never more bytes than the request")

            // Independent reading: attribute list, types, XOR decoding by hand, CRC bit by bit, HMAC on a copy.
            #expect(be16(response, 0) == 0x0101)
            #expect(Array(response[8..<20]) == id.bytes)
            let attributes = try #require(independentAttributes(response))
            #expect(attributes.map(\.type) == [0x0020, 0x0008, 0x8028])
            let xma = attributes[0].value
            #expect(UInt16(xma[2]) << 8 | UInt16(xma[3]) == 54_321 ^ 0x2112)
            let mask = Array(response[4..<20])
            let ipBytes = zip(xma[4...], mask).map { $0 ^ $1 }
            let decoded = try #require(ipBytes.withUnsafeBytes { SocketAddress(addressBytes: $0, port: 54_321) })
            #expect(decoded == source)
            #expect(independentFingerprintOK(response))
            #expect(try independentIntegrityOK(response, password: Self.local.password))
            #expect(try !independentIntegrityOK(response, password: "abcdefghijklmnopqrstuvwy"))
            #expect(s.validChecks == 1 && s.lastValidCheck == 5 && s.selectedAddress == source)
        }
    }

    @Test("A response is never larger than the request it answers: the smallest valid request from an IPv6 sender")
    func responseNoLargerThanRequest() throws {
        var s = try session()
        let source = try SocketAddress(ip: "2001:db8::1", port: 1)
        // USERNAME "brdg:peer" (9 bytes, the shortest possible with 4-character ufrags), PRIORITY, integrity,
        // FINGERPRINT, and no role attribute: 76 bytes.
        let smallest = try buildMessage(transactionID: randomTransactionID()) { w in
            try w.appendUsername(Self.username)
            try w.appendPriority(1)
            try w.appendMessageIntegrity(key: Array(Self.local.password.utf8))
            try w.appendFingerprint()
        }
        #expect(smallest.count == 76)
        let (result, response) = s.check(smallest, from: source, now: 1)
        guard case .respond = result else {
            Issue.record("refused: \(result)")
            return
        }
        #expect(response.count == ICELiteSession.maximumResponseLength)
        #expect(response.count <= smallest.count)
    }

    @Test("Every refusal reason is counted, nothing is written and nothing is selected")
    func refusals() throws {
        let password = Self.local.password
        let id = randomTransactionID()
        let notRequest = try buildMessage(type: .bindingIndication, transactionID: id) { w in
            try w.appendUsername(Self.username)
            try w.appendPriority(1)
            try w.appendMessageIntegrity(key: Array(password.utf8))
            try w.appendFingerprint()
        }
        var badFingerprint = try checkRequest(username: Self.username, password: password)
        badFingerprint[badFingerprint.count - 1] ^= 1
        let noUsername = try buildMessage(transactionID: id) { w in
            try w.appendPriority(1)
            try w.appendMessageIntegrity(key: Array(password.utf8))
            try w.appendFingerprint()
        }
        // Integrity under the wrong key, then FINGERPRINT made right again: only the HMAC is wrong.
        let badIntegrity = try checkRequest(username: Self.username, password: "abcdefghijklmnopqrstuvwX")
        let cases: [(ICERefusal, [UInt8])] = [
            (.malformed, [0, 1, 0, 0, 0x21, 0x12]),
            (.malformed, Array(repeating: 0xFF, count: 40)),
            (.notBindingRequest, notRequest),
            (.missingFingerprint, try checkRequest(username: Self.username, password: password, fingerprint: false)),
            (.badFingerprint, badFingerprint),
            (.missingUsername, noUsername),
            (.missingMessageIntegrity, try checkRequest(username: Self.username, password: password, integrity: false)),
            (.missingPriority, try checkRequest(username: Self.username, password: password, priority: nil)),
            (.wrongUsername, try checkRequest(username: "brdg:other", password: password)),
            (.wrongUsername, try checkRequest(username: "peer:brdg", password: password)),
            (.wrongUsername, try checkRequest(username: "brdg:peer ", password: password)),
            (.badMessageIntegrity, badIntegrity),
        ]
        var s = try session()
        let source = try SocketAddress(ip: "198.51.100.9", port: 9)
        var expected: [ICERefusal: Int] = [:]
        for (reason, request) in cases {
            var out = [UInt8](repeating: 0xAB, count: 200)
            let result = request.withUnsafeBytes { r in
                out.withUnsafeMutableBytes { o in s.handle(r, from: source, now: 1, response: o) }
            }
            #expect(result == .refused(reason))
            #expect(out.allSatisfy { $0 == 0xAB }, "\(reason): nothing written")
            expected[reason, default: 0] += 1
        }
        for reason in ICERefusal.allCases { #expect(s.refusals(reason) == expected[reason, default: 0], "\(reason)") }
        #expect(s.totalRefusals == cases.count)
        #expect(s.validChecks == 0 && s.selectedAddress == nil && s.lastValidCheck == nil)

        // A buffer that is too small: refused and counted, even for a valid check.
        var small = [UInt8](repeating: 0xAB, count: ICELiteSession.maximumResponseLength - 1)
        let valid = try checkRequest(username: Self.username, password: password)
        let result = valid.withUnsafeBytes { r in small.withUnsafeMutableBytes { s.handle(r, from: source, now: 1, response: $0) } }
        #expect(result == .refused(.responseBufferTooSmall))
        #expect(small.allSatisfy { $0 == 0xAB } && s.selectedAddress == nil)
    }

    @Test("First valid check selects; other addresses do not move it; USE-CANDIDATE selects for good")
    func selection() throws {
        var s = try session()
        let a = try SocketAddress(ip: "192.168.1.10", port: 5000)
        let b = try SocketAddress(ip: "10.0.0.10", port: 6000)
        func check(_ from: SocketAddress, nominate: Bool, at now: Int64) throws -> ICEResponse? {
            let request = try checkRequest(username: Self.username, password: Self.local.password, useCandidate: nominate)
            if case .respond(let r) = s.check(request, from: from, now: now).0 { return r }
            return nil
        }
        // aioice: checks without USE-CANDIDATE first.
        #expect(try check(a, nominate: false, at: 1) == ICEResponse(byteCount: 64, isSelected: true, selectionChanged: true, isNominated: false))
        #expect(try check(b, nominate: false, at: 2) == ICEResponse(byteCount: 64, isSelected: false, selectionChanged: false, isNominated: false))
        #expect(s.selectedAddress == a && s.lastValidCheck == 1, "a check on another address is not consent for the selected one")
        // Then nominates b.
        #expect(try check(b, nominate: true, at: 3) == ICEResponse(byteCount: 64, isSelected: true, selectionChanged: true, isNominated: true))
        #expect(s.selectedAddress == b && s.isNominated && s.lastValidCheck == 3)
        // Checks without USE-CANDIDATE from elsewhere are answered but move nothing.
        #expect(try check(a, nominate: false, at: 4) == ICEResponse(byteCount: 64, isSelected: false, selectionChanged: false, isNominated: true))
        #expect(try check(b, nominate: false, at: 5) == ICEResponse(byteCount: 64, isSelected: true, selectionChanged: false, isNominated: true))
        #expect(s.selectedAddress == b && s.validChecks == 5)
        // A browser that changes networks nominates the new address.
        #expect(try check(a, nominate: true, at: 6) == ICEResponse(byteCount: 64, isSelected: true, selectionChanged: true, isNominated: true))
        #expect(s.selectedAddress == a)

        // A browser nominates at once.
        var browser = try session()
        let request = try checkRequest(username: Self.username, password: Self.local.password, useCandidate: true)
        guard case .respond(let r) = browser.check(request, from: b, now: 1).0 else {
            Issue.record("refused")
            return
        }
        #expect(r.isSelected && r.selectionChanged && r.isNominated)
    }

    @Test("Consent: an hour of checks every 5 s keeps it; it lapses lostAfter seconds after they stop")
    func consentExpiry() throws {
        let second: Int64 = 1_000_000_000
        let lostAfter = 30 * second
        let start: Int64 = 1_000 * second
        var s = try session(now: start)
        let source = try SocketAddress(ip: "127.0.0.1", port: 40_000)
        #expect(!s.isConsentExpired(now: start + 29 * second, after: lostAfter))
        var now = start
        let end = start + 3600 * second
        var answered = 0
        while now <= end {  // 721 checks
            let request = try checkRequest(username: Self.username, password: Self.local.password, useCandidate: now == start)
            if case .respond = s.check(request, from: source, now: now).0 { answered += 1 }
            #expect(!s.isConsentExpired(now: now + 4 * second, after: lostAfter))
            now += 5 * second
        }
        #expect(answered == 721 && s.validChecks == 721)
        let last = try #require(s.lastValidCheck)
        #expect(last == end)
        // Silence: refused requests (wrong password) do not refresh consent.
        let forged = try checkRequest(username: Self.username, password: "zzzzzzzzzzzzzzzzzzzzzzzz")
        _ = s.check(forged, from: source, now: end + 20 * second)
        #expect(s.lastValidCheck == end)
        #expect(!s.isConsentExpired(now: end + 29 * second, after: lostAfter))
        #expect(s.isConsentExpired(now: end + 30 * second, after: lostAfter))
        #expect(s.isConsentExpired(now: end + 3600 * second, after: lostAfter))

        // A session that is never checked lapses counted from its creation.
        let silent = try session(now: start)
        #expect(!silent.isConsentExpired(now: start + 29 * second, after: lostAfter))
        #expect(silent.isConsentExpired(now: start + 30 * second, after: lostAfter))
    }

    @Test("The owner finds the session from USERNAME's local part without validating the rest")
    func localUfragLookup() throws {
        func ufrag(_ bytes: [UInt8]) -> String? { bytes.withUnsafeBytes { ICELiteSession.localUfrag(inRequest: $0) } }
        #expect(ufrag(RFC5769.request) == "evtj")
        #expect(ufrag(try checkRequest(username: Self.username, password: "any password of 22 chars")) == "brdg")
        #expect(ufrag(try checkRequest(username: "nocolon", password: "x")) == nil)
        #expect(ufrag(RFC5769.ipv4Response) == nil)  // no USERNAME
        #expect(ufrag([]) == nil)
        var cut = RFC5769.request
        cut.removeLast(4)
        #expect(ufrag(cut) == nil)

        // As the owner would: a dictionary from ufrag to session.
        var sessions: [String: ICELiteSession] = [:]
        for _ in 0..<20 {
            let credentials = try ICECredentials.generate()
            sessions[credentials.ufrag] = try ICELiteSession(local: credentials, remoteUfrag: "peer", now: 0)
        }
        let chosen = try #require(sessions.values.first)
        let request = try checkRequest(username: chosen.localUfrag + ":peer", password: chosen.local.password)
        let key = try #require(ufrag(request))
        let source = try SocketAddress(ip: "127.0.0.1", port: 1)
        guard case .respond = sessions[key]?.check(request, from: source, now: 1).0 else {
            Issue.record("not answered")
            return
        }
        #expect(sessions[key]?.selectedAddress == source)
    }

    @Test("Credentials: generated ones are ice-chars of RFC 8839 lengths and differ; bad ones are refused")
    func credentials() throws {
        var seen = Set<String>()
        for _ in 0..<200 {
            let c = try ICECredentials.generate()
            #expect(c.ufrag.utf8.count == 8 && c.password.utf8.count == 24)
            #expect(ICECredentials.isICEChars(c.ufrag, lengths: 4...256) && ICECredentials.isICEChars(c.password, lengths: 22...256))
            #expect(try ICECredentials(ufrag: c.ufrag, password: c.password) == c)
            seen.insert(c.ufrag)
            seen.insert(c.password)
        }
        #expect(seen.count == 400)
        #expect(throws: ICEError.invalidUfrag) { try ICECredentials(ufrag: "abc", password: String(repeating: "a", count: 22)) }
        #expect(throws: ICEError.invalidUfrag) { try ICECredentials(ufrag: "ab:cd", password: String(repeating: "a", count: 22)) }
        #expect(throws: ICEError.invalidPassword) { try ICECredentials(ufrag: "abcd", password: String(repeating: "a", count: 21)) }
        #expect(throws: ICEError.invalidPassword) { try ICECredentials(ufrag: "abcd", password: String(repeating: "é", count: 22)) }
        #expect(throws: ICEError.invalidUfrag) { try ICELiteSession(local: Self.local, remoteUfrag: "a b c", now: 0) }
    }
}

@Suite("RFC 7983 demultiplexing")
struct DemultiplexTests {
    @Test("First byte picks STUN, DTLS, RTP or RTCP; everything else is dropped")
    func classify() {
        func kind(_ bytes: [UInt8]) -> MediaDatagramKind { bytes.withUnsafeBytes { MediaDatagramKind(classifying: $0) } }
        #expect(kind([]) == .unknown)
        for first in 0...255 {
            let expected: MediaDatagramKind = switch first {
            case 0...3: .stun
            case 20...63: .dtls
            case 128...191: .rtp
            default: .unknown
            }
            #expect(kind([UInt8(first), 96]) == expected, "\(first)")
            #expect(kind([UInt8(first)]) == expected, "\(first) alone")
        }
        for second in 0...255 {
            #expect(kind([0x80, UInt8(second)]) == ((192...223).contains(second) ? .rtcp : .rtp))
        }
        #expect(kind(RFC5769.request) == .stun)
        #expect(kind([0x16, 0xFE, 0xFD]) == .dtls)  // a DTLS 1.2 handshake record
    }
}
