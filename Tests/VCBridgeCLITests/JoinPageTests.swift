import AudioSignal
import Foundation
import Testing
@testable import VCBridgeCLI

/// The driver itself (Scripts/clients/chromium_site.py) against a page of its own on loopback and against the
/// bridge's HTTPS listener, so a failure of the join page's tests is the page's and not the driver's.
@Suite("Chromium driver", .serialized)
struct ChromiumDriverTests {
    /// A page that reads the key file, counts clicks, measures its microphone with WebAudio and shows its camera.
    static let page = """
        <!doctype html><html><head><meta charset="utf-8"><title>driver check</title></head><body>
        <h1>driver check</h1><input type="file" id="key-file"><button id="go">go</button>
        <video id="camera" autoplay muted playsinline></video><script src="check.js"></script></body></html>
        """
    static let script = """
        var seen = {state: "setup", keyLine: null, clicks: 0, peakHz: null, videoWidth: 0};
        document.getElementById("key-file").addEventListener("change", function (event) {
          event.target.files[0].text().then(function (text) { seen.keyLine = text.split("\\n")[0]; });
        });
        document.getElementById("go").addEventListener("click", function () { seen.clicks += 1; seen.state = "clicked"; });
        navigator.mediaDevices.getUserMedia({audio: true, video: true}).then(function (stream) {
          var video = document.getElementById("camera");
          video.srcObject = stream;
          var context = new AudioContext({sampleRate: 48000});
          var analyser = context.createAnalyser();
          analyser.fftSize = 8192;
          context.createMediaStreamSource(stream).connect(analyser);
          var bins = new Float32Array(analyser.frequencyBinCount);
          setInterval(function () {
            analyser.getFloatFrequencyData(bins);
            var best = 1;
            for (var i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
            seen.peakHz = bins[best] > -50 ? best * context.sampleRate / analyser.fftSize : null;
            seen.videoWidth = video.videoWidth;
          }, 200);
        }, function (error) { seen.error = String(error); });
        window.vcbridgeDiagnostics = function () { return seen; };
        """

    /// Python's http.server on a free loopback port, serving `directory`; the process and its base URL.
    private func serve(_ directory: String) throws -> (Process, String) {
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        server.arguments = ["python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", directory]
        let pipe = Pipe()
        server.standardOutput = pipe
        server.standardError = FileHandle.nullDevice
        let log = LogBuffer()
        pipe.fileHandleForReading.readabilityHandler = { log.append(String(decoding: $0.availableData, as: UTF8.self)) }
        try server.run()
        var url = ""
        _ = waitFor(10) {
            guard let range = log.text.range(of: "(http://127.0.0.1:") else { return false }
            url = String(log.text[range.lowerBound...].dropFirst().prefix { $0 != ")" })
            return true
        }
        guard !url.isEmpty else {
            kill(server.processIdentifier, SIGKILL)
            throw CommandFailure("http.server did not start: \(log.text)")
        }
        return (server, url)
    }

    @Test func theDriverFeedsTheFakeDevicesPutsTheKeyFileClicksAndTakesAScreenshot() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-driver-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.page.write(toFile: directory + "/index.html", atomically: true, encoding: .utf8)
        try Self.script.write(toFile: directory + "/check.js", atomically: true, encoding: .utf8)
        try "site=lang-cong\nsecret=00\n".write(toFile: directory + "/lang-cong.key", atomically: true, encoding: .utf8)
        let tone = try toneFile(660, seconds: 2, into: directory)
        let camera = try ChromiumSite.camera(size: "320x240", seconds: 1, into: directory)
        let (server, url) = try serve(directory)
        defer {  // SIGKILL: Foundation starts children with SIGTERM and SIGINT blocked, and Python does not unblock them
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }

