#if canImport(Glibc)
import Glibc
#endif
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
        #expect(waitUntil(seconds: 5) { server.activeConnections == 4 })
        let over = try TCPConnection(connectingTo: server.localAddress)
        _ = try? over.receiveLine(timeoutMilliseconds: 1000)
        #expect(over.peerClosed)
        for c in silent { c.close() }
        #expect(waitUntil(seconds: 5) { server.activeConnections == 0 })
        let c = try TCPConnection(connectingTo: server.localAddress)
        try c.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(try c.receiveLine(timeoutMilliseconds: 2000) == "HTTP/1.1 200 OK\r")
    }

    /// A connection to `address` from the loopback address `source`, with a receive buffer of
    /// `receiveBuffer` bytes if given (so that the kernel cannot take a whole response at once).
    func connect(to address: SocketAddress, from source: String = "127.0.0.1", receiveBuffer: Int32? = nil) throws -> TCPConnection {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #expect(fd >= 0)
        if var size = receiveBuffer { setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = address.port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let ok = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0 && withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
        guard ok else {
            let error = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: error) ?? .EIO)
        }
        return TCPConnection(descriptor: fd, peer: address)
    }

    @Test func aClientThatReadsSlowlyIsCutAtTheDeadlineFromAccept() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeoutNanoseconds = 1_000_000_000
        let body = [UInt8](repeating: UInt8(ascii: "x"), count: 32 << 20)
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), limits: limits) { _ in
            .init(contentType: "application/octet-stream", bytes: body)
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        let c = try connect(to: server.localAddress, receiveBuffer: 16 * 1024)
        let opened = monotonicNanoseconds()
        try c.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        // 64 KiB every 0.3 s: progress on every send, so a timeout that restarts with each send never ends it.
        var received = 0
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var endedAfter: Double? = nil
        while monotonicNanoseconds() - opened < 12_000_000_000 {
            var got = 0
            while got < chunk.count {
                let n = chunk.withUnsafeMutableBytes { recv(c.pollDescriptor, $0.baseAddress! + got, $0.count - got, 0) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                got += n
            }
            received += got
            if got < chunk.count {
                endedAfter = Double(monotonicNanoseconds() - opened) / 1e9
                break
            }
            Thread.sleep(forTimeInterval: 0.3)
        }
        let seconds = try #require(endedAfter, "still served after 12 s (\(received) bytes) with a 1 s deadline from accept")
        #expect(seconds < 6, "the response went on for \(seconds) s with a 1 s deadline")
        #expect(received < body.count)
        // The server is free again.
        #expect(waitUntil(seconds: 5) { server.activeConnections == 0 })
    }

    @Test func oneAddressCannotTakeEverySlot() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeoutNanoseconds = 5_000_000_000
        #expect(limits.maxConnectionsPerPeer == 8)
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), limits: limits) { _ in
            .init(contentType: "text/plain", body: "ok")
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        // Eight silent connections from one address hold their slots; a ninth from it is closed at once.
        let held = try (0..<8).map { _ in try connect(to: server.localAddress, from: "127.0.0.5") }
        #expect(waitUntil(seconds: 5) { server.activeConnections == 8 })
        let ninth = try connect(to: server.localAddress, from: "127.0.0.5")
        try? ninth.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        // Closed without an answer: an end of stream, or a reset (the request was left unread).
        var outcome = "reset"
        do { outcome = try ninth.receiveLine(timeoutMilliseconds: 2000) ?? (ninth.peerClosed ? "closed" : "still open") } catch {}
        #expect(outcome == "reset" || outcome == "closed", "the ninth connection from one address: \(outcome)")
        // Another address is served meanwhile.
        let other = try connect(to: server.localAddress, from: "127.0.0.6")
        try other.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(try other.receiveLine(timeoutMilliseconds: 2000) == "HTTP/1.1 200 OK\r")
        // Once the eight are gone, the address gets in again.
        for c in held { c.close() }
        #expect(waitUntil(seconds: 5) { server.activeConnections == 0 })
        let again = try connect(to: server.localAddress, from: "127.0.0.5")
        try again.send(Array("GET / HTTP/1.1\r\n\r\n".utf8))
        #expect(try again.receiveLine(timeoutMilliseconds: 2000) == "HTTP/1.1 200 OK\r")
    }
}

/// Polls `condition` every 20 ms until it holds or `seconds` pass.
func waitUntil(seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
    while monotonicNanoseconds() < deadline {
        if condition() { return true }
        usleep(20_000)
    }
    return condition()
}

