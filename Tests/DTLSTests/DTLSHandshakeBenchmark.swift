import Foundation
import Testing
import Transport
@testable import DTLS

/// One measurement of what a handshake costs the bridge (printed; asserted only to complete): sequential handshakes
/// with openssl s_client over loopback. "in session" is the time spent inside the session's calls on the handshake
/// thread (NSS: ECDHE, the ECDSA signature, the client's CertificateVerify), the figure that bounds how many joins one
/// handshake thread takes per second; "total" includes OpenSSL's side and the loopback round trips.
@Suite struct DTLSHandshakeBenchmark {
    @Test func handshakeTimeIsMeasured() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let peerIdentity = try OpenSSLIdentity(in: directory, name: "browser")
        let fingerprint = try peerIdentity.fingerprint()
        let certificate = try DTLSCertificate.selfSigned()
        var inSession: [Int64] = []
        var total: [Int64] = []
        for _ in 0..<6 {
            let pump = try DatagramPump()
            let session = try DTLSSession(
                role: .server, certificate: certificate, peerFingerprint: fingerprint, now: monotonicNanoseconds())
            let client = try OpenSSLClient(port: pump.port, directory: directory, identity: peerIdentity)
            try pump.run(session) { pump.keys != nil }
            let keys = try #require(pump.keys, "openssl said:\n\(client.output)")
            _ = keys
            inSession.append(pump.sessionNanoseconds)
            total.append(pump.establishedAt! - pump.firstDatagramAt!)
            client.process.terminate()
        }
        func summary(_ values: [Int64]) -> String {
            let sorted = values.sorted().map { Double($0) / 1_000_000 }
            return String(format: "min %.2f ms, median %.2f ms, max %.2f ms", sorted.first!, sorted[sorted.count / 2],
                          sorted.last!)
        }
        print("DTLS handshake (\(inSession.count) with openssl s_client): in session \(summary(inSession)); "
            + "ClientHello to keys \(summary(total))")
    }
}
