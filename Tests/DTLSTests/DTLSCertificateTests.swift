import Foundation
import Testing
import Transport
@testable import DTLS

@Suite struct DTLSFingerprintTests {
    @Test func anSDPFingerprintParsesAndPrintsBack() throws {
        let text = "sha-256 " + (0..<32).map { String(format: "%02X", $0 * 7 % 256) }.joined(separator: ":")
        let fingerprint = try DTLSFingerprint(sdpValue: text)
        #expect(fingerprint.bytes == (0..<32).map { UInt8($0 * 7 % 256) })
        #expect(fingerprint.sdpValue == text)
        #expect(try DTLSFingerprint(sdpValue: text.lowercased().replacingOccurrences(of: "sha-256", with: "SHA-256"))
            == fingerprint)
    }

    private static func digest(_ group: String, count: Int) -> String {
        Array(repeating: group, count: count).joined(separator: ":")
    }

    static let badFingerprints: [(String, DTLSError)] = [
        ("sha-1 " + digest("AB", count: 20), .unsupportedFingerprintAlgorithm),
        ("sha-512 " + digest("00", count: 64), .unsupportedFingerprintAlgorithm),
        ("sha-256 AB:CD", .malformedFingerprint),
        ("sha-256 " + digest("ZZ", count: 32), .malformedFingerprint),
        ("sha-256 " + digest("0", count: 32), .malformedFingerprint),
        ("sha-256 " + digest("000", count: 32), .malformedFingerprint),
        ("sha-256 " + digest("+1", count: 32), .malformedFingerprint),
        ("sha-256 " + digest("00", count: 33), .malformedFingerprint),
        ("sha-256", .malformedFingerprint),
        ("", .malformedFingerprint),
        ("sha-256 00 00", .malformedFingerprint),
    ]

    @Test(arguments: badFingerprints)
    func aBadSDPFingerprintIsRefusedByName(text: String, error: DTLSError) {
        #expect(throws: error) { try DTLSFingerprint(sdpValue: text) }
    }
}

@Suite struct DTLSCertificateTests {
    @Test func aSelfSignedCertificateIsECDSAP256SignedWithSHA256AsOpenSSLReadsIt() throws {
        let start = monotonicNanoseconds()
        let certificate = try DTLSCertificate.selfSigned(commonName: "vcbridge test")
        print("self-signed P-256 certificate made in \((monotonicNanoseconds() - start) / 1000) µs")
        #expect(try DTLSCertificate.selfSigned().fingerprint != certificate.fingerprint)
        #expect(certificate.fingerprint.sdpValue.hasPrefix("sha-256 "))
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let path = directory.path + "/bridge.der"
        FileManager.default.createFile(atPath: path, contents: Data(certificate.derBytes))
        let (status, text) = try OpenSSL.run(["x509", "-inform", "DER", "-in", path, "-noout", "-text"])
        #expect(status == 0)
        #expect(text.contains("ecdsa-with-SHA256"), "\(text)")
        #expect(text.contains("prime256v1") || text.contains("P-256"), "\(text)")
        #expect(text.contains("CN = vcbridge test") || text.contains("CN=vcbridge test"), "\(text)")
        // OpenSSL verifies the self-signature with the certificate's own key.
        let (verified, _) = try OpenSSL.run(["verify", "-CAfile", derToPEM(path, directory), derToPEM(path, directory)])
        #expect(verified == 0)
        let (_, fingerprint) = try OpenSSL.run(["x509", "-inform", "DER", "-in", path, "-noout", "-fingerprint", "-sha256"])
        #expect(fingerprint.contains("=" + certificate.fingerprint.sdpValue.dropFirst("sha-256 ".count)))
    }

    private func derToPEM(_ path: String, _ directory: ScratchDirectory) throws -> String {
        let pem = directory.path + "/bridge.pem"
        if !FileManager.default.fileExists(atPath: pem) {
            try OpenSSL.run(["x509", "-inform", "DER", "-in", path, "-out", pem])
        }
        return pem
    }

