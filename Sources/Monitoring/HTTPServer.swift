#if canImport(Glibc)
import Glibc
#endif
import DTLS
import Foundation
import Synchronization
import Transport

/// A small HTTP/1.1 server: one request per connection, a thread per connection. It serves the
/// monitoring pages and the signalling that needs a request body (an SDP offer). Bound to localhost
/// unless configured otherwise.
///
/// Methods GET, HEAD, POST, DELETE and OPTIONS reach the handler; any other is answered 501. A
/// request body is read only as declared by `Content-Length` (at most ``Limits/maxBodyBytes``,
/// never a byte beyond it); no transfer coding is implemented, so a `Transfer-Encoding` is answered
/// 501 (RFC 9112 §6.1: a coding the server does not understand), even beside a `Content-Length`
/// (which it would override).
///
/// Bounded all the same: at most ``Limits/maxConnections`` at once and ``Limits/maxConnectionsPerPeer``
/// from one peer (more are closed at once); one deadline for the whole request, head and body, from
/// accept (a request cut by it gets a 408 if it had begun), and for the response too (at least a
/// second after the request, so a 408 can go out): a client that reads too slowly is reset
/// however it paces its reads; lines of at most ``Limits/maxLine`` bytes and at most ``Limits/maxHeaders`` headers;
/// the accept loop outlives any failure (out of descriptors, out of memory, ...), backing off
/// briefly and reporting each episode once. Every malformed request gets a 4xx, never a trap.
///
/// With a ``DTLS/TLSServerContext`` every connection is HTTPS: the TLS handshake (NSS) runs against the same
/// deadline from accept as the request, and a connection whose handshake fails (a plain-HTTP request, random
/// bytes, a client that stops mid-handshake) is closed and counted in ``tlsHandshakeFailures``; the listener
/// serves on.
public final class HTTPServer: @unchecked Sendable {
    /// The header fields of a request, in arrival order. Names are compared without regard to
    /// case; values are trimmed of spaces and tabs. A repeated field keeps each value:
    /// ``values(for:)`` lists them, the subscript joins them with ", " (RFC 9110 §5.3).
    public struct Headers: Sendable {
        public private(set) var fields: [(name: String, value: String)]

        public init(_ fields: [(name: String, value: String)] = []) { self.fields = fields }

        /// Every value of the field `name`, in arrival order (empty when absent).
        public func values(for name: String) -> [String] {
            fields.filter { $0.name.caseInsensitiveCompare(name) == .orderedSame }.map(\.value)
        }

        /// The values of the field `name` joined by ", ", or nil when absent.
        public subscript(name: String) -> String? {
            let all = values(for: name)
            return all.isEmpty ? nil : all.joined(separator: ", ")
        }
    }

    /// A request as the handler sees it.
    public struct Request: Sendable {
        public enum Method: String, Sendable {
            case get = "GET", head = "HEAD", post = "POST", delete = "DELETE", options = "OPTIONS"
        }

        public var method: Method
        /// The path, percent-decoded.
        public var path: String
        /// The query, percent-decoded (`+` is a space); a repeated key keeps its last value.
        public var query: [String: String]
        public var headers: Headers
        /// Exactly the `Content-Length` bytes (empty without one).
        public var body: [UInt8]
        /// The other end of the connection (nil for an address family the server does not know).
        public var peer: SocketAddress?
        /// HTTP/1.1 with `Connection: keep-alive` (and no bytes beyond the body): the client may send another
        /// request on the connection.
        public var keepAlive = false

        public init(method: Method, path: String, query: [String: String] = [:], headers: Headers = Headers(), body: [UInt8] = [],
                    peer: SocketAddress? = nil) {
            self.method = method
            self.path = path
            self.query = query
            self.headers = headers
            self.body = body
            self.peer = peer
        }
    }

    /// A response from the handler. A HEAD request gets the head only; a 204 has neither body nor
    /// `Content-Type`/`Content-Length`. Extra ``headers`` (`Location`, `ETag`, ...) need a token as
    /// name and a value without control characters, and may not be the framing fields the server
    /// writes itself (`Content-Length`, `Content-Type`, `Transfer-Encoding`, `Connection`): a response
    /// breaking that is not sent, a 500 goes out instead (so no value can split the response).
    public struct Response: Sendable {
        public var status: Int
        /// Empty: no `Content-Type` field.
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

