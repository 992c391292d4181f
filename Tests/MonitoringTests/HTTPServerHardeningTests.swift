import Foundation
import Testing
import Transport
@testable import Monitoring

@Suite("HTTP server: hostile requests")
struct HTTPServerHardeningTests {
    @Test(arguments: ["/x?=", "/x?=v", "/x?&=", "x", "", "/x?%zz=1", "/x?a=%", "/%zz"])
    func aMalformedTargetIsABadRequest(target: String) {
        #expect(throws: HTTPServer.BadRequest.self) { try HTTPServer.parseTarget(Substring(target)) }
    }

    @Test func queriesAreDecoded() throws {
        let (path, query) = try HTTPServer.parseTarget("/quality.json?site=lang-cong&x=&&flag&name=S%C3%B4ng+L%C3%B4")
        #expect(path == "/quality.json")
        #expect(query == ["site": "lang-cong", "x": "", "flag": "", "name": "Sông Lô"])
    }

    @Test func everyHostileRequestGetsAnErrorAndTheServerGoesOn() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeoutNanoseconds = 1_000_000_000
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), limits: limits) { request in
            request.path == "/" ? .init(contentType: "text/plain", body: "ok") : nil
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        func request(_ bytes: [UInt8]) throws -> String {
            let c = try TCPConnection(connectingTo: server.localAddress)
            try? c.send(bytes)
            var lines: [String] = []
            while let line = try? c.receiveLine(timeoutMilliseconds: 3000) { lines.append(line) }
            return lines.joined(separator: "\n")
        }
        for text in ["GET /x?= HTTP/1.1\r\n\r\n", "GET  HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n", "GET /%zz HTTP/1.1\r\n\r\n",
                     "GET /\(String(repeating: "a", count: 9000)) HTTP/1.1\r\n\r\n",
                     "GET / HTTP/1.1\r\n" + String(repeating: "X: y\r\n", count: 101) + "\r\n"] {
            let answer = try request(Array(text.utf8))
            #expect(answer.hasPrefix("HTTP/1.1 400 Bad Request"), "\(text.prefix(40)): \(answer.prefix(60))")
        }
        #expect(try request([0xFF, 0x00, 0x0A, 0x0A]).hasPrefix("HTTP/1.1 400"))
        // A silent client is cut at the deadline (1 s here) and costs nothing after.
        let silent = try TCPConnection(connectingTo: server.localAddress)
        let opened = monotonicNanoseconds()
        _ = try? silent.receiveLine(timeoutMilliseconds: 4000)
        #expect(silent.peerClosed)
        #expect(monotonicNanoseconds() - opened < 3_500_000_000)
        #expect(try request(Array("GET / HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 200 OK"))
    }

    @Test func connectionsOverTheCapAreClosedAndTheRestServed() throws {
        var limits = HTTPServer.Limits()
        limits.maxConnections = 4
        limits.requestTimeoutNanoseconds = 2_000_000_000
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), limits: limits) { _ in
            .init(contentType: "text/plain", body: "ok")
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        let silent = try (0..<4).map { _ in try TCPConnection(connectingTo: server.localAddress) }
        Thread.sleep(forTimeInterval: 0.2)
        let over = try TCPConnection(connectingTo: server.localAddress)
        _ = try? over.receiveLine(timeoutMilliseconds: 1000)
        #expect(over.peerClosed)
        for c in silent { c.close() }
        Thread.sleep(forTimeInterval: 0.2)
        let c = try TCPConnection(connectingTo: server.localAddress)
        try c.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(try c.receiveLine(timeoutMilliseconds: 2000) == "HTTP/1.1 200 OK\r")
    }
}
