import CivilTime
import DTLS
import Foundation
import Monitoring
import QualityModel
import Transport
import WebAssets

/// What the HTTP listener serves: Prometheus metrics (`/metrics`), the status page (`/`), the
/// quality view as JSON (`/quality.json`), all from the same figures as `vcbridge quality`, and the
/// room PC's join page (`/join/`).
extension BridgeServer {
    func startMonitoring() throws -> HTTPServer? {
        let q = options.settings.quality
        guard q.httpEnabled else { return nil }
        let address: SocketAddress
        do { address = try SocketAddress(ip: q.httpAddress, port: UInt16(q.httpPort)) } catch {
            throw BridgeError("quality.httpAddress '\(q.httpAddress)' is not a numeric IP address")
        }
        // HTTPS unless plain HTTP on loopback (browsers need a secure context for cameras and WebCrypto).
        var tls: TLSServerContext?
        if q.httpServesTLS {
            do { tls = try TLSServerContext(certificate: webRTC.handshakes.certificate) } catch {
                throw BridgeError("cannot set up HTTPS on the web listener: \(error)")
            }
        }
        let report: HTTPServer.Reporter = { event, detail in Log.warning(event, ["listener": "http", "detail": detail]) }
        let server = try HTTPServer(bindTo: address, tls: tls, report: report) { [unowned self] request in
            if let answer = self.webRTC.handle(request) { return answer }
            guard request.method == .get || request.method == .head else {
                return HTTPServer.Response(status: 405, contentType: "text/plain; charset=utf-8", body: "only GET\n", headers: [("Allow", "GET, HEAD")])
            }
            if let page = Self.joinPage(request) { return page }
            return switch request.path {
            case "/metrics": HTTPServer.Response(contentType: PrometheusText.contentType, body: self.metrics())
            case "/", "/status": HTTPServer.Response(contentType: "text/html; charset=utf-8", body: self.statusPage())
            case "/quality.json":
                HTTPServer.Response(contentType: "application/json", body: (try? JSONSerialization.data(
                    withJSONObject: self.qualityView(site: nil), options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}")
            default: nil
            }
        }
        Thread { server.serve() }.start()
        if !(q.httpAddress == "127.0.0.1" || q.httpAddress == "::1") {
            Log.warning("http-not-localhost", ["address": q.httpAddress, "note": "metrics and the status page are reachable from the network (HTTPS)"])
        }
        if let tls {
            Log.info("https", ["address": server.localAddress, "paths": "/ /metrics /quality.json /join/",
                               "fingerprint": tls.certificate.fingerprint.sdpValue.dropFirst("sha-256 ".count),
                               "certificate": q.tlsCertificateFile.isEmpty ? options.dataDirectory + "/https-certificate.pem" : q.tlsCertificateFile])
        } else {
            Log.info("http", ["address": server.localAddress, "paths": "/ /metrics /quality.json /join/"])
        }
        return server
    }

    /// The headers of every `/join/` response: the page runs only its own script and style, talks only to
    /// this bridge, is never framed, and is revalidated on each load (so a new bridge build is picked up).
    static let joinPageHeaders: [(name: String, value: String)] = [
        ("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "media-src 'self' blob: mediastream:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"), ("Referrer-Policy", "no-referrer"), ("Cache-Control", "no-cache"),
    ]

    /// Each asset's entity tag: FNV-1a 64 of its bytes, fixed for the life of the binary.
    static let joinPageTags: [String: String] = Dictionary(uniqueKeysWithValues: WebAssets.all.map { asset in
        let hash = asset.bytes.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        return (asset.path, "\"" + String(hash, radix: 16) + "\"")
    })

    /// `/join/` and its files (`/join` redirects there), 304 when `If-None-Match` names the current tag;
    /// 404 for any other path under `/join/`; nil for paths that are not the page's.
    static func joinPage(_ request: HTTPServer.Request) -> HTTPServer.Response? {
        if request.path == "/join" { return HTTPServer.Response(status: 301, headers: [("Location", "/join/")] + joinPageHeaders) }
        guard request.path.hasPrefix("/join/") else { return nil }
        guard let asset = WebAssets.asset(at: request.path), let tag = joinPageTags[asset.path] else {
            return HTTPServer.Response(status: 404, contentType: "text/plain; charset=utf-8", body: "no such file of the join page\n",
                                       headers: joinPageHeaders)
        }
        let headers = joinPageHeaders + [("ETag", tag)]
        let asked = request.headers.values(for: "If-None-Match").flatMap { $0.split(separator: ",") }
            .map { $0.trimmingCharacters(in: .whitespaces) }.map { $0.hasPrefix("W/") ? String($0.dropFirst(2)) : $0 }
        if asked.contains(tag) || asked.contains("*") { return HTTPServer.Response(status: 304, headers: headers) }
        return HTTPServer.Response(contentType: asset.contentType, bytes: asset.bytes, headers: headers)
    }

    func metrics() -> String {
        let view = qualityView(site: nil)
        var p = PrometheusText()
        let alerted = Set((view["alerts"] as? [[String: Any]] ?? []).compactMap { $0["site"] as? String })
        var connected = 0
        let gauges: [(key: String, name: String, help: String)] = [
            ("lossPercent", "vcbridge_audio_loss_percent", "Audio packets from the site lost on the way, percent, last 5 s"),
            ("concealedPercent", "vcbridge_audio_concealed_percent", "Frames of the site's audio that needed concealment, percent, last 5 s"),
            ("jitterMs", "vcbridge_audio_jitter_ms", "Interarrival jitter of the site's audio (RFC 3550), milliseconds"),
            ("bufferDelayMs", "vcbridge_jitter_buffer_delay_ms", "Jitter-buffer delay for the site's audio, milliseconds"),
            ("bufferTargetMs", "vcbridge_jitter_buffer_target_ms", "Jitter-buffer target delay for the site's audio, milliseconds"),
            ("remoteLossPercent", "vcbridge_site_reported_loss_percent", "Loss the site reports of the bridge's stream, percent"),
            ("remoteJitterMs", "vcbridge_site_reported_jitter_ms", "Jitter the site reports of the bridge's stream, milliseconds"),
            ("roundTripMs", "vcbridge_round_trip_ms", "Round-trip time to the site from RTCP reports, milliseconds (-1 unknown)"),
            ("videoInKbps", "vcbridge_video_in_kbps", "Video received from the site, kilobits per second, last 5 s"),
            ("videoOutKbps", "vcbridge_video_out_kbps", "Video sent to the site, kilobits per second, last 5 s"),
            ("rembKbps", "vcbridge_video_remb_kbps", "The most video the bridge asks the site's camera to send (REMB), kilobits per second"),
            ("mos", "vcbridge_mos_estimate", "E-model (ITU-T G.107) MOS estimate of the site's audio, 1-4.5; an estimate, not a measurement"),
        ]
        let counters: [(key: String, name: String, help: String)] = [
            ("packetsReceived", "vcbridge_audio_packets_received_total", "Audio packets received from the site this session"),
            ("packetsLost", "vcbridge_audio_packets_lost_total", "Audio packets from the site lost this session (RFC 3550)"),
            ("concealed", "vcbridge_audio_frames_concealed_total", "Frames of the site's audio concealed this session"),
            ("recoveredByFEC", "vcbridge_audio_frames_fec_recovered_total", "Frames of the site's audio rebuilt from FEC this session"),
        ]
        func number(_ row: [String: Any], _ key: String) -> Double? { (row[key] as? Double) ?? (row[key] as? Int).map(Double.init) }
        var rows: [(labels: KeyValuePairs<String, String>, row: [String: Any])] = []
        for meeting in view["meetings"] as? [[String: Any]] ?? [] {
            for row in meeting["sites"] as? [[String: Any]] ?? [] {
                let labels: KeyValuePairs<String, String> = [
                    "site": row["site"] as? String ?? "", "district": row["district"] as? String ?? "", "meeting": "\(meeting["meeting"] ?? "")",
                ]
                rows.append((labels, row))
            }
        }
        for (labels, row) in rows {
            let isConnected = row["state"] as? String == "connected"
            if isConnected { connected += 1 }
            p.add("vcbridge_site_connected", .gauge, help: "1 when the site of a meeting in progress is connected", labels: labels,
                  value: isConnected ? 1 : 0)
        }
        for (key, name, help) in gauges {
            for (labels, row) in rows { if let v = number(row, key) { p.add(name, .gauge, help: help, labels: labels, value: v) } }
        }
        for (key, name, help) in counters {
            for (labels, row) in rows { if let v = number(row, key) { p.add(name, .counter, help: help, labels: labels, value: v) } }
        }
        let gradeHelp = "The site's grade (good, fair, poor, bad by the MOS thresholds in Config; silent: only DTX, nothing shows trouble): 1 for its current grade"
        for (labels, row) in rows {
            guard let grade = row["grade"] as? String else { continue }
            for g in QualityGrade.allCases.map(\.rawValue) {
                p.add("vcbridge_grade", .gauge, help: gradeHelp,
                      labels: ["site": labels[0].value, "district": labels[1].value, "meeting": labels[2].value, "grade": g],
                      value: g == grade ? 1 : 0)
            }
        }
        for (labels, row) in rows where row["state"] as? String == "connected" {
            p.add("vcbridge_alert_open", .gauge, help: "1 while the site has been poor or bad for longer than quality.alertAfterSeconds",
                  labels: labels, value: alerted.contains(row["site"] as? String ?? "") ? 1 : 0)
        }
        p.add("vcbridge_sites_connected", .gauge, help: "Sites connected to meetings in progress", value: Double(connected))
        let ticks = mailbox.ticks.withLock { $0 }
        p.add("vcbridge_mixer_tick_late_p99_microseconds", .gauge, help: "Mixer clock lateness, 99th percentile since start",
              value: Double(ticks.lateP99Microseconds))
        p.add("vcbridge_mixer_tick_late_recent_p99_microseconds", .gauge, help: "Mixer clock lateness, 99th percentile over the last 10 s",
              value: Double(ticks.lateP99RecentMicroseconds))
        p.add("vcbridge_media_receive_budget_exhausted_total", .counter,
              help: "Mixer tick slices that read their whole receive budget and left datagrams in the media socket",
              value: Double(ticks.receiveBudgetExhausted))
        p.add("vcbridge_media_kernel_dropped_datagrams_total", .counter,
              help: "Datagrams the kernel dropped on the media socket because its receive buffer was full",
              value: Double(ticks.receiveDroppedByKernel))
        p.add("vcbridge_video_forward_p99_microseconds", .gauge, help: "Video copy forwarding delay in the bridge, 99th percentile since start",
              value: Double(ticks.videoForwardP99Microseconds))
        return p.body
    }

    func statusPage() -> String {
        let view = qualityView(site: nil)
        let alerted = Set((view["alerts"] as? [[String: Any]] ?? []).compactMap { $0["site"] as? String })
        let meetings = (view["meetings"] as? [[String: Any]] ?? []).map { meeting -> StatusPage.Meeting in
            let tiles = (meeting["sites"] as? [[String: Any]] ?? []).map { row -> StatusPage.Tile in
                let id = row["site"] as? String ?? ""
                let district = directory.site(row["group"] as? String ?? "")?.name ?? "Trung ương và tỉnh"
                return StatusPage.Tile(site: id, name: row["name"] as? String ?? id, district: district, state: row["state"] as? String ?? "",
                                       grade: row["grade"] as? String, mos: row["mos"] as? Double, cause: row["cause"] as? String,
                                       alert: alerted.contains(id))
            }
            return StatusPage.Meeting(number: meeting["meeting"] as? Int ?? 0, title: meeting["title"] as? String ?? "", tiles: tiles)
        }
        return StatusPage.html(meetings: meetings, generatedAt: iso(Timestamp(wallClock().seconds)))
    }
}