        /// A response without a body (204, or a 201/405 that only carries headers).
        public init(status: Int, headers: [(name: String, value: String)] = []) {
            self.init(status: status, contentType: "", bytes: [], headers: headers)
        }
    }

    public struct Limits: Sendable {
        /// Connections at once (a thread each). Join pages keep one open each (keep-alive, granted while at most half
        /// are in use), so room for every site's page twice over.
        public var maxConnections = 512
        /// From one peer (``SocketAddress/peerGroup``: an IPv4 address or an IPv6 /64), so one cannot take every slot.
        public var maxConnectionsPerPeer = 8
        /// For the whole request, head and body, from accept.
        public var requestTimeoutNanoseconds: Int64 = 5_000_000_000
        public var maxHeaders = 100
        public var maxLine = 8192
        /// A larger declared `Content-Length` is answered 413 at once, without reading the body.
        public var maxBodyBytes = 64 * 1024
        /// A kept-alive connection is closed when its next request has not begun within this (or, while more than
        /// half of ``maxConnections`` are in use, after each response: idle connections must not crowd new ones out).
        public var keepAliveIdleNanoseconds: Int64 = 15_000_000_000
        public var maxRequestsPerConnection = 1000
        /// No connection lives longer than this from accept: its next response says `Connection: close` (a page
        /// simply opens another), so a slow trickle of requests cannot hold a thread for hours.
        public var keepAliveLifetimeNanoseconds: Int64 = 120_000_000_000
        public init() {}
    }

    /// The response to a request, or nil for 404.
    public typealias Handler = @Sendable (_ request: Request) -> Response?
    /// Told of trouble: in the accept loop, the start of an episode (`accept-failing`, with the
    /// error) and its end (`accepting-again`, with the number of failed accepts); a handler's
    /// response that could not be sent (`bad-response`, with why).
    public typealias Reporter = @Sendable (_ event: String, _ detail: String) -> Void

    let listener: TCPListener
    /// Set: every connection is TLS.
    let tls: TLSServerContext?
    let handler: Handler
    let limits: Limits
    let report: Reporter
    /// Connections being served: in all, and per peer group.
    private let active = Mutex((total: 0, perPeer: [String: Int]()))
    /// Set by ``close()`` before the listener closes, so the accept that fails then is not reported as trouble.
    private let closing = Atomic(false)
    private let failedHandshakes = Atomic(0)
    /// TLS connections closed because their handshake failed or did not complete by the deadline.
    public var tlsHandshakeFailures: Int { failedHandshakes.load(ordering: .relaxed) }
    public var localAddress: SocketAddress { listener.localAddress }
    /// Connections being served now (for tests).
    var activeConnections: Int { active.withLock { $0.total } }

