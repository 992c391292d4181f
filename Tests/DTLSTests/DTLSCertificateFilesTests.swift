import DTLS
import Foundation
import Testing

/// A made certificate kept in files: read back by vcbridge and by OpenSSL as the same certificate and key.
@Suite("DTLS certificate files")
struct DTLSCertificateFilesTests {
    func openssl(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["openssl"] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func aWrittenCertificateLoadsBackTheSameAndOpenSSLAgrees() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-cert-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try DTLSCertificate.selfSigned(commonName: "vcbridge")
        let certificateFile = directory + "/cert.pem", keyFile = directory + "/key.pem"
        try made.write(certificateFile: certificateFile, privateKeyFile: keyFile)

        let loaded = try DTLSCertificate.load(certificateFile: certificateFile, privateKeyFile: keyFile)
        #expect(loaded.fingerprint == made.fingerprint)
        let mode = try FileManager.default.attributesOfItem(atPath: keyFile)[.posixPermissions] as? Int
        #expect(mode == 0o600)

        // OpenSSL: the same SHA-256, and the key's public half is the certificate's.
        let printed = try openssl(["x509", "-in", certificateFile, "-noout", "-fingerprint", "-sha256"])
        #expect(printed.output.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("=" + made.fingerprint.sdpValue.dropFirst("sha-256 ".count)))
        let fromKey = try openssl(["pkey", "-in", keyFile, "-pubout"])
        let fromCertificate = try openssl(["x509", "-in", certificateFile, "-noout", "-pubkey"])
        #expect(fromKey.status == 0 && fromCertificate.status == 0)
        #expect(fromKey.output == fromCertificate.output, "\(fromKey.output) vs \(fromCertificate.output)")
    }
}
