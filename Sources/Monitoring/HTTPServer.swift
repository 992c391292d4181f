import Foundation
import Transport

/// A small HTTP/1.1 server for monitoring: GET only, one request per connection, a thread per
/// connection. Not for the public internet: it serves the technicians' room and the monitoring
/// system, bound to localhost unless configured otherwise.
public final class HTTPServer: @unchecked Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]
        public init(status: Int = 200, contentType: String, body: String) {
            self.status = status
            self.contentType = contentType
            self.body = Array(body.utf8)
        }
    }

    public typealias Handler = @Sendable (_ path: String, _ query: [String: String]) -> Response?

    let listener: TCPListener
    let handler: Handler
    public var localAddress: SocketAddress { listener.localAddress }

    /// - Parameter handler: the response for a path, or nil for 404.
    public init(bindTo address: SocketAddress, handler: @escaping Handler) throws {
        listener = try TCPListener(bindTo: address)
        self.handler = handler
    }

    /// Accepts connections until ``close()``.
    public func serve() {
        while true {
            guard let connection = try? listener.accept() else { return }
            let handoff = Handoff(value: connection)
            Thread { self.answer(handoff.value) }.start()
        }
    }

    public func close() { listener.close() }

    private func answer(_ connection: TCPConnection) {
        defer { connection.close() }
        connection.maximumLine = 8192
        guard let requestLine = try? connection.receiveLine(timeoutMilliseconds: 5000) else { return }
        // Read the headers up to the blank line (their content is not needed).
        for _ in 0..<100 {
            guard let header = try? connection.receiveLine(timeoutMilliseconds: 5000),
                  !header.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { break }
        }
        let parts = requestLine.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ")
        let response: Response
        if parts.count != 3 || !parts[2].hasPrefix("HTTP/1.") {
            response = Response(status: 400, contentType: "text/plain; charset=utf-8", body: "bad request\n")
        } else if parts[0] != "GET" && parts[0] != "HEAD" {
            response = Response(status: 405, contentType: "text/plain; charset=utf-8", body: "only GET\n")
        } else {
            let target = String(parts[1])
            let pathEnd = target.firstIndex(of: "?") ?? target.endIndex
            var query: [String: String] = [:]
            if pathEnd < target.endIndex {
                for pair in target[target.index(after: pathEnd)...].split(separator: "&") {
                    let kv = pair.split(separator: "=", maxSplits: 1)
                    query[String(kv[0]).removingPercentEncoding ?? String(kv[0])] =
                        kv.count > 1 ? (String(kv[1]).removingPercentEncoding ?? String(kv[1])) : ""
                }
            }
            response = handler(String(target[..<pathEnd]), query)
                ?? Response(status: 404, contentType: "text/plain; charset=utf-8", body: "not found\n")
        }
        let reason = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 503: "Service Unavailable"][response.status] ?? "Error"
        let head = "HTTP/1.1 \(response.status) \(reason)\r\nContent-Type: \(response.contentType)\r\nContent-Length: \(response.body.count)\r\n"
            + "Cache-Control: no-store\r\nConnection: close\r\n\r\n"
        try? connection.send(Array(head.utf8) + (parts.first == "HEAD" ? [] : response.body))
    }
}
