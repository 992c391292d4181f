#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import Transport
@testable import Monitoring

/// Requests with methods, headers and bodies, and responses with extra headers, over real loopback sockets.
@Suite("HTTP server: methods, headers, bodies")
struct HTTPServerRequestTests {
    /// A response as it arrived on the wire.
    struct Answer {
        var statusLine = ""
        var headerLines: [String] = []
        var body: [UInt8] = []
        var raw: [UInt8] = []
        /// The server closed the connection before the wait ran out.
        var closed = false

        var status: Int { statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0 }
        func header(_ name: String) -> String? {
            headerLines.first { $0.lowercased().hasPrefix(name.lowercased() + ":") }
                .map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
    }

    /// A server on a loopback port, serving on its own thread until the end of `body`.
    static func withServer<T>(_ limits: HTTPServer.Limits = .init(), report: @escaping HTTPServer.Reporter = { _, _ in },
                              handler: @escaping HTTPServer.Handler, _ body: (SocketAddress) throws -> T) throws -> T {
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0), limits: limits, report: report, handler: handler)
        Thread { server.serve() }.start()
        defer { server.close() }
        return try body(server.localAddress)
    }

    /// Everything the server sends until it closes, waiting `timeoutMilliseconds` at most in all.
    static func readAll(_ c: TCPConnection, timeoutMilliseconds: Int64 = 10_000) -> Answer {
        let end = monotonicNanoseconds() + timeoutMilliseconds * 1_000_000
        var answer = Answer()
        var chunk = [UInt8](repeating: 0, count: 4096)
        while monotonicNanoseconds() < end {
            var fds = pollfd(fd: c.pollDescriptor, events: Int16(POLLIN), revents: 0)
            guard poll(&fds, 1, 100) >= 0 else { break }
            if fds.revents == 0 { continue }
            let n = chunk.withUnsafeMutableBytes { recv(c.pollDescriptor, $0.baseAddress, $0.count, 0) }
            if n <= 0 {
                answer.closed = true
                break
            }
            answer.raw += chunk[0..<n]
        }
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var split: Int?
        if answer.raw.count >= 4 {
            for i in 0...(answer.raw.count - 4) where Array(answer.raw[i..<i + 4]) == separator {
                split = i
                break
            }
        }
        let headEnd = split ?? answer.raw.count
        let lines = String(decoding: answer.raw[..<headEnd], as: UTF8.self).components(separatedBy: "\r\n")
        answer.statusLine = lines.first ?? ""
        answer.headerLines = Array(lines.dropFirst())
        if let split { answer.body = Array(answer.raw[(split + 4)...]) }
        return answer
    }

    /// Sends `bytes` on a fresh connection and returns what comes back.
    static func exchange(_ bytes: [UInt8], with address: SocketAddress) throws -> Answer {
        let c = try TCPConnection(connectingTo: address)
        try? c.send(bytes)
        return readAll(c)
    }

    static func exchange(_ text: String, with address: SocketAddress) throws -> Answer {
        try exchange(Array(text.utf8), with: address)
    }

    /// Echoes the body back, with the method in `X-Method`.
    static let echo: HTTPServer.Handler = { request in
        HTTPServer.Response(status: 200, contentType: "application/octet-stream", bytes: request.body,
                            headers: [("X-Method", request.method.rawValue)])
    }

    @Test func aPostedBodyIsHandedOverExactly() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeoutNanoseconds = 30_000_000_000
        try Self.withServer(limits, handler: Self.echo) { address in
            let body: [UInt8] = [0x61, 0x00, 0x62, 0x0D, 0x0A, 0x0D, 0x0A] + Array("Sông Lô ✓ 通".utf8) + [0xFF, 0x00]
            // Sent in pieces, more bytes after the body than declared, and the connection left open: the answer
            // comes without waiting for the deadline, with exactly the declared bytes.
            let c = try TCPConnection(connectingTo: address)
            let opened = monotonicNanoseconds()
            try c.send(Array("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/sdp\r\nContent-Length: \(body.count)\r\n".utf8))
            Thread.sleep(forTimeInterval: 0.05)
            try c.send(Array("\r\n".utf8) + body.prefix(3))
            Thread.sleep(forTimeInterval: 0.05)
            try c.send(Array(body.dropFirst(3)) + Array("EXTRA BYTES".utf8))
            let answer = Self.readAll(c, timeoutMilliseconds: 20_000)
            #expect(answer.statusLine == "HTTP/1.1 200 OK")
            #expect(answer.body == body)
            #expect(answer.header("Content-Length") == "\(body.count)")
            #expect(answer.header("X-Method") == "POST")
            #expect(answer.closed)
            #expect(monotonicNanoseconds() - opened < 15_000_000_000, "the server waited for bytes beyond Content-Length")

            // In one piece, and an empty body.
            let whole = try Self.exchange(Array("POST /echo HTTP/1.1\r\nContent-Length: \(body.count)\r\n\r\n".utf8) + body, with: address)
            #expect(whole.status == 200 && whole.body == body)
            let empty = try Self.exchange("POST /echo HTTP/1.1\r\nContent-Length: 0\r\n\r\n", with: address)
            #expect(empty.status == 200 && empty.body.isEmpty && empty.header("Content-Length") == "0")
        }
    }

    @Test func aBodyOverTheLimitIs413WithoutWaitingForIt() throws {
        #expect(HTTPServer.Limits().maxBodyBytes == 64 * 1024)
        var limits = HTTPServer.Limits()
        limits.maxBodyBytes = 1000
        limits.requestTimeoutNanoseconds = 30_000_000_000
        try Self.withServer(limits, handler: Self.echo) { address in
            for length in ["1001", "99999999999999999999999999999"] {
                let c = try TCPConnection(connectingTo: address)
                let opened = monotonicNanoseconds()
                try c.send(Array("POST /echo HTTP/1.1\r\nContent-Length: \(length)\r\n\r\n".utf8) + Array(repeating: 0x41, count: 10))
                let answer = Self.readAll(c, timeoutMilliseconds: 20_000)
                #expect(answer.status == 413, "\(length): \(answer.statusLine)")
                #expect(answer.closed)
                // The whole body would never come: answering took far less than the 30 s deadline.
                #expect(monotonicNanoseconds() - opened < 15_000_000_000)
            }
            let atLimit = [UInt8](repeating: 0x42, count: 1000)
            let ok = try Self.exchange(Array("POST /echo HTTP/1.1\r\nContent-Length: 1000\r\n\r\n".utf8) + atLimit, with: address)
            #expect(ok.status == 200 && ok.body == atLimit)
        }
    }

    @Test func aPostWithoutContentLengthIs411() throws {
        try Self.withServer(handler: Self.echo) { address in
            let answer = try Self.exchange("POST /echo HTTP/1.1\r\nHost: x\r\n\r\n", with: address)
            #expect(answer.statusLine == "HTTP/1.1 411 Length Required")
        }
    }

    @Test(arguments: ["Content-Length: -1\r\n", "Content-Length: +3\r\n", "Content-Length: 3.0\r\n", "Content-Length: abc\r\n",
                      "Content-Length:\r\n", "Content-Length: 3 3\r\n", "Content-Length: 0x3\r\n", "Content-Length: 3\r\nContent-Length: 4\r\n",
                      "Content-Length: 3, 4\r\n", "Content-Length: 3,\r\n", "Content-Length : 3\r\n"])
    func aBadContentLengthIs400(header: String) throws {
        try Self.withServer(handler: Self.echo) { address in
            let answer = try Self.exchange("POST /echo HTTP/1.1\r\n\(header)\r\nabcd", with: address)
            #expect(answer.statusLine == "HTTP/1.1 400 Bad Request", "\(header.debugDescription): \(answer.statusLine)")
        }
    }

    @Test func aRepeatedEqualContentLengthIsAccepted() throws {
        try Self.withServer(handler: Self.echo) { address in
            for header in ["Content-Length: 3\r\nContent-Length: 3\r\n", "Content-Length: 3, 3\r\n", "content-length:   3  \r\n"] {
                let answer = try Self.exchange("POST /echo HTTP/1.1\r\n\(header)\r\nabc", with: address)
                #expect(answer.status == 200 && answer.body == Array("abc".utf8), "\(header.debugDescription)")
            }
        }
    }

    @Test func aTransferEncodingIs501() throws {
        try Self.withServer(handler: Self.echo) { address in
            for header in ["Transfer-Encoding: chunked\r\n", "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n", "transfer-encoding: gzip\r\n"] {
                let answer = try Self.exchange("POST /echo HTTP/1.1\r\n\(header)\r\n3\r\nabc\r\n0\r\n\r\n", with: address)
                #expect(answer.statusLine == "HTTP/1.1 501 Not Implemented", "\(header.debugDescription)")
            }
        }
    }

    @Test func aDribbledBodyIsCutAtTheDeadline() throws {
        var limits = HTTPServer.Limits()
        limits.requestTimeoutNanoseconds = 500_000_000
        let calls = Atomic(0)
        try Self.withServer(limits, handler: { request in
            calls.add(1, ordering: .relaxed)
            return Self.echo(request)
        }) { address in
            let c = try TCPConnection(connectingTo: address)
            let opened = monotonicNanoseconds()
            try c.send(Array("POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\n".utf8))
            let dribbler = Handoff(value: c)
            let stop = Atomic(false)
            Thread {
                // One byte per 100 ms would take 10 s; stops at the first failed send or when told.
                for _ in 0..<100 where !stop.load(ordering: .relaxed) {
                    guard (try? dribbler.value.send([0x41])) != nil else { return }
                    Thread.sleep(forTimeInterval: 0.1)
                }
            }.start()
            let answer = Self.readAll(c, timeoutMilliseconds: 8000)
            stop.store(true, ordering: .relaxed)
            #expect(answer.closed, "the dribbling client was not cut")
            #expect(monotonicNanoseconds() - opened < 6_000_000_000)
            #expect(answer.statusLine == "HTTP/1.1 408 Request Timeout")
            #expect(calls.load(ordering: .relaxed) == 0)
        }
    }

    @Test func deleteAndOptionsReachTheHandlerAndUnknownMethodsAre501() throws {
        let seen = Mutex<[String]>([])
        try Self.withServer(handler: { request in
            seen.withLock { $0.append("\(request.method.rawValue) \(request.path)") }
            switch request.method {
            case .delete: return HTTPServer.Response(status: 204)
            case .options: return HTTPServer.Response(status: 204, headers: [("Allow", "POST, DELETE, OPTIONS")])
            default: return HTTPServer.Response(contentType: "text/plain", body: "other")
            }
        }) { address in
            let deleted = try Self.exchange("DELETE /whip/session/42 HTTP/1.1\r\nHost: x\r\n\r\n", with: address)
            #expect(deleted.statusLine == "HTTP/1.1 204 No Content")
            #expect(deleted.body.isEmpty && deleted.header("Content-Length") == nil)
            let options = try Self.exchange("OPTIONS /whip HTTP/1.1\r\n\r\n", with: address)
            #expect(options.status == 204 && options.header("Allow") == "POST, DELETE, OPTIONS")
            for method in ["PATCH", "PUT", "BREW", "CONNECT", "TRACE"] {
                let answer = try Self.exchange("\(method) /whip HTTP/1.1\r\n\r\n", with: address)
                #expect(answer.statusLine == "HTTP/1.1 501 Not Implemented", "\(method)")
            }
            #expect(try Self.exchange("G(T /whip HTTP/1.1\r\n\r\n", with: address).status == 400)
            #expect(seen.withLock { $0 } == ["DELETE /whip/session/42", "OPTIONS /whip"])
        }
    }

    @Test func headersAreFoundWhateverTheirCaseAndTheirValuesTrimmed() throws {
        try Self.withServer(handler: { request in
            let proof = request.headers["vcbridge-proof"] ?? "-"
            let list = request.headers.values(for: "VCBRIDGE-PROOF").joined(separator: "|")
            let type = request.headers["Content-Type"] ?? "-"
            let absent = request.headers["X-Absent"] ?? "-"
            return HTTPServer.Response(contentType: "text/plain", body: "\(proof)/\(list)/\(type)/\(absent)/\(request.peer.map { "\($0)" } ?? "?")")
        }) { address in
            let answer = try Self.exchange("GET /h HTTP/1.1\r\nVCBridge-Proof:  abc \t\r\ncontent-TYPE: application/sdp\r\nvcbridge-PROOF: def\r\n\r\n",
                                           with: address)
            let text = String(decoding: answer.body, as: UTF8.self)
            #expect(text.hasPrefix("abc, def/abc|def/application/sdp/-/127.0.0.1"), "\(text)")
            for bad in ["X-A\r\n", "X A: b\r\n", " folded\r\n", "X-A: a\u{0}b\r\n", ": empty name\r\n"] {
                let refused = try Self.exchange("GET /h HTTP/1.1\r\nHost: x\r\n\(bad)\r\n", with: address)
                #expect(refused.status == 400, "\(bad.debugDescription): \(refused.statusLine)")
            }
        }
    }

    @Test func aHandlersExtraHeadersArriveAndHeadHasNoBody() throws {
        try Self.withServer(handler: { request in
            HTTPServer.Response(status: 201, contentType: "application/sdp", body: "v=0\r\n",
                                headers: [("Location", "/whip/session/42"), ("ETag", "\"v1\""), ("VCBridge-Proof", "q83vEjRWeJA=")])
        }) { address in
            let created = try Self.exchange("POST /whip HTTP/1.1\r\nContent-Length: 4\r\n\r\nv=0\n", with: address)
            #expect(created.statusLine == "HTTP/1.1 201 Created")
            #expect(created.header("Location") == "/whip/session/42")
            #expect(created.header("ETag") == "\"v1\"")
            #expect(created.header("VCBridge-Proof") == "q83vEjRWeJA=")
            #expect(created.header("Content-Type") == "application/sdp")
            #expect(created.body == Array("v=0\r\n".utf8))
            let head = try Self.exchange("HEAD /whip HTTP/1.1\r\n\r\n", with: address)
            #expect(head.status == 201 && head.header("Location") == "/whip/session/42" && head.header("Content-Length") == "5")
            #expect(head.body.isEmpty && head.closed)
        }
    }

    @Test(arguments: [("Location", "/a\r\nSet-Cookie: evil=1"), ("Location", "/a\nSet-Cookie: evil=1"), ("Location", "/a\rSet-Cookie: evil=1"),
                      ("ETag", "a\u{0}b"), ("X-Ok\r\nSet-Cookie", "evil=1"), ("Bad Name", "v"), ("", "v"), ("Content-Length", "0"),
                      ("Transfer-Encoding", "chunked"), ("X-Del", "a\u{7F}b")])
    func aHandlersHeaderCannotSplitTheResponse(name: String, value: String) throws {
        let reports = Mutex<[String]>([])
        try Self.withServer(report: { event, _ in reports.withLock { $0.append(event) } }, handler: { _ in
            HTTPServer.Response(status: 201, contentType: "text/plain", body: "made", headers: [(name, value)])
        }) { address in
            let answer = try Self.exchange("GET / HTTP/1.1\r\n\r\n", with: address)
            #expect(answer.statusLine == "HTTP/1.1 500 Internal Server Error", "\(name.debugDescription): \(answer.statusLine)")
            #expect(!answer.headerLines.contains { $0.lowercased().hasPrefix("set-cookie") })
            #expect(answer.header("Transfer-Encoding") == nil)
            #expect(!String(decoding: answer.raw, as: UTF8.self).contains("evil"))
        }
        #expect(reports.withLock { $0 } == ["bad-response"])
        // Nor can the content type.
        try Self.withServer(handler: { _ in HTTPServer.Response(contentType: "text/plain\r\nSet-Cookie: evil=1", body: "x") }) { address in
            let answer = try Self.exchange("GET / HTTP/1.1\r\n\r\n", with: address)
            #expect(answer.status == 500 && !String(decoding: answer.raw, as: UTF8.self).contains("evil"))
        }
    }
}
