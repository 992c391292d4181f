import Foundation
import SRTP
import Testing
import Transport
@testable import DTLS

/// The client role (the load generator's side of a WebRTC join) against the bridge's server, datagrams carried by
/// the test, so every flight and its loss is under the test's control.
@Suite struct DTLSClientTests {
    /// Carries every datagram each side produces to the other until both settle; `dropFirstFlights` loses that many
    /// of the client's first datagrams, so the retransmission timer must recover them.
    private func handshake(_ client: DTLSSession, _ server: DTLSSession, dropFirstFlights: Int = 0) {
        var dropped = 0
        let deadline = monotonicNanoseconds() + 15_000_000_000
        client.handleTimeout(now: monotonicNanoseconds())
        while monotonicNanoseconds() < deadline {
            var moved = false
            for datagram in client.takeOutgoing() {
                moved = true
                if dropped < dropFirstFlights {
                    dropped += 1
                    continue
                }
                server.receive(datagram, now: monotonicNanoseconds())
            }
            for datagram in server.takeOutgoing() {
                moved = true
                client.receive(datagram, now: monotonicNanoseconds())
            }
            if case .handshaking = client.state {} else if case .handshaking = server.state {} else if !moved { return }
            if !moved {
                let now = monotonicNanoseconds()
                let next = [client.nextTimeout, server.nextTimeout].compactMap { $0 }.min() ?? now + 10_000_000
                if next > now { usleep(UInt32(min(50_000, (next - now) / 1000 + 1))) }
                client.handleTimeout(now: monotonicNanoseconds())
                server.handleTimeout(now: monotonicNanoseconds())
            }
        }
    }

    @Test(arguments: [[SRTPProfile.aeadAES128GCM, .aesCM128HMACSHA1_80], [.aesCM128HMACSHA1_80]])
    func clientAndServerAgreeOnKeysAndTheServersChoice(offered: [SRTPProfile]) throws {
        let browser = try DTLSCertificate.selfSigned(commonName: "browser")
        let bridge = try DTLSCertificate.selfSigned()
        let now = monotonicNanoseconds()
        let client = try DTLSSession(role: .client, certificate: browser, peerFingerprint: bridge.fingerprint, now: now,
                                     srtpProfiles: offered)
        let server = try DTLSSession(role: .server, certificate: bridge, peerFingerprint: browser.fingerprint, now: now)
        handshake(client, server, dropFirstFlights: 1)
        let ours = try #require(client.keys, "client: \(client.state), server: \(server.state)")
        let theirs = try #require(server.keys)
        #expect(ours.profile == offered[0])  // the server prefers GCM when offered
        #expect(ours.outbound == theirs.inbound && ours.inbound == theirs.outbound)
        // What one protects the other opens.
        let sender = try SRTPSession(profile: ours.profile, direction: .outbound, keyingMaterial: ours.outbound)
        let receiver = try SRTPSession(profile: theirs.profile, direction: .inbound, keyingMaterial: theirs.inbound)
        var packet = [UInt8](repeating: 0, count: 1500)
        packet[0] = 0x80
        packet[1] = 111
        packet[11] = 7
        let length = try packet.withUnsafeMutableBytes { try sender.protectRTP($0, length: 100) }
        #expect(try packet.withUnsafeMutableBytes { try receiver.unprotectRTP($0, length: length) } == 100)
    }

    @Test func aClientRefusesAServerWhoseCertificateIsNotTheAnswersAndGetsNoKeys() throws {
        let browser = try DTLSCertificate.selfSigned(commonName: "browser")
        let bridge = try DTLSCertificate.selfSigned()
        let impostor = try DTLSCertificate.selfSigned()
        let now = monotonicNanoseconds()
        let client = try DTLSSession(role: .client, certificate: browser, peerFingerprint: bridge.fingerprint, now: now)
        let server = try DTLSSession(role: .server, certificate: impostor, peerFingerprint: browser.fingerprint, now: now)
        handshake(client, server)
        #expect(client.state == .failed(.fingerprintMismatch))
        #expect(server.keys == nil)
    }

    @Test func aServerRefusesAClientWhoseCertificateIsNotTheOffers() throws {
        let browser = try DTLSCertificate.selfSigned(commonName: "browser")
        let other = try DTLSCertificate.selfSigned(commonName: "someone else")
        let bridge = try DTLSCertificate.selfSigned()
        let now = monotonicNanoseconds()
        let client = try DTLSSession(role: .client, certificate: other, peerFingerprint: bridge.fingerprint, now: now)
        let server = try DTLSSession(role: .server, certificate: bridge, peerFingerprint: browser.fingerprint, now: now)
        handshake(client, server)
        #expect(server.state == .failed(.fingerprintMismatch))
        #expect(client.keys == nil)
    }
}
