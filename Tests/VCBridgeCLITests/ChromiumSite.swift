import Foundation
@testable import VCBridgeCLI

/// Debian's Chromium, headless, driven over the DevTools protocol by Scripts/clients/chromium_site.py (fake camera
/// and microphone from files, a fresh profile): what the page's `window.vcbridgeDiagnostics()` showed over time.
/// Scripts/test.sh installs the `chromium` package.
struct ChromiumSite {
    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let script = packageRoot.appendingPathComponent("Scripts/clients/chromium_site.py").path
    /// Where tests keep what a person may want to look at afterwards (screenshots).
    static let artefacts = packageRoot.appendingPathComponent(".build/test-artefacts").path

    static var installed: Bool {
        (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin").split(separator: ":")
            .contains { FileManager.default.isExecutableFile(atPath: "\($0)/chromium") }
    }

    /// Starts the driver; its report comes out of `finish`.
    static func start(_ arguments: [String]) throws -> (Process, Pipe) {
        guard installed else { throw CommandFailure("Chromium is not installed: run Scripts/test.sh, which installs Debian's chromium") }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script] + arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = FileHandle.nullDevice
        try p.run()
        return (p, pipe)
    }

    /// Waits for the driver (it bounds its own run) and reads its JSON report.
    static func finish(_ run: (Process, Pipe)) -> Report {
        let output = String(decoding: run.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.0.waitUntilExit()
        let line = output.split(separator: "\n").last { $0.hasPrefix("{") }.map(String.init) ?? "{}"
        let json = (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]) ?? [:]
        return Report(status: run.0.terminationStatus, json: json, output: output)
    }

    static func run(_ arguments: [String]) throws -> Report { finish(try start(arguments)) }

    /// A Y4M camera for Chromium's fake capture: ffmpeg's test pattern, looped by Chromium.
    static func camera(size: String = "640x360", seconds: Int = 2, into directory: String) throws -> String {
        let path = directory + "/camera-\(size).y4m"
        let made = try runTool("ffmpeg", ["-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=\(size):rate=15",
                                          "-t", "\(seconds)", "-pix_fmt", "yuv420p", path])
        guard made.status == 0 else { throw CommandFailure("ffmpeg failed: \(made.output)") }
        return path
    }

    struct Report: CustomStringConvertible {
        let status: Int32
        let json: [String: Any]
        let output: String

        var ok: Bool { json["ok"] as? Bool == true }
        var error: String? { json["error"] as? String }
        /// Unix time of the samples' t = 0.
        var startedAt: Double { json["startedAt"] as? Double ?? 0 }
        /// (t, diagnostics) for every sample the page answered.
        var samples: [(t: Double, diagnostics: [String: Any])] {
            (json["samples"] as? [[String: Any]] ?? []).compactMap { sample in
                guard let t = sample["t"] as? Double, let d = sample["diagnostics"] as? [String: Any] else { return nil }
                return (t, d)
            }
        }
        var actions: [[String: Any]] { json["actions"] as? [[String: Any]] ?? [] }
        var screenshot: String? { (json["screenshot"] as? [String: Any])?["path"] as? String }

        /// Samples in the state (e.g. "in-meeting").
        func samples(in state: String) -> [(t: Double, diagnostics: [String: Any])] {
            samples.filter { $0.diagnostics["state"] as? String == state }
        }

        var description: String {
            // The samples, shortened, then the rest: enough to see what the page did.
            var short = json
            let all = json["samples"] as? [Any] ?? []
            short["samples"] = all.count > 12 ? Array(all.prefix(4)) + ["…"] + Array(all.suffix(8)) : all
            let data = (try? JSONSerialization.data(withJSONObject: short, options: [.sortedKeys])) ?? Data()
            return "exit \(status): " + String(decoding: data, as: UTF8.self) + (json.isEmpty ? " " + output : "")
        }
    }
}

/// A field of the page's diagnostics that may be an id or `{site, name}` (who a stream shows).
func diagnosticsSite(_ value: Any?) -> String? {
    if let site = value as? String { return site }
    return (value as? [String: Any])?["site"] as? String
}

/// A nested number of the page's diagnostics (`["incoming", "peakHz"]`).
func diagnosticsNumber(_ diagnostics: [String: Any], _ path: [String]) -> Double? {
    var value: Any? = diagnostics
    for key in path { value = (value as? [String: Any])?[key] }
    return (value as? NSNumber)?.doubleValue
}
