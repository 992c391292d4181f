import Foundation
import Testing
import Transport
@testable import Monitoring

@Suite("Monitoring")
struct MonitoringTests {
    @Test func prometheusTextIsValidAndEscapesLabels() {
        var p = PrometheusText()
        p.add("vcbridge_mos_estimate", .gauge, help: "MOS estimate\nsecond line", labels: ["site": "lang-cong", "name": "Xã \"Lãng\" Công\\"], value: 4.09)
        p.add("vcbridge_mos_estimate", .gauge, help: "ignored", labels: ["site": "tam-son", "name": "x"], value: 3)
        p.add("vcbridge_audio_packets_received_total", .counter, help: "packets", value: 12_345)
        #expect(PrometheusText.problems(in: p.body).isEmpty, "\(PrometheusText.problems(in: p.body))")
        #expect(p.body.contains(#"name="Xã \"Lãng\" Công\\""#))
        #expect(p.body.contains("vcbridge_mos_estimate{site=\"tam-son\",name=\"x\"} 3\n"))
        #expect(p.body.components(separatedBy: "# TYPE vcbridge_mos_estimate").count == 2)
        #expect(!PrometheusText.problems(in: "metric{bad label} 1\n").isEmpty)
    }

    @Test func statusPageHasATilePerSiteGroupedAndEscaped() {
        let page = StatusPage.html(meetings: [
            .init(number: 3, title: "Họp <tỉnh>", tiles: [
                .init(site: "lang-cong", name: "Xã Lãng Công", district: "Huyện Sông Lô", state: "connected", grade: "poor", mos: 3.3,
                      cause: "loss", alert: true),
                .init(site: "tam-son", name: "Thị trấn Tam Sơn", district: "Huyện Sông Lô", state: "not joined", grade: nil, mos: nil,
                      cause: nil, alert: false),
            ]),
        ], generatedAt: "now")
        #expect(page.contains("Họp &lt;tỉnh&gt;"))
        #expect(page.components(separatedBy: "<h2>Huyện Sông Lô</h2>").count == 2)
        #expect(page.contains(#"class="tile poor alert" data-site="lang-cong" data-grade="poor""#))
        #expect(page.contains(#"class="tile off" data-site="tam-son""#))
        #expect(page.contains("http-equiv=\"refresh\""))
        #expect(!page.contains("<script") && !page.contains("<link") && !page.contains("src="))
    }

    @Test func theServerAnswersGetAndSaysNotFound() throws {
        let server = try HTTPServer(bindTo: SocketAddress(ip: "127.0.0.1", port: 0)) { request in
            request.path == "/hello" ? .init(contentType: "text/plain", body: "hi \(request.query["who"] ?? "")") : nil
        }
        Thread { server.serve() }.start()
        defer { server.close() }
        func request(_ text: String) throws -> String {
            let c = try TCPConnection(connectingTo: server.localAddress)
            try c.send(Array(text.utf8))
            var lines: [String] = []
            while let line = try c.receiveLine(timeoutMilliseconds: 2000) { lines.append(line) }
            return lines.joined(separator: "\n")
        }
        let ok = try request("GET /hello?who=Nam HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(ok.hasPrefix("HTTP/1.1 200 OK") && ok.contains("Content-Length: 6"))  // "hi Nam"
        #expect(try request("GET /nope HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 404"))
        #expect(try request("PUT /hello HTTP/1.1\r\n\r\n").hasPrefix("HTTP/1.1 501"))
        #expect(try request("garbage\r\n\r\n").hasPrefix("HTTP/1.1 400"))
    }
}