    /// - Parameters:
    ///   - tls: serve every connection over TLS with this context; nil: plain HTTP.
    ///   - handler: the response for a request, or nil for 404.
    public init(bindTo address: SocketAddress, tls: TLSServerContext? = nil, limits: Limits = Limits(),
                report: @escaping Reporter = { _, _ in }, handler: @escaping Handler) throws {
        listener = try TCPListener(bindTo: address, backlog: 128)
        self.tls = tls
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
                if closing.load(ordering: .acquiring) || listener.isClosed { return }
                if trouble.failed(now: monotonicNanoseconds()) { report("accept-failing", "\(error)") }
                usleep(useconds_t(AcceptTrouble.backoffNanoseconds / 1000))
                continue
            }
            if let failures = trouble.ended(now: monotonicNanoseconds()) { report("accepting-again", "\(failures) failed accepts") }
            let peer = connection.peer?.peerGroup ?? "-"
            let admitted = active.withLock { count -> Bool in
                guard count.total < limits.maxConnections, count.perPeer[peer, default: 0] < limits.maxConnectionsPerPeer else { return false }
                count.total += 1
                count.perPeer[peer, default: 0] += 1
                return true
            }
            guard admitted else {
                connection.close()
                continue
            }
            let handoff = Handoff(value: (connection, monotonicNanoseconds() + limits.requestTimeoutNanoseconds))
            Thread {
                self.answer(handoff.value.0, deadline: handoff.value.1)
                self.active.withLock { count in
                    count.total -= 1
                    count.perPeer[peer, default: 1] -= 1
                    if count.perPeer[peer] == 0 { count.perPeer[peer] = nil }
                }
            }.start()
        }
    }

    public func close() {
        closing.store(true, ordering: .releasing)
        listener.close()
    }

    /// A request the server will not serve, and the status that says why.
    struct BadRequest: Error, Equatable {
        let status: Int
        let reason: String
        init(status: Int = 400, reason: String) {
            self.status = status
            self.reason = reason
        }
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

    /// The request line: the method and the target.
    /// - Throws: ``BadRequest``: 400 for a malformed line or method, 501 for a method the server
    ///   does not implement.
    static func parseRequestLine(_ line: String) throws(BadRequest) -> (method: Request.Method, target: Substring, version: Substring) {
        let parts = line.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), !parts[0].isEmpty, parts[0].utf8.allSatisfy(isTokenByte) else {
            throw BadRequest(status: 400, reason: "bad request line")
        }
        guard let method = Request.Method(rawValue: String(parts[0])) else {
            throw BadRequest(status: 501, reason: "method \(parts[0]) is not implemented (GET, HEAD, POST, DELETE, OPTIONS)")
        }
        return (method, parts[1], parts[2])
    }

    /// One header line (`name: value`), the value trimmed of spaces and tabs.
    /// - Throws: ``BadRequest`` (400) for a line without a colon, a name that is not a token
    ///   (white space before the colon included), a folded line, or a control character in the value.
    static func parseHeaderLine(_ line: ArraySlice<UInt8>) throws(BadRequest) -> (name: String, value: String) {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw BadRequest(reason: "a header line without a colon") }
        let name = line[..<colon]
        guard !name.isEmpty, name.allSatisfy(isTokenByte) else { throw BadRequest(reason: "a header name that is not a token") }
        var value = line[(colon + 1)...]
        while let first = value.first, first == 0x20 || first == 0x09 { value = value.dropFirst() }
        while let last = value.last, last == 0x20 || last == 0x09 { value = value.dropLast() }
        guard !value.contains(where: isControlByte) else {
            throw BadRequest(reason: "a control character in header \(String(decoding: name, as: UTF8.self))")
        }
        return (String(decoding: name, as: UTF8.self), String(decoding: value, as: UTF8.self))
    }

    /// The number of body bytes a request declares (RFC 9112 §6.3).
    /// - Throws: ``BadRequest``: 501 for any `Transfer-Encoding`; 400 for a `Content-Length` that is
    ///   not digits or whose repeated values differ; 411 for a POST without one; 413 for more than
    ///   `maxBody` bytes.
    static func bodyLength(method: Request.Method, headers: Headers, maxBody: Int) throws(BadRequest) -> Int {
        guard headers["Transfer-Encoding"] == nil else {
            throw BadRequest(status: 501, reason: "Transfer-Encoding is not implemented: send the body with a Content-Length")
        }
        let declared = headers.values(for: "Content-Length")
        guard !declared.isEmpty else {
            if method == .post { throw BadRequest(status: 411, reason: "a POST needs a Content-Length") }
            return 0
        }
        // Repeated fields and comma lists are one list of values that must all be the same.
        let items = declared.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: " \t")) }
        guard let first = items.first, items.allSatisfy({ $0 == first }), !first.isEmpty,
              first.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") })
        else { throw BadRequest(reason: "Content-Length must be one non-negative decimal number") }
        let digits = first.drop { $0 == "0" }
        guard digits.count <= 18, let length = Int(digits.isEmpty ? "0" : digits), length <= maxBody else {
            throw BadRequest(status: 413, reason: "the body is larger than \(maxBody) bytes")
        }
        return length
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"): true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// A control character other than the tab.
    static func isControlByte(_ byte: UInt8) -> Bool { (byte < 0x20 && byte != 0x09) || byte == 0x7F }

    /// Where a request's bytes come from and its response goes: the TCP connection, or TLS on it.
    private enum Channel {
        case plain(TCPConnection)
        case tls(TCPConnection, TLSServerConnection)

        var connection: TCPConnection {
            switch self {
            case let .plain(connection), let .tls(connection, _): connection
            }
        }
    }

    /// The bytes of a connection, read against one deadline.
    private struct Reader {
        enum End: Error { case closed, timedOut }
        let channel: Channel
        let deadline: Int64
        var bytes: [UInt8] = []
        /// Any byte has arrived.
        var started = false
        /// Why ``line(maxLine:)`` returned nil.
        var ended: End?

        /// Waits for more bytes, at most `limit` of them.
        mutating func receive(atMost limit: Int) throws(End) {
            if case let .tls(_, secure) = channel {
                let chunk: [UInt8]
                do { chunk = try secure.receive(atMost: max(1, min(limit, 4096)), deadline: deadline) } catch {
                    throw error == .readTimedOut ? .timedOut : .closed
                }
                guard !chunk.isEmpty else { throw .closed }
                bytes += chunk
                started = true
                return
            }
            let descriptor = channel.connection.pollDescriptor
            var chunk = [UInt8](repeating: 0, count: max(1, min(limit, 4096)))
            while true {
                let left = deadline - monotonicNanoseconds()
                guard left > 0 else { throw .timedOut }
                var fds = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&fds, 1, Int32(min(left / 1_000_000 + 1, 60_000)))
                if ready < 0, errno == EINTR { continue }
                if ready == 0 { continue }
                guard ready > 0 else { throw .closed }
                let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                if n < 0, errno == EINTR || errno == EAGAIN { continue }
                guard n > 0 else { throw .closed }
                bytes += chunk[0..<n]
                started = true
                return
            }
        }

        /// The next line without its line feed (and carriage return), no longer than `maxLine`.
        mutating func line(maxLine: Int) throws(BadRequest) -> ArraySlice<UInt8>? {
            var scanned = 0
            while true {
                if let newline = bytes[scanned...].firstIndex(of: UInt8(ascii: "\n")) {
                    guard newline <= maxLine else { throw BadRequest(reason: "a line longer than \(maxLine) bytes") }
                    var line = bytes[..<newline]
                    if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
                    let result = ArraySlice(Array(line))
                    bytes.removeSubrange(...newline)
                    return result
                }
                guard bytes.count <= maxLine else { throw BadRequest(reason: "a line longer than \(maxLine) bytes") }
                scanned = bytes.count
                do { try receive(atMost: 4096) } catch {
                    ended = error
                    return nil
                }
            }
        }
    }

    /// What reading a request ended with.
    private enum Outcome {
        case request(Request)
        /// Refused before the handler.
        case refused(BadRequest)
        /// Nothing to answer: the peer closed, or stayed silent until the deadline.
        case gone
        /// The deadline passed during the request.
        case timedOut
    }

    private func read(_ channel: Channel, deadline: Int64) -> Outcome {
        let connection = channel.connection
        var reader = Reader(channel: channel, deadline: deadline)
        let method: Request.Method
        let target: Substring
        let version: Substring
        var headers = Headers()
        do throws(BadRequest) {
            guard let requestLine = try reader.line(maxLine: limits.maxLine) else {
                return reader.started && reader.ended == .timedOut ? .timedOut : .gone
            }
            // The head is read to its end before the request line is judged, so that a refusal is not sent mid-request.
            var lines: [ArraySlice<UInt8>] = []
            while true {
                guard let line = try reader.line(maxLine: limits.maxLine) else { return reader.ended == .timedOut ? .timedOut : .gone }
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { break }
                lines.append(line)
                guard lines.count <= limits.maxHeaders else { throw BadRequest(reason: "more than \(limits.maxHeaders) header lines") }
            }
            (method, target, version) = try Self.parseRequestLine(String(decoding: requestLine, as: UTF8.self))
            var fields: [(name: String, value: String)] = []
            for line in lines {
                guard let first = line.first, first != 0x20, first != 0x09 else { throw BadRequest(reason: "a folded header line") }
                fields.append(try Self.parseHeaderLine(line))
            }
            headers = Headers(fields)
        } catch {
            return .refused(error)
        }
        let length: Int
        let path: String, query: [String: String]
        do throws(BadRequest) {
            length = try Self.bodyLength(method: method, headers: headers, maxBody: limits.maxBodyBytes)
            (path, query) = try Self.parseTarget(target)
        } catch {
            return .refused(error)
        }
        while reader.bytes.count < length {
            do { try reader.receive(atMost: length - reader.bytes.count) } catch { return error == .timedOut ? .timedOut : .gone }
        }
        // Bytes beyond the declared length (a pipelined request) are not part of this one.
        let body = Array(reader.bytes.prefix(length))
        var request = Request(method: method, path: path, query: query, headers: headers, body: body, peer: connection.peer)
        // Kept alive only when asked for (browsers ask; a minimal client that reads to the end is closed as before).
        request.keepAlive = version == "HTTP/1.1" && reader.bytes.count == length
            && (headers["Connection"] ?? "").lowercased().split(separator: ",").contains { $0.trimmingCharacters(in: .whitespaces) == "keep-alive" }
        return .request(request)
    }

    private func answer(_ connection: TCPConnection, deadline: Int64) {
        defer { connection.close() }
        let channel: Channel
        if let tls {
            let secure: TLSServerConnection
            do {
                secure = try TLSServerConnection(context: tls, socket: connection.pollDescriptor)
                try secure.handshake(deadline: deadline)
            } catch {
                failedHandshakes.add(1, ordering: .relaxed)
                return
            }
            channel = .tls(connection, secure)
        } else {
            channel = .plain(connection)
        }
        answer(channel, deadline: deadline)
        if case let .tls(_, secure) = channel { secure.close() }  // close_notify before the linger's FIN
    }

    /// Answers requests on the connection: one, or (keep-alive) one after another while the client sends them within
    /// ``Limits/keepAliveIdleNanoseconds``, up to ``Limits/maxRequestsPerConnection``; each request has its own deadline.
    private func answer(_ channel: Channel, deadline first: Int64) {
        var deadline = first
        let closeBy = first - limits.requestTimeoutNanoseconds + limits.keepAliveLifetimeNanoseconds  // from accept
        var served = 0
        while true {
            let response: Response
            var head = false
            var keepAlive = false
            switch read(channel, deadline: deadline) {
            case .gone:
                return
            case .timedOut:
                response = Self.plain(408, "the request did not arrive within \(limits.requestTimeoutNanoseconds / 1_000_000) ms")
            case let .refused(error):
                response = Self.plain(error.status, error.reason)
            case let .request(request):
                var answer = handler(request) ?? Self.plain(404, "not found")
                if let problem = Self.problem(in: answer) {
                    report("bad-response", "\(request.method.rawValue) \(request.path.debugDescription): \(problem)")
                    answer = Self.plain(500, "internal error: the response could not be sent")
                }
                response = answer
                head = request.method == .head
                served += 1
                keepAlive = request.keepAlive && served < limits.maxRequestsPerConnection && monotonicNanoseconds() < closeBy
                    && !closing.load(ordering: .acquiring) && active.withLock { $0.total } <= limits.maxConnections / 2
            }
            // Sent by the deadline from accept; an answer due at the deadline (a 408) gets a second.
            let sendBy = max(deadline, monotonicNanoseconds() + 1_000_000_000)
            guard send(response, head: head, keepAlive: keepAlive, on: channel, deadline: sendBy) else { return channel.connection.reset() }
            guard keepAlive else { return linger(channel) }
            // The next request must begin within the idle time; then it has the whole request time.
            guard waitForNextRequest(channel.connection.pollDescriptor) else { return }
            deadline = monotonicNanoseconds() + limits.requestTimeoutNanoseconds
        }
    }

    /// Whether bytes (or the peer's close) arrive on `descriptor` within the keep-alive idle time; false as soon as
    /// the server is closing (looked at every 250 ms).
    private func waitForNextRequest(_ descriptor: Int32) -> Bool {
        let end = monotonicNanoseconds() + limits.keepAliveIdleNanoseconds
        while !closing.load(ordering: .acquiring) {
            let left = end - monotonicNanoseconds()
            guard left > 0 else { return false }
            var fds = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, Int32(min(left / 1_000_000 + 1, 250)))
            if ready < 0, errno == EINTR { continue }
            if ready == 0 { continue }
            return ready > 0
        }
        return false
    }

    /// A plain-text answer that says what went wrong.
    static func plain(_ status: Int, _ text: String) -> Response {
        Response(status: status, contentType: "text/plain; charset=utf-8", body: text + "\n")
    }

    /// Fields the server writes itself: a handler's would change the framing.
    static let framingFields: Set<String> = ["content-length", "content-type", "transfer-encoding", "connection"]

    /// Why a handler's response cannot go out as it is, or nil when it can.
    static func problem(in response: Response) -> String? {
        guard (200...599).contains(response.status) else { return "status \(response.status) out of 200-599" }
        guard !response.contentType.utf8.contains(where: isControlByte) else { return "a control character in the content type" }
        for (name, value) in response.headers {
            guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { return "header name \(name.debugDescription) is not a token" }
            guard !framingFields.contains(name.lowercased()) else { return "header \(name) is the server's to write" }
            guard !value.utf8.contains(where: isControlByte) else { return "a control character in the value of header \(name)" }
        }
        return nil
    }

    static let reasons = [
        200: "OK", 201: "Created", 204: "No Content", 301: "Moved Permanently", 304: "Not Modified", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
        405: "Method Not Allowed", 408: "Request Timeout", 409: "Conflict", 411: "Length Required", 413: "Content Too Large",
        415: "Unsupported Media Type", 500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
    ]

    /// - Returns: false when the response could not be sent whole by `deadline`.
    private func send(_ response: Response, head: Bool, keepAlive: Bool, on channel: Channel, deadline: Int64) -> Bool {
        let reason = Self.reasons[response.status] ?? "Status \(response.status)"
        var header = "HTTP/1.1 \(response.status) \(reason)\r\n"
        let bodiless = response.status == 204 || response.status == 304
        if !bodiless {
            if !response.contentType.isEmpty { header += "Content-Type: \(response.contentType)\r\n" }
            header += "Content-Length: \(response.body.count)\r\n"
        }
        for (name, value) in response.headers { header += "\(name): \(value)\r\n" }
        if !response.headers.contains(where: { $0.name.lowercased() == "cache-control" }) { header += "Cache-Control: no-store\r\n" }
        header += keepAlive ? "Connection: keep-alive\r\n\r\n" : "Connection: close\r\n\r\n"
        let bytes = Array(header.utf8) + (head || bodiless ? [] : response.body)
        do {
            switch channel {
            case let .plain(connection): try connection.send(bytes, deadline: deadline)
            case let .tls(_, secure):
                try secure.send(bytes, timeoutMilliseconds: max(1, Int((deadline - monotonicNanoseconds()) / 1_000_000)))
            }
            return true
        } catch {
            return false
        }
    }

    /// Ends the sending side and discards what the client still sends for a moment, so that closing
    /// with unread bytes (a refused body) does not reset the connection before the client has read
    /// the answer. Bounded: half a second, 1 MiB, or the client's own close.
    /// Over TLS, the `close_notify` goes first and the client's remaining records are discarded unread.
    private func linger(_ channel: Channel) {
        if case let .tls(_, secure) = channel { secure.close() }
        let descriptor = channel.connection.pollDescriptor
        shutdown(descriptor, Int32(SHUT_WR))
        let end = monotonicNanoseconds() + 500_000_000
        var discarded = 0
        var chunk = [UInt8](repeating: 0, count: 4096)
        while discarded < 1 << 20 {
            let left = end - monotonicNanoseconds()
            guard left > 0 else { return }
            var fds = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
            let ready = poll(&fds, 1, Int32(left / 1_000_000 + 1))
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { return }
            let n = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { return }
            discarded += n
        }
    }
}
