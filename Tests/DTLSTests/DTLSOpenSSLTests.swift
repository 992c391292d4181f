import Foundation
import SRTP
import Testing
import Transport
@testable import DTLS

/// The bridge's DTLS server against OpenSSL's DTLS client, a real third-party peer, over loopback UDP.
@Suite(.serialized) struct DTLSOpenSSLTests {
    private func isFinal(_ state: DTLSSession.State) -> Bool {
        switch state {
        case .closed, .failed: true
        case .handshaking, .established: false
        }
    }

    private func waitForExit(_ client: OpenSSLClient) {
        let deadline = monotonicNanoseconds() + 10_000_000_000
        while client.process.isRunning && monotonicNanoseconds() < deadline { usleep(10_000) }
    }

    @Test func openSSLClientAndServerExportTheSameSRTPKeys() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let peerIdentity = try OpenSSLIdentity(in: directory, name: "browser")
        // The offer's fingerprint as OpenSSL computes it; ours of the same file must agree.
        let offered = try DTLSFingerprint(sdpValue: peerIdentity.fingerprintFromOpenSSL())
        #expect(try peerIdentity.fingerprint() == offered)

        let certificate = try DTLSCertificate.selfSigned()
        let pump = try DatagramPump()
        let session = try DTLSSession(
            role: .server, certificate: certificate, peerFingerprint: offered, now: monotonicNanoseconds())
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: peerIdentity)
        try pump.run(session) { isFinal(session.state) }
        waitForExit(client)

        let output = client.output
        #expect(output.contains("SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80"), "\(output)")
        let keys = try #require(pump.keys, "no keys; state \(session.state); openssl said:\n\(output)")
        #expect(keys.profile == .aesCM128HMACSHA1_80)
        #expect(keys.inbound.count == 30 && keys.outbound.count == 30)
        #expect(keys.inbound != keys.outbound)
        // RFC 5764 §4.2 order: client key, server key, client salt, server salt.
        let ours = Array(keys.inbound[0..<16] + keys.outbound[0..<16] + keys.inbound[16...] + keys.outbound[16...])
        let theirs = try #require(client.exportedKeyingMaterial, "openssl printed no keying material:\n\(output)")
        #expect(theirs == ours)
        // The layout SRTPSession takes.
        _ = try SRTPSession(profile: keys.profile, direction: .inbound, keyingMaterial: keys.inbound)
        _ = try SRTPSession(profile: keys.profile, direction: .outbound, keyingMaterial: keys.outbound)
        // s_client's stdin is empty: after the handshake it sends close_notify, which ends the session.
        #expect(session.state == .closed)
        #expect(client.process.terminationStatus == 0)
        #expect(session.nextTimeout == nil)

        // One measurement of the handshake (loopback, debug build, both processes on this machine's 2 cores).
        if let first = pump.firstDatagramAt, let done = pump.establishedAt {
            print(
                "DTLS handshake with openssl s_client: \((done - first) / 1_000) µs from ClientHello to keys; "
                    + "\(pump.sessionNanoseconds / 1_000) µs of it inside the server session (NSS)")
        }
    }

    /// One handshake with OpenSSL offering `offer`; the session accepts `accepted`.
    private func handshake(
        offer: String, exportLength: Int, accepted: [SRTPProfile] = DTLSSession.defaultSRTPProfiles,
        extraArguments: [String] = []
    ) throws -> (DTLSSession, DatagramPump, OpenSSLClient) {
        let directory = try ScratchDirectory()
        let peerIdentity = try OpenSSLIdentity(in: directory, name: "browser")
        let pump = try DatagramPump()
        let session = try DTLSSession(
            role: .server, certificate: try DTLSCertificate.selfSigned(), peerFingerprint: try peerIdentity.fingerprint(),
            now: monotonicNanoseconds(), srtpProfiles: accepted)
        let client = try OpenSSLClient(
            port: pump.port, directory: directory, identity: peerIdentity, profiles: offer, exportLength: exportLength,
            extraArguments: extraArguments)
        try pump.run(session) { isFinal(session.state) }
        waitForExit(client)
        return (session, pump, client)
    }

    private func exporterOrder(_ keys: DTLSSRTPKeys) -> [UInt8] {
        let key = keys.profile.masterKeyLength
        return Array(keys.inbound[..<key] + keys.outbound[..<key] + keys.inbound[key...] + keys.outbound[key...])
    }

    @Test func aeadAES128GCMIsChosenWhenOfferedAndItsKeysMatchOpenSSLs() throws {
        guard OpenSSL.required() != nil else { return }
        let (_, pump, client) = try handshake(offer: "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_128_GCM", exportLength: 56)
        let keys = try #require(pump.keys, "openssl said:\n\(client.output)")
        #expect(keys.profile == .aeadAES128GCM)
        #expect(client.output.contains("SRTP Extension negotiated, profile=SRTP_AEAD_AES_128_GCM"), "\(client.output)")
        #expect(keys.inbound.count == 28 && keys.outbound.count == 28)
        #expect(client.exportedKeyingMaterial == exporterOrder(keys))
        _ = try SRTPSession(profile: keys.profile, direction: .inbound, keyingMaterial: keys.inbound)
        _ = try SRTPSession(profile: keys.profile, direction: .outbound, keyingMaterial: keys.outbound)
    }

    @Test func theSessionsPreferenceDecidesBetweenOfferedProfiles() throws {
        guard OpenSSL.required() != nil else { return }
        let (_, pump, client) = try handshake(
            offer: "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80", exportLength: 60, accepted: [.aesCM128HMACSHA1_80])
        let keys = try #require(pump.keys, "openssl said:\n\(client.output)")
        #expect(keys.profile == .aesCM128HMACSHA1_80)
        #expect(client.output.contains("SRTP Extension negotiated, profile=SRTP_AES128_CM_SHA1_80"), "\(client.output)")
        #expect(client.exportedKeyingMaterial == exporterOrder(keys))
    }

    @Test func aPeerOfferingNoProfileWeSupportGetsNoKeys() throws {
        guard OpenSSL.required() != nil else { return }
        let (session, pump, _) = try handshake(offer: "SRTP_AES128_CM_SHA1_32", exportLength: 60)
        #expect(session.state == .failed(.srtpNotNegotiated))
        #expect(pump.keys == nil)
    }

    @Test func closingTheSessionSendsCloseNotifyAndThePeerEnds() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let peerIdentity = try OpenSSLIdentity(in: directory, name: "browser")
        let pump = try DatagramPump()
        let session = try DTLSSession(
            role: .server, certificate: try DTLSCertificate.selfSigned(), peerFingerprint: try peerIdentity.fingerprint(),
            now: monotonicNanoseconds())
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: peerIdentity, keepInputOpen: true)
        try pump.run(session) { session.keys != nil }
        #expect(session.keys != nil, "openssl said:\n\(client.output)")
        session.close()
        #expect(session.state == .closed)
        try pump.flush(session)
        waitForExit(client)
        #expect(!client.process.isRunning, "s_client did not end after our close_notify")
        #expect(client.output.contains("closed"), "\(client.output)")
        #expect(session.receive([23, 0xFE, 0xFD], now: monotonicNanoseconds()) == .closed)
    }

    /// A peer that refuses the bridge's certificate (here: s_client verifying it against no trusted CA) sends a fatal
    /// alert; the session fails with that alert's NSS name.
    @Test func aFatalAlertFromThePeerFailsTheSessionWithItsName() throws {
        guard OpenSSL.required() != nil else { return }
        let (session, pump, client) = try handshake(
            offer: "SRTP_AES128_CM_SHA1_80", exportLength: 60, extraArguments: ["-verify", "1", "-verify_return_error"])
        guard case .failed(let error) = session.state else {
            Issue.record("state \(session.state); openssl said:\n\(client.output)")
            return
        }
        #expect(error.name.hasPrefix("SSL_ERROR_") && error.name.hasSuffix("_ALERT"), "\(error)")
        #expect(pump.keys == nil)
        print("a peer refusing our certificate: \(error)")
    }

    @Test func aCertificateAndPKCS8KeyFromPEMFilesServeTheHandshake() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let serverIdentity = try OpenSSLIdentity(in: directory, name: "bridge")
        let peerIdentity = try OpenSSLIdentity(in: directory, name: "browser")
        let certificate = try DTLSCertificate.load(
            certificateFile: serverIdentity.certificatePath, privateKeyFile: serverIdentity.keyPath)
        #expect(certificate.fingerprint.sdpValue == (try serverIdentity.fingerprintFromOpenSSL()))

        let pump = try DatagramPump()
        let session = try DTLSSession(
            role: .server, certificate: certificate, peerFingerprint: try peerIdentity.fingerprint(), now: monotonicNanoseconds())
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: peerIdentity)
        try pump.run(session) { isFinal(session.state) }
        waitForExit(client)
        #expect(pump.keys != nil, "state \(session.state); openssl said:\n\(client.output)")
        // The certificate the client received is the file's.
        let served = try PEM.firstBlock(labelled: "CERTIFICATE", in: client.output)
        #expect(served == certificate.derBytes)
    }

    @Test func aClientCertificateThatDoesNotMatchTheOfferIsRefused() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let offeredIdentity = try OpenSSLIdentity(in: directory, name: "offered")
        let otherIdentity = try OpenSSLIdentity(in: directory, name: "impostor")
        let pump = try DatagramPump()
        let session = try DTLSSession(
            role: .server, certificate: try DTLSCertificate.selfSigned(), peerFingerprint: try offeredIdentity.fingerprint(),
            now: monotonicNanoseconds())
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: otherIdentity)
        try pump.run(session) { isFinal(session.state) }
        waitForExit(client)

        #expect(session.state == .failed(.fingerprintMismatch))
        #expect(pump.keys == nil)
        #expect(session.keys == nil)
        #expect(DTLSError.fingerprintMismatch.description.contains("does not match the fingerprint"))
        #expect(client.process.terminationStatus != 0)
        // NSS told the client why: a bad_certificate alert.
        #expect(client.output.contains("bad certificate"), "\(client.output)")
    }

    @Test func aClientWithoutACertificateIsRefused() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let offeredIdentity = try OpenSSLIdentity(in: directory, name: "offered")
        let pump = try DatagramPump()
        let session = try DTLSSession(
            role: .server, certificate: try DTLSCertificate.selfSigned(), peerFingerprint: try offeredIdentity.fingerprint(),
            now: monotonicNanoseconds())
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: nil)
        try pump.run(session) { isFinal(session.state) }
        waitForExit(client)
        #expect(session.state == .failed(.noCertificate))
        #expect(DTLSError.noCertificate.name == "SSL_ERROR_NO_CERTIFICATE")
        #expect(pump.keys == nil)
    }

    /// A peer that sends its ClientHello and then goes silent: the session fails at the deadline of the owner's clock
    /// (simulated seconds, no sleeping), not a nanosecond before, and ignores what comes after.
    @Test func aPeerThatStopsMidHandshakeFailsTheSessionAtTheDeadline() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let peerIdentity = try OpenSSLIdentity(in: directory, name: "browser")
        let pump = try DatagramPump()
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: peerIdentity)
        let clientHello = try #require(try pump.receiveOne(within: 10_000_000_000), "openssl sent no ClientHello")
        client.process.terminate()  // the peer is gone after its first flight

        let start: Int64 = 5_000_000_000  // the owner's clock: any origin
        let session = try DTLSSession(
            role: .server, certificate: try DTLSCertificate.selfSigned(), peerFingerprint: try peerIdentity.fingerprint(),
            now: start, handshakeTimeout: 10_000_000_000)
        #expect(session.handshakeDeadline == start + 10_000_000_000)
        #expect(session.receive(clientHello, now: start) == .handshaking)
        #expect(!session.takeOutgoing().isEmpty, "no ServerHello flight")
        #expect(session.nextTimeout.map { $0 <= session.handshakeDeadline } == true)

        #expect(session.handleTimeout(now: start + 4_000_000_000) == .handshaking)
        #expect(session.handleTimeout(now: start + 9_999_999_999) == .handshaking)
        #expect(session.handleTimeout(now: start + 10_000_000_000) == .failed(.handshakeTimedOut))
        #expect(session.nextTimeout == nil)
        #expect(session.keys == nil)
        // A late datagram changes nothing and sends nothing.
        _ = session.takeOutgoing()
        #expect(session.receive(clientHello, now: start + 10_000_000_001) == .failed(.handshakeTimedOut))
        #expect(session.takeOutgoing().isEmpty)
        #expect(session.droppedDatagrams == 1)
    }

    /// While the peer is silent, NSS retransmits the server's flight on its timer (NSS's own monotonic clock, so this
    /// one runs on real time: a bounded wait for two retransmissions, about 150 ms with NSS's 50 ms initial timer).
    @Test func theServerRetransmitsItsFlightWhileThePeerIsSilent() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let peerIdentity = try OpenSSLIdentity(in: directory, name: "browser")
        let pump = try DatagramPump()
        let client = try OpenSSLClient(port: pump.port, directory: directory, identity: peerIdentity)
        let clientHello = try #require(try pump.receiveOne(within: 10_000_000_000), "openssl sent no ClientHello")
        client.process.terminate()

        let session = try DTLSSession(
            role: .server, certificate: try DTLSCertificate.selfSigned(), peerFingerprint: try peerIdentity.fingerprint(),
            now: monotonicNanoseconds())
        session.receive(clientHello, now: monotonicNanoseconds())
        let flight = session.takeOutgoing()
        #expect(!flight.isEmpty)
        var retransmissions = 0
        let limit = monotonicNanoseconds() + 5_000_000_000
        while retransmissions < 2, monotonicNanoseconds() < limit {
            let due = try #require(session.nextTimeout)
            let wait = due - monotonicNanoseconds()
            if wait > 0 { usleep(UInt32(min(wait / 1000, 100_000))) }
            session.handleTimeout(now: monotonicNanoseconds())
            let again = session.takeOutgoing()
            if !again.isEmpty {
                retransmissions += 1
                #expect(again.count == flight.count)
            }
        }
        #expect(retransmissions == 2)
        #expect(session.state == .handshaking)
    }
}
