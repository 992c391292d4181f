import Foundation
import Testing
@testable import VCBridgeCLI

/// A second `vcbridge serve` on a stopped RunningBridge's data directory, ports and settings (its web listener on
/// the port the first one had), as an operator's restart: the bookings, keys and HTTPS certificate are the same.
/// `RunningBridge.status()` and `siteStatus` reach it too (the control socket is in the data directory).
final class RestartedBridge: @unchecked Sendable {
    let process = Process()
    private let log = LogBuffer()
    /// When it logged that it listens.
    private(set) var listeningAt = Date.distantFuture

    /// - Parameter bridge: stopped already (`bridge.stop()`).
    init(_ bridge: RunningBridge) throws {
        let original = bridge.dataDirectory + "/config.json"
        var settings = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: original))) as? [String: Any] ?? [:]
        let webAddress = bridge.httpsFields["address"] ?? String(bridge.web.dropFirst("http://".count))
        if var quality = settings["quality"] as? [String: Any], let port = webAddress.split(separator: ":").last.flatMap({ Int($0) }) {
            quality["httpPort"] = port
            settings["quality"] = quality
        }
        let config = bridge.dataDirectory + "/config-restarted.json"
        try JSONSerialization.data(withJSONObject: settings).write(to: URL(fileURLWithPath: config))
        process.executableURL = VCBridgeProcess.executable
        process.arguments = ["serve", "--listen", "127.0.0.1", "--signal-port", "\(bridge.signaling.port)",
                             "--media-port", "\(bridge.media.port)", "--config", config]
            + (bridge.sip.map { ["--sip-port", "\($0.port)"] } ?? [])
        process.environment = ProcessInfo.processInfo.environment.merging(bridge.environment) { _, new in new }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        let log = self.log
        pipe.fileHandleForReading.readabilityHandler = { handle in
            log.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
        guard waitFor(10, { log.text.contains("event=listening") }) else {
            process.terminate()
            throw CommandFailure("the restarted bridge did not start: \(log.text)")
        }
        listeningAt = Date()
    }

    var logText: String { log.text }

    /// SIGINT, then the exit status.
    func stop() -> Int32 {
        process.interrupt()
        process.waitUntilExit()
        return process.terminationStatus
    }
}