@Suite("HTTP server: keep-alive")
struct HTTPServerKeepAliveTests {
    /// Reads one response (head and Content-Length body) from `c`.
    private func response(_ c: TCPConnection) throws -> (head: [String], body: String)? {
        var head: [String] = []
        while let line = try c.receiveLine(timeoutMilliseconds: 3000) {
            let trimmed = line.hasSuffix("\r") ? String(line.dropLast()) : line
            if trimmed.isEmpty { break }
            head.append(trimmed)
        }
        guard !head.isEmpty else { return nil }
        let length = head.first { $0.lowercased().hasPrefix("content-length:") }.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
        let body = try c.receive(count: length, deadline: monotonicNanoseconds() + 3_000_000_000) ?? []
        return (head, String(decoding: body, as: UTF8.self))
    }

    @Test func aBrowsersRequestsShareOneConnectionWithinTheLimits() throws {
        var limits = HTTPServer.Limits()
        limits.keepAliveIdleNanoseconds = 400_000_000
        limits.maxRequestsPerConnection = 3
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), limits: limits) { request in
            .init(contentType: "text/plain", body: request.path)
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        let keepAlive = "Connection: keep-alive\r\n\r\n"
        // Three requests on one connection; the third is told the connection closes (the per-connection limit).
        let c = try TCPConnection(connectingTo: server.localAddress)
        for (i, path) in ["/a", "/b", "/c"].enumerated() {
            try c.send(Array("GET \(path) HTTP/1.1\r\nHost: x\r\n\(keepAlive)".utf8))
            let r = try #require(try response(c), "no answer to request \(i + 1)")
            #expect(r.head.first == "HTTP/1.1 200 OK" && r.body == path)
            #expect(r.head.contains(i < 2 ? "Connection: keep-alive" : "Connection: close"), "\(r.head)")
        }
        _ = try? c.receiveLine(timeoutMilliseconds: 2000)
        #expect(c.peerClosed)
        // An idle kept-alive connection is closed after the idle time and frees its slot.
        let idle = try TCPConnection(connectingTo: server.localAddress)
        try idle.send(Array("GET /x HTTP/1.1\r\n\(keepAlive)".utf8))
        #expect(try response(idle)?.head.contains("Connection: keep-alive") == true)
        let answered = monotonicNanoseconds()
        _ = try? idle.receiveLine(timeoutMilliseconds: 3000)
        #expect(idle.peerClosed && monotonicNanoseconds() - answered < 2_000_000_000)
        #expect(waitUntil(seconds: 5) { server.activeConnections == 0 })
        // Without keep-alive (or with HTTP/1.0) the connection closes after the answer, as before.
        for request in ["GET /y HTTP/1.1\r\n\r\n", "GET /y HTTP/1.0\r\n\(keepAlive)", "GET /y HTTP/1.1\r\nConnection: close\r\n\r\n"] {
            let once = try TCPConnection(connectingTo: server.localAddress)
            try once.send(Array(request.utf8))
            #expect(try response(once)?.head.contains("Connection: close") == true, "\(request)")
        }
    }

    @Test func noConnectionIsKeptAliveLongerThanItsLifetimeFromAccept() throws {
        // A client that sends a request now and then cannot hold its connection (and thread) for hours.
        var limits = HTTPServer.Limits()
        limits.keepAliveLifetimeNanoseconds = 600_000_000
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), limits: limits) { _ in
            .init(contentType: "text/plain", body: "ok")
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        let c = try TCPConnection(connectingTo: server.localAddress)
        var answers: [Bool] = []
        for _ in 0..<4 {
            try c.send(Array("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n".utf8))
            guard let r = try response(c) else { break }
            answers.append(r.head.contains("Connection: keep-alive"))
            Thread.sleep(forTimeInterval: 0.25)
        }
        // Kept alive at first; the answer after 0.6 s from accept closes it.
        #expect(answers.first == true && answers.last == false && answers.count >= 3, "\(answers)")
        _ = try? c.receiveLine(timeoutMilliseconds: 2000)
        #expect(c.peerClosed)
    }

    @Test func keptAliveConnectionsStopBeingKeptWhenTheServerIsHalfFull() throws {
        var limits = HTTPServer.Limits()
        limits.maxConnections = 4
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), limits: limits) { _ in
            .init(contentType: "text/plain", body: "ok")
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        // Two idle connections hold half the slots: the next request is answered and its connection closed.
        let held = try (0..<2).map { _ in try TCPConnection(connectingTo: server.localAddress) }
        #expect(waitUntil(seconds: 5) { server.activeConnections == 2 })
        let c = try TCPConnection(connectingTo: server.localAddress)
        try c.send(Array("GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n".utf8))
        #expect(try response(c)?.head.contains("Connection: close") == true)
        for h in held { h.close() }
    }
}
