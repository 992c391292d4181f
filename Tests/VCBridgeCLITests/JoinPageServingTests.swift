import Foundation
import Testing
import Transport

/// The join page as the bridge's web listener serves it: paths, types, the security and caching headers,
/// 304 for a tag the browser already has, and a page the strict Content-Security-Policy lets run.
@Suite("Join page: served by the bridge", .serialized)
struct JoinPageServingTests {
    static let policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; media-src 'self' blob: mediastream:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    @Test func thePageItsScriptAndStyleComeWithTheirTypesHeadersAndTags() throws {
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        defer { _ = bridge.stop() }
        let redirect = try httpExchange(bridge.web + "/join")
        #expect(redirect.status == 301 && redirect.headers["location"] == "/join/", "\(redirect.headers)")

        var tags: Set<String> = []
        for (path, type) in [("/join/", "text/html; charset=utf-8"), ("/join/join.js", "text/javascript; charset=utf-8"),
                             ("/join/join.css", "text/css; charset=utf-8")] {
            let got = try httpExchange(bridge.web + path)
            #expect(got.status == 200, "\(path): \(got.status)")
            #expect(got.headers["content-type"] == type, "\(path): \(got.headers)")
            #expect(got.headers["content-security-policy"] == Self.policy, "\(path)")
            #expect(got.headers["x-content-type-options"] == "nosniff", "\(path)")
            #expect(got.headers["referrer-policy"] == "no-referrer", "\(path)")
            #expect(got.headers["cache-control"] == "no-cache", "\(path)")
            #expect(got.body.count > 500, "\(path): \(got.body.count) bytes")
            let text = String(decoding: got.body, as: UTF8.self)
            #expect(!text.contains("http://") && !text.contains("https://"), "\(path) names an external URL")
            let tag = try #require(got.headers["etag"], "\(path) has no ETag")
            tags.insert(tag)
            // The browser's copy is still good: 304 and no body; any other tag gets the file again.
            let again = try httpExchange(bridge.web + path, headers: ["If-None-Match": "\"stale\", \(tag)"])
            #expect(again.status == 304 && again.body.isEmpty && again.headers["etag"] == tag, "\(path): \(again.status)")
            #expect(again.headers["content-security-policy"] == Self.policy)
            let stale = try httpExchange(bridge.web + path, headers: ["If-None-Match": "\"stale\""])
            #expect(stale.status == 200 && stale.body == got.body, "\(path): \(stale.status)")
            let head = try httpExchange(bridge.web + path, method: "HEAD")
            #expect(head.status == 200 && head.body.isEmpty && head.headers["etag"] == tag, "\(path): HEAD \(head.status)")
        }
        #expect(tags.count == 3, "each file has its own tag: \(tags)")

        for path in ["/join/nothing.js", "/join/join.js/", "/join/../metrics", "/join/join.html"] {
            let missing = try httpExchange(bridge.web + path)
            #expect(missing.status == 404, "\(path): \(missing.status)")
            #expect(missing.headers["x-content-type-options"] == "nosniff", "\(path)")
        }
        #expect(try httpExchange(bridge.web + "/join/", method: "POST").status == 405)
    }

    /// What the policy would block does not appear: every script is a file of the page, no inline
    /// script, style or event handler, and the page loads exactly its own script and style sheet.
    @Test func thePageHasNoInlineScriptOrStyle() throws {
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        defer { _ = bridge.stop() }
        let html = String(decoding: try httpExchange(bridge.web + "/join/").body, as: UTF8.self)
        let lower = html.lowercased()
        #expect(lower.hasPrefix("<!doctype html>"))
        #expect(lower.contains("<html lang=\"vi\""))
        let scripts = lower.components(separatedBy: "<script").dropFirst()
        #expect(scripts.count == 1, "one script element: \(scripts.count)")
        for script in scripts {
            let open = script.prefix { $0 != ">" }
            #expect(open.contains("src=\"join.js\""), "a script without src: <script\(open)>")
            #expect(script.dropFirst(open.count + 1).hasPrefix("</script>"), "a script element with a body")
        }
        #expect(lower.contains("<link rel=\"stylesheet\" href=\"join.css\">"))
        #expect(!lower.contains("<style"))
        #expect(!lower.contains(" style="))
        #expect(lower.range(of: #"\son[a-z]+\s*="#, options: .regularExpression) == nil, "an inline event handler")
        #expect(!lower.contains("javascript:"))
    }
}

/// One HTTP/1.1 request over a socket: the status, the header fields (names lowercased), the body.
func httpExchange(_ url: String, method: String = "GET", headers: [String: String] = [:]) throws
    -> (status: Int, headers: [String: String], body: [UInt8])
{
    let rest = url.dropFirst("http://".count)
    let slash = rest.firstIndex(of: "/")!
    let connection = try TCPConnection(connectingTo: try SocketAddress(parsing: String(rest[..<slash])))
    defer { connection.close() }
    var head = "\(method) \(rest[slash...]) HTTP/1.1\r\nHost: bridge\r\nConnection: close\r\n"
    if method == "POST" { head += "Content-Length: 0\r\n" }
    for (name, value) in headers { head += "\(name): \(value)\r\n" }
    try connection.send(Array((head + "\r\n").utf8))
    let deadline = monotonicNanoseconds() + 5_000_000_000
    var status = 0
    var fields: [String: String] = [:]
    while let raw = try connection.receiveLine(deadline: deadline) {
        let line = raw.hasSuffix("\r") ? String(raw.dropLast()) : raw
        if line.isEmpty { break }
        if status == 0 { status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1; continue }
        guard let colon = line.firstIndex(of: ":") else { continue }
        fields[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    let length = method == "HEAD" ? 0 : Int(fields["content-length"] ?? "0") ?? 0
    let body = length > 0 ? try connection.receive(count: length, deadline: deadline) ?? [] : []
    return (status, fields, body)
}
