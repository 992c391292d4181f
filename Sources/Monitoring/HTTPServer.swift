#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Transport

/// A small HTTP/1.1 server for monitoring: GET only, one request per connection, a thread per
/// connection. Not for the public internet: it serves the technicians' room and the monitoring
/// system, bound to localhost unless configured otherwise.
///
/// Bounded all the same: at most ``Limits/maxConnections`` at once (more are closed at once), a
/// deadline for the whole request from accept, lines of at most 8 KiB and at most 100 headers;
/// the accept loop outlives any failure (out of descriptors, out of memory, ...), backing off
/// briefly and reporting each episode once. Every malformed request gets a 400.
public final class HTTPServer: @unchecked Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]
        public var headers: [(name: String, value: String)]
        public init(status: Int = 200, contentType: String, body: String, headers: [(name: String, value: String)] = []) {
            self.init(status: status, contentType: contentType, bytes: Array(body.utf8), headers: headers)
        }
        public init(status: Int = 200, contentType: String, bytes: [UInt8], headers: [(name: String, value: String)] = []) {
            self.status = status
            self.contentType = contentType
            self.body = bytes
            self.headers = headers
        }
        public init(status: Int, headers: [(name: String, value: String)] = []) {
            self.init(status: status, contentType: "", bytes: [], headers: headers)
        }
    }

    public struct Headers: Sendable {
        public var fields: [(name: String, value: String)] = []
        public subscript(name: String) -> String? { nil }
        public func values(for name: String) -> [String] { [] }
    }

    public struct Request: Sendable {
        public enum Method: String, Sendable { case get = "GET", head = "HEAD", post = "POST", delete = "DELETE", options = "OPTIONS" }
        public var method: Method
        public var path: String
        public var query: [String: String]
        public var headers: Headers
        public var body: [UInt8]
        public var peer: SocketAddress?
    }

    public struct Limits: Sendable {
        public var maxConnections = 32
        public var requestTimeoutNanoseconds: Int64 = 5_000_000_000
        public var maxHeaders = 100
        public var maxLine = 8192
        public var maxBodyBytes = 64 * 1024
        public init() {}
    }

    public typealias Handler = @Sendable (_ request: Request) -> Response?
    /// Told of trouble in the accept loop: the start of an episode (`accept-failing`, with the error)
    /// and its end (`accepting-again`, with the number of failed accepts).
    public typealias Reporter = @Sendable (_ event: String, _ detail: String) -> Void

    let listener: TCPListener
    let handler: Handler
    let limits: Limits
    let report: Reporter
    private let active = Mutex(0)
    public var localAddress: SocketAddress { listener.localAddress }

    /// - Parameter handler: the response for a path, or nil for 404.
    public init(bindTo address: SocketAddress, limits: Limits = Limits(), report: @escaping Reporter = { _, _ in },
                handler: @escaping Handler) throws {
        listener = try TCPListener(bindTo: address, backlog: 128)
        self.handler = handler
        self.limits = limits
        self.report = report
    }

    /// Accepts connections until ``close()``.
    public func serve() {
        var trouble = AcceptTrouble()
        while true {
            let connection: TCPConnection
            do {
                connection = try listener.accept()
            } catch {
                if listener.isClosed { return }
                if trouble.failed(now: monotonicNanoseconds()) { report("accept-failing", "\(error)") }
                usleep(useconds_t(AcceptTrouble.backoffNanoseconds / 1000))
                continue
            }
            if let failures = trouble.ended(now: monotonicNanoseconds()) { report("accepting-again", "\(failures) failed accepts") }
            let admitted = active.withLock { count -> Bool in
                guard count < limits.maxConnections else { return false }
                count += 1
                return true
            }
            guard admitted else {
                connection.close()
                continue
            }
            let handoff = Handoff(value: (connection, monotonicNanoseconds() + limits.requestTimeoutNanoseconds))
            Thread {
                self.answer(handoff.value.0, deadline: handoff.value.1)
                self.active.withLock { $0 -= 1 }
            }.start()
        }
    }

    public func close() { listener.close() }

    /// A request the server will not serve, and the status that says why.
    struct BadRequest: Error, Equatable {
        let status: Int
        let reason: String
    }

    /// The path and query of a request target (`/path?key=value&...`, percent-encoded).
    /// - Throws: ``BadRequest`` (400) for a target that is not an absolute path, an empty query
    ///   key, or an invalid percent-encoding.
    static func parseTarget(_ target: Substring) throws(BadRequest) -> (path: String, query: [String: String]) {
        guard target.hasPrefix("/") else { throw BadRequest(status: 400, reason: "the target must be a path") }
        let pathEnd = target.firstIndex(of: "?") ?? target.endIndex
        guard let path = String(target[..<pathEnd]).removingPercentEncoding else {
            throw BadRequest(status: 400, reason: "bad percent-encoding in the path")
        }
        var query: [String: String] = [:]
        if pathEnd < target.endIndex {
            for pair in target[target.index(after: pathEnd)...].split(separator: "&") {
                let equals = pair.firstIndex(of: "=") ?? pair.endIndex
                let rawKey = pair[..<equals]
                let rawValue = equals < pair.endIndex ? pair[pair.index(after: equals)...] : ""
                guard !rawKey.isEmpty else { throw BadRequest(status: 400, reason: "an empty query key") }
                guard let key = String(rawKey).replacingOccurrences(of: "+", with: " ").removingPercentEncoding,
                      let value = String(rawValue).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
                else { throw BadRequest(status: 400, reason: "bad percent-encoding in the query") }
                query[key] = value
            }
        }
        return (path, query)
    }

    private func answer(_ connection: TCPConnection, deadline: Int64) {
        defer { connection.close() }
        connection.maximumLine = limits.maxLine
        connection.setSendTimeout(milliseconds: Int(limits.requestTimeoutNanoseconds / 1_000_000))
        var head = false
        let response: Response
        do throws(BadRequest) {
            let requestLine: String
            do {
                guard let line = try connection.receiveLine(deadline: deadline) else { return }  // closed or too slow
                requestLine = line
                // The headers up to the blank line (their content is not needed).
                var headers = 0
                while true {
                    guard let header = try connection.receiveLine(deadline: deadline) else { return }
                    if header.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { break }
                    headers += 1
                    guard headers <= limits.maxHeaders else { throw BadRequest(status: 400, reason: "too many header lines") }
                }
            } catch let error as BadRequest {
                throw error
            } catch {
                throw BadRequest(status: 400, reason: "a line longer than \(limits.maxLine) bytes")
            }
            let parts = requestLine.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[2].hasPrefix("HTTP/1.") else { throw BadRequest(status: 400, reason: "bad request line") }
            guard parts[0] == "GET" || parts[0] == "HEAD" else {
                response = Response(status: 405, contentType: "text/plain; charset=utf-8", body: "only GET\n")
                return send(response, head: false, on: connection)
            }
            head = parts[0] == "HEAD"
            let (path, query) = try Self.parseTarget(parts[1])
            response = handler(Request(method: head ? .head : .get, path: path, query: query, headers: Headers(), body: [], peer: connection.peer)) ?? Response(status: 404, contentType: "text/plain; charset=utf-8", body: "not found\n")
        } catch {
            response = Response(status: error.status, contentType: "text/plain; charset=utf-8", body: "bad request: \(error.reason)\n")
        }
        send(response, head: head, on: connection)
    }

    private func send(_ response: Response, head: Bool, on connection: TCPConnection) {
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][response.status] ?? "Error"
        let header = "HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n"
            + "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        try? connection.send(Array(header.utf8) + (head ? [] : response.body))
    }
}
