import Foundation
import Synchronization
import Testing
import Transport
@testable import VCBridgeCLI

/// A GET over HTTPS with Python's ssl module (OpenSSL), not verifying the chain (the test compares the certificate's
/// SHA-256 with what the bridge logged): the status line and body, and the fingerprint as `AB:CD:...`.
func httpsGet(_ address: String, path: String) throws -> (response: String, fingerprint: String) {
    let script = """
        import hashlib, socket, ssl, sys
        host, port = sys.argv[1].rsplit(":", 1)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with socket.create_connection((host, int(port)), timeout=10) as raw:
            with context.wrap_socket(raw) as tls:
                digest = hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest().upper()
                tls.sendall(("GET %s HTTP/1.1\\r\\nHost: bridge\\r\\n\\r\\n" % sys.argv[2]).encode())
                data = b""
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        print(":".join(digest[i:i + 2] for i in range(0, 64, 2)))
        sys.stdout.write(data.decode("utf-8", "replace"))
        """
    let result = try runTool("python3", ["-c", script, address, path])
    guard result.status == 0 else { throw CommandFailure("the HTTPS client failed: \(result.output)") }
    let lines = result.output.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
    return (lines.count > 1 ? String(lines[1]) : "", String(lines.first ?? ""))
}

extension RunningBridge {
    /// The fields of the bridge's `event=https` log line (address, fingerprint, certificate), empty if none.
    var httpsFields: [String: String] {
        guard let line = logText.split(separator: "\n").first(where: { $0.contains("event=https ") }) else { return [:] }
        return Dictionary(line.split(separator: " ").compactMap { field -> (String, String)? in
            let kv = field.split(separator: "=", maxSplits: 1)
            return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
        }) { first, _ in first }
    }
}

@Suite("HTTPS on the bridge's web listener", .serialized)
struct HTTPSBridgeTests {
    @Test func aBridgeServesMetricsOverHTTPSWithTheCertificateItLogged() throws {
        let bridge = try RunningBridge(quality: #"{"httpEnabled": true, "httpAddress": "127.0.0.1", "httpPort": 0, "httpTLS": "on"}"#)
        let fields = bridge.httpsFields
        let address = try #require(fields["address"], "\(bridge.logText)")
        let fingerprint = try #require(fields["fingerprint"])
        #expect(fingerprint.split(separator: ":").count == 32)
        #expect(!bridge.logText.contains("event=http "))
        let (response, seen) = try httpsGet(address, path: "/metrics")
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(response)")
        #expect(response.contains("# TYPE vcbridge_"))
        #expect(seen == fingerprint)
        // Plain HTTP on the TLS port gets no page, and the listener serves on.
        let plain = try rawHTTP(Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8), to: SocketAddress(parsing: address))
        #expect(!plain.contains("vcbridge_"))
        #expect(try httpsGet(address, path: "/metrics").response.hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    /// Without certificate files the bridge makes one at its first start, keeps it in the data directory, and shows
    /// the same one after a restart.
    @Test func theCertificateMadeAtFirstStartIsKeptAcrossARestart() throws {
        let bridge = try RunningBridge(quality: #"{"httpEnabled": true, "httpAddress": "127.0.0.1", "httpPort": 0, "httpTLS": "on"}"#)
        let first = try #require(bridge.httpsFields["fingerprint"], "\(bridge.logText)")
        let kept = bridge.dataDirectory + "/https-certificate.pem"
        let printed = try runTool("openssl", ["x509", "-in", kept, "-noout", "-fingerprint", "-sha256"])
        #expect(printed.output.trimmingCharacters(in: .whitespacesAndNewlines).hasSuffix("=" + first), "\(printed.output)")
        let mode = try FileManager.default.attributesOfItem(atPath: bridge.dataDirectory + "/https-key.pem")[.posixPermissions] as? Int
        #expect(mode == 0o600)
        #expect(bridge.stop() == 0)

        // The same data directory and settings again.
        let again = Process()
        again.executableURL = VCBridgeProcess.executable
        again.arguments = ["serve", "--listen", "127.0.0.1", "--signal-port", "0", "--media-port", "0", "--config",
                           bridge.dataDirectory + "/config.json"]
        again.environment = ProcessInfo.processInfo.environment.merging(bridge.environment) { _, new in new }
        let pipe = Pipe()
        again.standardError = pipe
        again.standardOutput = FileHandle.nullDevice
        let text = Mutex("")
        pipe.fileHandleForReading.readabilityHandler = { handle in
            let chunk = String(decoding: handle.availableData, as: UTF8.self)
            text.withLock { $0 += chunk }
        }
        try again.run()
        defer {
            if again.isRunning { again.terminate() }
            again.waitUntilExit()
            pipe.fileHandleForReading.readabilityHandler = nil
        }
        #expect(waitFor(10) { text.withLock { $0.contains("event=listening") } }, "\(text.withLock { $0 })")
        let line = text.withLock { $0 }.split(separator: "\n").first { $0.contains("event=https ") } ?? ""
        #expect(line.contains(" fingerprint=\(first) "), "\(line)")
        let address = line.split(separator: " ").first { $0.hasPrefix("address=") }.map { String($0.dropFirst("address=".count)) } ?? ""
        #expect(try httpsGet(address, path: "/metrics").fingerprint == first)
    }

    @Test func theConfiguredCertificateIsShownForHTTPS() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-tls-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let made = try runTool("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-noenc",
                                           "-keyout", directory + "/key.pem", "-out", directory + "/cert.pem", "-days", "30",
                                           "-subj", "/CN=bridge.example"])
        try #require(made.status == 0, "\(made.output)")
        let printed = try runTool("openssl", ["x509", "-in", directory + "/cert.pem", "-noout", "-fingerprint", "-sha256"])
        let expected = try #require(printed.output.split(separator: "=", maxSplits: 1).last).trimmingCharacters(in: .whitespacesAndNewlines)
        let bridge = try RunningBridge(quality: #"{"httpEnabled": true, "httpAddress": "127.0.0.1", "httpPort": 0, "httpTLS": "on", "tlsCertificateFile": "\#(directory)/cert.pem", "tlsPrivateKeyFile": "\#(directory)/key.pem"}"#)
        let fields = bridge.httpsFields
        let address = try #require(fields["address"], "\(bridge.logText)")
        #expect(fields["fingerprint"] == expected)
        let (response, seen) = try httpsGet(address, path: "/metrics")
        #expect(response.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(seen == expected)
    }

    @Test func onLoopbackTheDefaultIsPlainHTTP() throws {
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        #expect(bridge.logText.contains("event=http "))
        #expect(bridge.httpsFields.isEmpty)
    }
}