        let shot = directory + "/page.png"
        let report = try ChromiumSite.run(["--url", url + "index.html", "--key-file", directory + "/lang-cong.key", "--audio", tone,
                                           "--video", camera, "--seconds", "5", "--interval", "0.25", "--click", "go@0.5",
                                           "--eval", "window.vcbridgeDiagnostics().clicks@clicked+0.5", "--click", "nowhere@1", "--patience", "1",
                                           "--click", "go@never-shown+1", "--screenshot", shot + "@clicked+1"])
        #expect(report.error == nil, "\(report)")
        let last = try #require(report.samples.last?.diagnostics, "\(report)")
        #expect(last["keyLine"] as? String == "site=lang-cong", "\(report)")
        #expect(last["clicks"] as? Int == 1, "\(report)")
        // The fake microphone plays the WAV file: its tone is the page's strongest frequency (bins of 5.9 Hz).
        let peaks = report.samples.compactMap { diagnosticsNumber($0.diagnostics, ["peakHz"]) }
        #expect(peaks.contains { abs($0 - 660) < 12 }, "\(peaks)")
        #expect(last["videoWidth"] as? Int == 320, "\(report)")
        // What was done and not done is reported, and then the run is not ok.
        let actions = report.actions.map { "\($0["action"] ?? "")/\($0["target"] ?? ""):\($0["ok"] as? Bool == true)" }
        #expect(actions == ["key-file/\(directory)/lang-cong.key:true", "click/go:true", "eval/window.vcbridgeDiagnostics().clicks:true",
                            "click/nowhere:false", "click/go:false"], "\(report)")
        #expect(report.actions.map { $0["detail"] as? String ?? "" }.suffix(2) == ["no element #nowhere", "not done: the page never showed state never-shown"])
        #expect(report.actions.first { $0["action"] as? String == "eval" }?["detail"] as? String == "1")
        #expect(!report.ok && report.status == 1)
        // A PNG of the page at 1366x768.
        let png = try Data(contentsOf: URL(fileURLWithPath: try #require(report.screenshot)))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 1000)
        #expect(Array(png[16..<24]) == [0, 0, 0x05, 0x56, 0, 0, 0x03, 0x00], "not 1366x768")
    }

    @Test func theDriverTrustsTheBridgesCertificateOnlyWhenPinned() throws {
        let bridge = try RunningBridge(quality: WebRTCHTTPSTests.withHTTPS)
        let address = try #require(bridge.httpsFields["address"], "\(bridge.logText)")
        let certificate = try #require(bridge.httpsFields["certificate"])
        let pinned = try ChromiumSite.run(["--url", "https://\(address)/metrics", "--certificate", certificate, "--seconds", "0.5",
                                           "--eval", "document.body.innerText.indexOf('vcbridge_') >= 0@0"])
        #expect(pinned.ok, "\(pinned)")
        #expect(pinned.actions.last?["detail"] as? String == "true", "\(pinned)")
        let unpinned = try ChromiumSite.run(["--url", "https://\(address)/metrics", "--seconds", "0.5"])
        #expect(!unpinned.ok && (unpinned.error ?? "").contains("ERR_CERT"), "\(unpinned)")
        #expect(bridge.stop() == 0)
    }
}

/// The frame sizes of a recorded video, in order ("640x360"), as ffprobe decodes them.
func frameSizes(_ path: String) throws -> [String] {
    let probe = try runTool("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=width,height", "-of", "csv=p=0", path])
    return probe.output.split(separator: "\n").map { $0.replacingOccurrences(of: ",", with: "x") }.filter { $0.contains("x") }
}

/// The join page (served by the bridge at /join/) in Chromium over HTTPS with the bridge's certificate, a site's key
/// file put into the page, fake camera and microphone from files; reference endpoints in the same meeting.
@Suite("Join page in Chromium", .serialized)
struct JoinPageTests {
    /// What the technician does after the key file: the page's join button.
    static let join = ["--click", "join@0.5"]

    /// The driver's arguments for `site`'s page on `bridge` (HTTPS, the certificate pinned, the site's key file).
    static func page(_ bridge: RunningBridge, site: String, audio: String, video: String, seconds: Int) throws -> [String] {
        let address = try #require(bridge.httpsFields["address"], "\(bridge.logText)")
        let certificate = try #require(bridge.httpsFields["certificate"])
        return ["--url", "https://\(address)/join/#\(site)", "--certificate", certificate, "--key-file", bridge.keyPath(site),
                "--audio", audio, "--video", video, "--seconds", "\(seconds)", "--interval", "0.25"] + join
    }

    /// 0.5-second windows of a recording where `hertz` is the strongest of `candidates`.
    static func windows(of hertz: Double, among candidates: [Double], in path: String) throws -> Int {
        let samples = try WAVFile.read(path)
        return stride(from: 0, to: max(0, samples.count - 24_000), by: 24_000).filter {
            Tone.dominant(among: candidates, in: samples[$0..<($0 + 24_000)])?.frequency == hertz
        }.count
    }

