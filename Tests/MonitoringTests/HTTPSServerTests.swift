#if canImport(Glibc)
import Glibc
#endif
import DTLS
import Foundation
import Synchronization
import Testing
import Transport
@testable import Monitoring

/// HTTPS on the web listener: NSS serves, Python's ssl module (OpenSSL) is the client, over real loopback sockets.
@Suite("HTTP server over TLS (NSS), with an OpenSSL client")
struct HTTPSServerTests {
    /// What the Python client saw: the negotiated version, the SHA-256 of the server's certificate, the response.
    struct Seen: Decodable {
        var version: String
        var fingerprint: String
        var response: String
    }

    /// Python's ssl client: no verification (the certificate is self-signed; the test compares its fingerprint), a
    /// GET of `path`, everything until the server closes.
    static let client = """
        import hashlib, json, socket, ssl, sys
        host, port, path, version = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if version == "1.2":
            context.maximum_version = ssl.TLSVersion.TLSv1_2
        elif version == "1.3":
            context.minimum_version = ssl.TLSVersion.TLSv1_3
        with socket.create_connection((host, port), timeout=10) as raw:
            with context.wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
                tls.sendall(("GET %s HTTP/1.1\\r\\nHost: bridge\\r\\n\\r\\n" % path).encode())
                data = b""
                while True:
                    chunk = tls.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                print(json.dumps({"version": tls.version(), "fingerprint": hashlib.sha256(der).hexdigest(),
                                  "response": data.decode("utf-8", "replace")}))
        """