    @Test func badCertificateParametersAreRefused() {
        #expect(throws: DTLSError.invalidCertificateParameters) { try DTLSCertificate.selfSigned(validDays: 0) }
        #expect(throws: DTLSError.invalidCertificateParameters) {
            try DTLSCertificate.selfSigned(commonName: String(repeating: "x", count: 65))
        }
    }

    @Test func pemProblemsAreNamed() throws {
        guard OpenSSL.required() != nil else { return }
        let directory = try ScratchDirectory()
        let a = try OpenSSLIdentity(in: directory, name: "a")
        let b = try OpenSSLIdentity(in: directory, name: "b")
        let certificate = try String(contentsOfFile: a.certificatePath, encoding: .utf8)
        let keyA = try String(contentsOfFile: a.keyPath, encoding: .utf8)
        let keyB = try String(contentsOfFile: b.keyPath, encoding: .utf8)
        #expect(try DTLSCertificate.load(certificatePEM: certificate, privateKeyPEM: keyA).fingerprint
            == (try a.fingerprint()))
        #expect(throws: DTLSError.keyDoesNotMatchCertificate) {
            try DTLSCertificate.load(certificatePEM: certificate, privateKeyPEM: keyB)
        }
        // The same key in SEC1 form ("EC PRIVATE KEY"): refused with the conversion to use.
        let sec1Path = directory.path + "/a-sec1.key"
        try OpenSSL.run(["ec", "-in", a.keyPath, "-out", sec1Path])
        let sec1 = try String(contentsOfFile: sec1Path, encoding: .utf8)
        #expect(sec1.contains("BEGIN EC PRIVATE KEY"))
        #expect(throws: DTLSError.unsupportedPrivateKeyFormat) {
            try DTLSCertificate.load(certificatePEM: certificate, privateKeyPEM: sec1)
        }
        #expect(DTLSError.unsupportedPrivateKeyFormat.description.contains("openssl pkcs8 -topk8 -nocrypt"))
        #expect(throws: DTLSError.malformedPEM) { try DTLSCertificate.load(certificatePEM: "hello", privateKeyPEM: keyA) }
        #expect(throws: DTLSError.malformedPEM) {
            try DTLSCertificate.load(
                certificatePEM: "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n",
                privateKeyPEM: keyA)
        }
        // Valid base64, not a certificate: NSS's own error, by name.
        do {
            _ = try DTLSCertificate.load(
                certificatePEM: "-----BEGIN CERTIFICATE-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE-----\n",
                privateKeyPEM: keyA)
            Issue.record("garbage DER accepted")
        } catch {
            #expect(error.rawValue < 0)
            #expect(error.name.hasPrefix("SEC_ERROR_"), "\(error)")
        }
        #expect(throws: DTLSError.unreadableFile) {
            try DTLSCertificate.load(certificateFile: directory.path + "/missing.crt", privateKeyFile: a.keyPath)
        }
    }
}

@Suite struct DTLSErrorAndKeyTests {
    @Test func nssErrorsCarryTheirNames() {
        #expect(DTLSError.noCertificate.name == "SSL_ERROR_NO_CERTIFICATE")
        #expect(DTLSError.badCertificateAlert.name == "SSL_ERROR_BAD_CERT_ALERT")
        #expect(DTLSError.handshakeFailureAlert.name == "SSL_ERROR_HANDSHAKE_FAILURE_ALERT")
        #expect(DTLSError.badDER.name == "SEC_ERROR_BAD_DER")
        #expect(DTLSError(rawValue: -5998).name == "PR_WOULD_BLOCK_ERROR")
        #expect(DTLSError.badCertificateAlert.description.hasPrefix("SSL_ERROR_BAD_CERT_ALERT: "))
        #expect(DTLSError.handshakeTimedOut.description.contains("did not complete"))
    }

    @Test func theExporterOutputSplitsIntoClientAndServerKeysPerRFC5764() {
        let material = (0..<60).map { UInt8($0) }
        let keys = DTLSSRTPKeys(profile: .aesCM128HMACSHA1_80, exported: material, role: .server)
        #expect(keys.inbound == Array(0..<16) + Array(32..<46))
        #expect(keys.outbound == Array(16..<32) + Array(46..<60))
        let gcm = DTLSSRTPKeys(profile: .aeadAES128GCM, exported: Array(material.prefix(56)), role: .server)
        #expect(gcm.inbound == Array(0..<16) + Array(32..<44))
        #expect(gcm.outbound == Array(16..<32) + Array(44..<56))
        // The client sends with what the server receives with, and the other way round.
        let client = DTLSSRTPKeys(profile: .aesCM128HMACSHA1_80, exported: material, role: .client)
        #expect(client.outbound == keys.inbound && client.inbound == keys.outbound)
    }
}