    @Test func aCommuneInChromiumHearsBothSitesIsHeardByBothAndSeesTheHost() throws {
        let bridge = try RunningBridge(quality: WebRTCHTTPSTests.withHTTPS)
        let directory = bridge.dataDirectory
        let hostVideo = try encodeTestVideo(.vp8, seconds: 4, kilobits: 300, into: directory)
        // Each reference endpoint talks alone in turn, 3 s each, so the page can hear each tone as the strongest.
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--talk", "3s/3s", "--video", hostVideo, "--video-loop",
                                                   "--record", directory + "/song-lo.wav", "--duration", "40s"])
        let commune = try bridge.endpoint("tam-son", ["--tone", "880", "--talk", "3s/3s+3s", "--record", directory + "/tam-son.wav",
                                                      "--duration", "40s"])
        let shot = ChromiumSite.artefacts + "/join-page-in-meeting.png"
        try? FileManager.default.removeItem(atPath: shot)
        let report = try ChromiumSite.run(try Self.page(bridge, site: "lang-cong", audio: try toneFile(660, seconds: 4, into: directory),
                                                        video: try ChromiumSite.camera(into: directory), seconds: 24)
                                          + ["--screenshot", shot + "@in-meeting+8", "--lang", "vi"])
        for endpoint in [host, commune] { endpoint.0.interrupt() }  // they write their recordings as they stop
        let ended = [bridge.finish(host), bridge.finish(commune)]
        print("join page screenshot during the meeting: \(report.screenshot ?? "none")")
        #expect(report.error == nil && report.actions.allSatisfy { $0["ok"] as? Bool == true }, "\(report)")
        #expect(ended.allSatisfy { $0.status == 0 }, "\(ended)")

        let inMeeting = report.samples(in: "in-meeting")
        #expect(inMeeting.count >= 40, "in the meeting for less than 10 s: \(report)")
        #expect(inMeeting.first?.diagnostics["site"] as? String == "lang-cong", "\(report)")
        #expect(diagnosticsSite(inMeeting.last?.diagnostics["presenter"]) == "song-lo", "\(report)")
        // The page hears both sites (the strongest frequency of what it plays, bins of 5.9 Hz).
        let peaks = inMeeting.compactMap { diagnosticsNumber($0.diagnostics, ["incoming", "peakHz"]) }
        #expect(peaks.contains { abs($0 - 440) < 12 } && peaks.contains { abs($0 - 880) < 12 }, "peakHz heard: \(peaks)")
        // It decodes the host's video: at 25 fps, over 10 s in the meeting.
        let frames = inMeeting.compactMap { diagnosticsNumber($0.diagnostics, ["framesDecoded", "presenter"]) }
        #expect((frames.last ?? 0) - (frames.first ?? 0) >= 100, "presenter framesDecoded: \(frames)")
        // Both reference endpoints hear the browser's microphone (its tone is alone while the other one is silent).
        for site in ["song-lo", "tam-son"] {
            let heard = try Self.windows(of: 660, among: [440, 660, 880], in: directory + "/\(site).wav")
            #expect(heard >= 6, "\(site) heard the browser's 660 Hz in \(heard) half-seconds")
        }
        // The screenshot is kept.
        let png = try Data(contentsOf: URL(fileURLWithPath: try #require(report.screenshot, "\(report)")))
        #expect(png.starts(with: [0x89, 0x50, 0x4E, 0x47]) && png.count > 10_000)
        #expect(bridge.stop() == 0)
    }

    @Test func theFloorGivenFromTheChairsPageMovesEverySitesPresenterStream() throws {
        let bridge = try RunningBridge(quality: WebRTCHTTPSTests.withHTTPS)
        let directory = bridge.dataDirectory
        let communeVideo = try encodeTestVideo(.vp8, seconds: 4, size: "320x240", kilobits: 300, into: directory)
        let commune = try bridge.endpoint("lang-cong", ["--silent", "--video", communeVideo, "--video-loop", "--duration", "45s"])
        let watcher = try bridge.endpoint("tam-son", ["--silent", "--record-video", directory + "/tam-son", "--duration", "45s"])
        // The host's page, with a 16:9 camera (the commune's video is 4:3).
        let page = try ChromiumSite.start(try Self.page(bridge, site: "song-lo", audio: try toneFile(660, seconds: 4, into: directory),
                                                        video: try ChromiumSite.camera(size: "640x360", into: directory), seconds: 24)
                                          + ["--floor", "lang-cong@in-meeting+8"])
        // Before: every other site shows the host's page as presenter.
        let before = try waitFor(25) {
            try videoStatus(bridge, "tam-son")["presenter"] as? String == "song-lo"
                && videoStatus(bridge, "lang-cong")["presenter"] as? String == "song-lo"
        }
        #expect(before, "\((try? bridge.status()) ?? [:])")
        // After the chair's click: lang-cong presents to everyone else; it keeps the host's picture.
        let after = try waitFor(25) {
            try videoStatus(bridge, "tam-son")["presenter"] as? String == "lang-cong"
                && videoStatus(bridge, "song-lo")["presenter"] as? String == "lang-cong"
        }
        #expect(after, "\((try? bridge.status()) ?? [:])")
        #expect(try videoStatus(bridge, "lang-cong")["presenter"] as? String == "song-lo")
        let report = ChromiumSite.finish(page)
        for endpoint in [commune, watcher] { endpoint.0.interrupt() }
        let ended = [bridge.finish(commune), bridge.finish(watcher)]
        #expect(ended.allSatisfy { $0.status == 0 }, "\(ended)")
        #expect(report.error == nil && report.actions.allSatisfy { $0["ok"] as? Bool == true }, "\(report)")
        #expect(bridge.logText.contains("event=floor meeting=1 site=lang-cong"), "\(bridge.logText)")

        // The chair's page says so and shows lang-cong's video.
        let floorAt = report.actions.first { $0["action"] as? String == "floor" }?["t"] as? Double ?? .infinity
        let later = report.samples(in: "in-meeting").filter { $0.t > floorAt + 3 }
        #expect(!later.isEmpty && later.allSatisfy { $0.diagnostics["chair"] as? Bool == true }, "\(report)")
        #expect(diagnosticsSite(later.last?.diagnostics["presenter"]) == "lang-cong", "\(report)")
        let frames = later.compactMap { diagnosticsNumber($0.diagnostics, ["framesDecoded", "presenter"]) }
        #expect((frames.last ?? 0) - (frames.first ?? 0) >= 25, "presenter framesDecoded after the floor moved: \(frames)")

        // What tam-son received on its presenter stream: the browser's 16:9 camera, then lang-cong's 320x240.
        let sizes = try frameSizes(directory + "/tam-son-presenter.ivf")
        let firstCommune = sizes.firstIndex(of: "320x240") ?? sizes.count
        let browser = sizes[..<firstCommune].filter { size in
            let wh = size.split(separator: "x").compactMap { Double($0) }
            return wh.count == 2 && abs(wh[0] / wh[1] - 16.0 / 9) < 0.05
        }
        #expect(browser.count >= 25 && firstCommune < sizes.count && sizes[firstCommune...].filter { $0 == "320x240" }.count >= 50,
                "tam-son's presenter frames: \(Dictionary(sizes.map { ($0, 1) }, uniquingKeysWith: +))")
        #expect(bridge.stop() == 0)
    }

    @Test func afterABridgeRestartThePageIsBackInTheMeetingWithinTenSecondsWithoutAClick() throws {
        let bridge = try RunningBridge(quality: WebRTCHTTPSTests.withHTTPS)
        let directory = bridge.dataDirectory
        let page = try ChromiumSite.start(try Self.page(bridge, site: "lang-cong", audio: try toneFile(660, seconds: 4, into: directory),
                                                        video: try ChromiumSite.camera(into: directory), seconds: 28))
        let joined = try waitFor(25) { try bridge.siteStatus("lang-cong") != nil }
        #expect(joined, "\(bridge.logText)")
        Thread.sleep(forTimeInterval: 2)
        let stoppedAt = Date()
        #expect(bridge.stop() == 0)
        let restarted = try RestartedBridge(bridge)
        // The bridge sees the page join again, with no help.
        let back = waitFor(10) { restarted.logText.contains("event=join site=lang-cong") }
        let bridgeSeconds = Date().timeIntervalSince(restarted.listeningAt)
        #expect(back, "not back \(bridgeSeconds) s after the restart: \(restarted.logText)")
        // The meeting goes on: a site talks, and the page hears it.
        let talker = try bridge.start(["endpoint", "--key-file", bridge.keyPath("tam-son"), "--bridge", bridge.signaling.description,
                                       "--tone", "880", "--duration", "8s"])
        let report = ChromiumSite.finish(page)
        _ = bridge.finish(talker)
        #expect(restarted.stop() == 0)
        #expect(report.error == nil, "\(report)")

        let stopT = stoppedAt.timeIntervalSince1970 - report.startedAt
        let restartT = restarted.listeningAt.timeIntervalSince1970 - report.startedAt
        let beforeStop = report.samples.filter { $0.t < stopT }
        #expect(beforeStop.last?.diagnostics["state"] as? String == "in-meeting", "\(report)")
        let rejoinsBefore = diagnosticsNumber(beforeStop.last?.diagnostics ?? [:], ["rejoins"]) ?? -1
        let backSample = report.samples.first {
            $0.t > restartT && $0.diagnostics["state"] as? String == "in-meeting" && $0.diagnostics["connectionState"] as? String == "connected"
                && diagnosticsNumber($0.diagnostics, ["rejoins"]) ?? 0 > rejoinsBefore
        }
        let pageSeconds = (backSample?.t ?? .infinity) - restartT
        #expect(pageSeconds <= 10, "the page was back \(pageSeconds) s after the bridge restarted (stopped at t=\(stopT)): \(report)")
        print("join page back in the meeting \(String(format: "%.1f", pageSeconds)) s after the bridge restarted")
        // Nothing was clicked after the first join.
        #expect(report.actions.allSatisfy { ($0["t"] as? Double ?? .infinity) < stopT }, "\(report)")
        let peaks = report.samples.filter { $0.t > (backSample?.t ?? .infinity) }.compactMap { diagnosticsNumber($0.diagnostics, ["incoming", "peakHz"]) }
        #expect(peaks.contains { abs($0 - 880) < 12 }, "after the rejoin the page heard: \(peaks)")
    }
}
