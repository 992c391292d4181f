import Testing
import Transport
@testable import DTLS

/// A seeded generator (SplitMix64), so a failure can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_CE48_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Bytes from outside must never trap a session: they are discarded, or they fail the handshake with a named error.
@Suite struct DTLSMalformedInputTests {
    /// Tallies what garbage did to sessions, replacing each failed one with a fresh session.
    final class Tally {
        let certificate: DTLSCertificate
        let fingerprint: DTLSFingerprint
        var session: DTLSSession
        var failures: [String: Int] = [:]
        var answered = 0
        var fed = 0

        init() throws {
            certificate = try DTLSCertificate.selfSigned()
            fingerprint = try DTLSCertificate.selfSigned().fingerprint
            session = try DTLSSession(role: .server, certificate: certificate, peerFingerprint: fingerprint, now: 0)
        }

        func feed(_ datagram: [UInt8], fresh: Bool = false) throws {
            if fresh { session = try DTLSSession(role: .server, certificate: certificate, peerFingerprint: fingerprint, now: 0) }
            fed += 1
            let state = session.receive(datagram, now: Int64(fed))
            if !session.takeOutgoing().isEmpty { answered += 1 }
            switch state {
            case .handshaking: break
            case .failed(let error):
                #expect(error.rawValue < 0, "not an NSS failure: \(error)")
                #expect(!error.name.hasPrefix("error "), "an unnamed NSS error: \(error.rawValue)")
                failures[error.name, default: 0] += 1
                session = try DTLSSession(role: .server, certificate: certificate, peerFingerprint: fingerprint, now: 0)
            case .established, .closed:
                Issue.record("garbage moved a session to \(state)")
            }
        }
    }

    private static func record(type: UInt8, epoch: UInt16, body: [UInt8], declaredLength: Int? = nil) -> [UInt8] {
        let length = UInt16(truncatingIfNeeded: declaredLength ?? body.count)
        return [type, 0xFE, 0xFD, UInt8(epoch >> 8), UInt8(epoch & 0xFF), 0, 0, 0, 0, 0, 1,
                UInt8(length >> 8), UInt8(length & 0xFF)] + body
    }

    @Test func randomAndRecordShapedGarbageNeverTrapsAndFailsCleanly() throws {
        var random = SplitMix64(state: 0xD715_5EED)
        let tally = try Tally()
        for i in 0..<3000 {
            let body = (0..<Int.random(in: 0...1400, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            switch i % 4 {
            case 0:  // anything
                try tally.feed(body)
            case 1:  // a DTLS 1.2 record header of any content type, with a true or false length
                let type = [20, 21, 22, 23, 24, 25, 0, 255][Int.random(in: 0..<8, using: &random)]
                let epoch = UInt16(Int.random(in: 0...2, using: &random))
                let declared = Bool.random(using: &random) ? nil : Int.random(in: 0...0xFFFF, using: &random)
                try tally.feed(Self.record(type: UInt8(type), epoch: epoch, body: body, declaredLength: declared))
            case 2:  // a handshake record whose message claims to be a ClientHello of random lengths
                let length = Int.random(in: 0...0xFFFFFF, using: &random)
                let fragment = Int.random(in: 0...body.count, using: &random)
                let header: [UInt8] = [1, UInt8(length >> 16), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF), 0, 0,
                                       0, 0, 0, UInt8(fragment >> 16), UInt8((fragment >> 8) & 0xFF), UInt8(fragment & 0xFF)]
                try tally.feed(Self.record(type: 22, epoch: 0, body: header + body))
            default:  // several records in one datagram, truncated anywhere
                var datagram: [UInt8] = []
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    datagram += Self.record(type: 22, epoch: 0, body: Array(body.prefix(200)))
                }
                try tally.feed(Array(datagram.prefix(Int.random(in: 0...datagram.count, using: &random))))
            }
        }
        print("3000 garbage datagrams: failures by error \(tally.failures), answered \(tally.answered)")
    }

    @Test func emptyAndOversizedDatagramsAreDroppedAndCounted() throws {
        let certificate = try DTLSCertificate.selfSigned()
        let session = try DTLSSession(role: .server, certificate: certificate, peerFingerprint: certificate.fingerprint, now: 0)
        #expect(session.receive([], now: 1) == .handshaking)
        #expect(session.receive([UInt8](repeating: 22, count: DTLSSession.maximumDatagramLength + 1), now: 2)
            == .handshaking)
        #expect(session.droppedDatagrams == 2)
        #expect(session.takeOutgoing().isEmpty)
    }

    /// A real ClientHello (OpenSSL's) with bytes flipped, cut short or extended: each fresh session either answers,
    /// waits, or fails with a named NSS error.
    @Test func mutatedClientHellosNeverTrapAndFailCleanly() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let identity = try OpenSSLIdentity(in: directory, name: "browser")
        let pump = try DatagramPump()
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: identity)
        let clientHello = try #require(try pump.receiveOne(within: 10_000_000_000), "openssl sent no ClientHello")
        client.process.terminate()

        let tally = try Tally()
        try tally.feed(clientHello, fresh: true)
        #expect(tally.answered == 1, "the unmodified ClientHello was not answered")
        var random = SplitMix64(state: 0xC11E_47)
        for i in 0..<600 {
            var mutated = clientHello
            switch i % 3 {
            case 0:
                for _ in 0..<Int.random(in: 1...8, using: &random) {
                    mutated[Int.random(in: 0..<mutated.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                }
            case 1:
                mutated = Array(mutated.prefix(Int.random(in: 0..<mutated.count, using: &random)))
            default:
                mutated += (0..<Int.random(in: 1...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            }
            try tally.feed(mutated, fresh: true)
        }
        print("600 mutated ClientHellos: failures by error \(tally.failures), answered \(tally.answered)")
        #expect(!tally.failures.isEmpty)  // some mutations are fatal, and said so by name
    }

    /// Garbage before the real peer does not stop the real peer: the session completes with OpenSSL afterwards.
    @Test func aSessionThatDiscardedGarbageStillCompletesWithARealPeer() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let identity = try OpenSSLIdentity(in: directory, name: "browser")
        let pump = try DatagramPump()
        let session = try DTLSSession(
            role: .server, certificate: try DTLSCertificate.selfSigned(), peerFingerprint: try identity.fingerprint(),
            now: monotonicNanoseconds())
        var random = SplitMix64(state: 0x6A5B)
        for _ in 0..<200 {  // records of the wrong version, or not records at all: discarded
            var datagram = (0..<Int.random(in: 1...300, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
            if Bool.random(using: &random) { datagram = [22, 0x03, 0x01] + datagram }
            #expect(session.receive(datagram, now: monotonicNanoseconds()) == .handshaking)
        }
        #expect(session.takeOutgoing().isEmpty)
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: identity)
        try pump.run(session) {
            if case .handshaking = session.state { return false } else { return true }
        }
        #expect(pump.keys != nil, "state \(session.state); openssl said:\n\(client.output)")
    }
}