    static func fetch(_ address: SocketAddress, path: String, version: String = "any") throws -> Seen {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", client, "127.0.0.1", String(address.port), path, version]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problem = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ClientFailed(text: String(decoding: problem, as: UTF8.self))
        }
        return try JSONDecoder().decode(Seen.self, from: data)
    }

    struct ClientFailed: Error, CustomStringConvertible {
        var text: String
        var description: String { "the TLS client failed: \(text)" }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func withTLSServer<T>(_ limits: HTTPServer.Limits = .init(), _ body: (HTTPServer, DTLSCertificate) throws -> T) throws -> T {
        let certificate = try DTLSCertificate.selfSigned(commonName: "vcbridge-test")
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), tls: TLSServerContext(certificate: certificate),
                                    limits: limits) { request in
            request.path == "/hello" ? HTTPServer.Response(contentType: "text/plain", body: "hello over TLS\n") : nil
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        return try body(server, certificate)
    }

    @Test(arguments: ["1.2", "1.3"])
    func aGetOverTLSGetsTheBodyFromTheCertificateWeMade(version: String) throws {
        try Self.withTLSServer { server, certificate in
            let seen = try Self.fetch(server.localAddress, path: "/hello", version: version)
            #expect(seen.version == "TLSv" + version)
            #expect(seen.fingerprint == Self.hex(certificate.fingerprint.bytes))
            #expect(seen.response.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(seen.response.hasSuffix("\r\n\r\nhello over TLS\n"))
            let missing = try Self.fetch(server.localAddress, path: "/nothing")
            #expect(missing.response.hasPrefix("HTTP/1.1 404 "))
        }
    }

    /// Connections handshake at the same time on their own threads, all from the one model socket.
    @Test func concurrentClientsAreAllServed() throws {
        try Self.withTLSServer { server, certificate in
            let results = Mutex<[String]>([])
            DispatchQueue.concurrentPerform(iterations: 8) { i in
                let seen = try? Self.fetch(server.localAddress, path: "/hello", version: i % 2 == 0 ? "1.2" : "1.3")
                results.withLock { $0.append(seen.map { $0.fingerprint + " " + $0.response } ?? "failed") }
            }
            let all = results.withLock { $0 }
            #expect(all.count == 8)
            #expect(all.allSatisfy { $0.hasPrefix(Self.hex(certificate.fingerprint.bytes)) && $0.hasSuffix("hello over TLS\n") }, "\(all)")
        }
    }

    /// Clients that reset the connection right after their request, while the server writes a large response and
    /// its close_notify into a dead socket: no SIGPIPE ends the process, and the listener serves on.
    @Test func clientsThatResetMidResponseDoNotStopTheServer() throws {
        let certificate = try DTLSCertificate.selfSigned(commonName: "vcbridge-test")
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 4 << 20)
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), tls: TLSServerContext(certificate: certificate)) { request in
            request.path == "/big" ? HTTPServer.Response(contentType: "text/plain", bytes: big)
                : HTTPServer.Response(contentType: "text/plain", body: "hello over TLS\n")
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        let script = """
            import socket, ssl, struct, sys, time
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            for i in range(10):
                raw = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
                tls = context.wrap_socket(raw)
                tls.sendall(b"GET /big HTTP/1.1\\r\\n\\r\\n")
                tls.recv(100)
                tls.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                tls.close()
            time.sleep(0.5)
            print("done")
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, String(server.localAddress.port)]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(String(decoding: data, as: UTF8.self).contains("done"))
        let seen = try Self.fetch(server.localAddress, path: "/hello")
        #expect(seen.response.hasSuffix("hello over TLS\n"))
    }

    /// Connects, sends `bytes`, and waits (up to `waitMilliseconds`) for the server to close; returns what came back
    /// and whether it closed.
    static func poke(_ address: SocketAddress, _ bytes: [UInt8], waitMilliseconds: Int64 = 10_000) throws -> HTTPServerRequestTests.Answer {
        let c = try TCPConnection(connectingTo: address)
        if !bytes.isEmpty { try? c.send(bytes) }
        return HTTPServerRequestTests.readAll(c, timeoutMilliseconds: waitMilliseconds)
    }

    @Test func plainHTTPGarbageAndAStalledHandshakeAreClosedAndTheListenerServesOn() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeoutNanoseconds = 400_000_000
        try Self.withTLSServer(limits) { server, certificate in
            // A plain-HTTP request on the TLS port: no HTTP answer, the connection closed.
            let plain = try Self.poke(server.localAddress, Array("GET /hello HTTP/1.1\r\nHost: bridge\r\n\r\n".utf8))
            #expect(plain.closed)
            #expect(!String(decoding: plain.raw, as: UTF8.self).contains("hello over TLS"))
            // Random bytes.
            var generator = SystemRandomNumberGenerator()
            let noise = (0..<3000).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(try Self.poke(server.localAddress, noise).closed)
            // A record header of a ClientHello that never completes, and a client that sends nothing: closed at the
            // deadline from accept (400 ms), well before the 10 s the test waits.
            let started = monotonicNanoseconds()
            let stalled = try Self.poke(server.localAddress, [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00])
            #expect(stalled.closed)
            #expect(try Self.poke(server.localAddress, []).closed)
            #expect(monotonicNanoseconds() - started < 8_000_000_000)
            // Each counted, and the listener still serves.
            let deadline = monotonicNanoseconds() + 5_000_000_000
            while server.tlsHandshakeFailures < 4, monotonicNanoseconds() < deadline { usleep(10_000) }
            #expect(server.tlsHandshakeFailures == 4)
            let seen = try Self.fetch(server.localAddress, path: "/hello")
            #expect(seen.response.hasSuffix("hello over TLS\n"))
            #expect(seen.fingerprint == Self.hex(certificate.fingerprint.bytes))
        }
    }

    /// The TLS handshake succeeds but the request dribbles: the same deadline from accept cuts it with a 408 over TLS.
    @Test func aRequestThatStopsAfterTheHandshakeGets408AtTheDeadline() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeoutNanoseconds = 600_000_000
        try Self.withTLSServer(limits) { server, _ in
            let script = """
                import socket, ssl, sys
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                context.check_hostname = False
                context.verify_mode = ssl.CERT_NONE
                with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10) as raw:
                    with context.wrap_socket(raw) as tls:
                        tls.sendall(b"GET /hello HTTP/1.1\\r\\n")
                        data = b""
                        while True:
                            chunk = tls.recv(65536)
                            if not chunk:
                                break
                            data += chunk
                        sys.stdout.write(data.decode())
                """
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, String(server.localAddress.port)]
            let output = Pipe()
            process.standardOutput = output
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            #expect(String(decoding: data, as: UTF8.self).hasPrefix("HTTP/1.1 408 "))
            #expect(server.tlsHandshakeFailures == 0)
        }
    }
}
