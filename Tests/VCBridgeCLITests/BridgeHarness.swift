import Admission
import AudioSignal
import Foundation
import KeyDerivation
import RTP
import SRTP
import Synchronization
import Testing
import Transport
@testable import VCBridgeCLI

/// A real `vcbridge serve` process on loopback with its own data directory, a meeting booked from
/// now (host song-lo with lang-cong and tam-son), and keys for those sites.
final class RunningBridge: @unchecked Sendable {
    let dataDirectory: String
    let process = Process()
    private let log = LogBuffer()
    private(set) var signaling: SocketAddress!
    private(set) var media: SocketAddress!
    /// The SIP listener (UDP and TCP), when the bridge was started with `sip`.
    private(set) var sip: SocketAddress?
    /// The SIP-over-TLS listener, when the `sip` section turns it on.
    private(set) var sipTLS: SocketAddress?

    var environment: [String: String] { ["VCBRIDGE_DATA_DIR": dataDirectory, "VCBRIDGE_ORGANISER": "kiểm thử"] }

    /// - Parameter video: the `video` section of the bridge's settings, as JSON (nil: the defaults).
    /// - Parameter quality: the `quality` section, as JSON (nil: the defaults).
    /// - Parameter bridgeSettings: more keys of the `bridge` section, as JSON members (`"joinTimeoutMs": 1000`).
    /// - Parameter descriptorLimit: started under `ulimit -n` this low (nil: the test process's limit).
    /// - Parameter sip: the `sip` section (JSON); with it the bridge listens for SIP on a port the kernel chooses.
    /// - Parameter bookExtra: more options for the booking of the meeting (`--cascade-up sip:...`).
    /// - Parameter cpuQuota: started inside this CPU control group (its threads share the group's quota).
    /// - Parameter launcher: with `cpuQuota`, a command the bridge is started under (`setpriv ...`).
    init(host: String = "song-lo", sites: [String] = ["lang-cong", "tam-son"], lostAfterSeconds: Int = 10, duration: String = "1h",
         video: String? = nil, quality: String? = nil, bridgeSettings: String? = nil, descriptorLimit: Int? = nil,
         sip: String? = nil, bookExtra: [String] = [], cpuQuota: CPUQuota? = nil, launcher: [String] = []) throws {
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-bridge-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let config = dataDirectory + "/config.json"
        let sections = (video.map { #", "video": \#($0)"# } ?? "") + (quality.map { #", "quality": \#($0)"# } ?? "")
            + (sip.map { #", "sip": \#($0)"# } ?? "")
        let bridgeKeys = bridgeSettings.map { ", " + $0 } ?? ""
        try #"{"bridge": {"lostAfterSeconds": \#(lostAfterSeconds)\#(bridgeKeys)}\#(sections)}"#.write(toFile: config, atomically: true, encoding: .utf8)
        let booked = try cli(["meeting", "book", "--title", "Kiểm thử cầu nối", "--host", host, "--scope", sites.joined(separator: ","),
                              "--start", "now", "--duration", duration] + bookExtra)
        #expect(booked.status == 0, "\(booked.stderr)")
        for site in [host] + sites { try provision(site) }
        let serve = ["serve", "--listen", "127.0.0.1", "--signal-port", "0", "--media-port", "0", "--config", config]
            + (sip == nil ? [] : ["--sip-port", "0"])
        if let cpuQuota {
            // The shell joins the group and becomes the bridge, so every thread the bridge starts is in it.
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            let command = launcher + [VCBridgeProcess.executable.path]
            process.arguments = ["-c", "echo $$ > \"$1\" && shift && exec \"$0\" \"$@\"", command[0],
                                 cpuQuota.processesFile] + command.dropFirst() + serve
        } else if let descriptorLimit {
            process.executableURL = URL(fileURLWithPath: "/bin/sh")
            process.arguments = ["-c", "ulimit -n \(descriptorLimit) && exec \"$0\" \"$@\"", VCBridgeProcess.executable.path] + serve
        } else {
            process.executableURL = VCBridgeProcess.executable
            process.arguments = serve
        }
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        process.standardError = pipe
        process.standardOutput = FileHandle.nullDevice
        let log = self.log
        pipe.fileHandleForReading.readabilityHandler = { handle in
            log.append(String(decoding: handle.availableData, as: UTF8.self))
        }
        try process.run()
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            let text = log.text
            if let line = text.split(separator: "\n").first(where: { $0.contains("event=listening") }) {
                let fields = Dictionary(uniqueKeysWithValues: line.split(separator: " ").compactMap { f -> (String, String)? in
                    let kv = f.split(separator: "=", maxSplits: 1)
                    return kv.count == 2 ? (String(kv[0]), String(kv[1])) : nil
                })
                signaling = try SocketAddress(parsing: fields["signaling"]!)
                media = try SocketAddress(parsing: fields["media"]!)
                self.sip = try fields["sip"].flatMap { $0 == "off" ? nil : try SocketAddress(parsing: $0) }
                sipTLS = try fields["sipTLS"].flatMap { $0 == "off" ? nil : try SocketAddress(parsing: $0) }
                return
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        process.terminate()
        throw CommandFailure("the bridge did not start: \(log.text)")
    }

    var logText: String { log.text }

    func keyPath(_ site: String) -> String { dataDirectory + "/\(site).key" }

    @discardableResult
    func provision(_ site: String) throws -> (status: Int32, stdout: String, stderr: String) {
        try cli(["site", "key", site, "--out", keyPath(site)])
    }

    func cli(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try VCBridgeProcess.run(arguments, environment: environment)
    }

    func key(_ site: String) throws -> SiteKey {
        try SiteKey(fileText: try String(contentsOfFile: keyPath(site), encoding: .utf8), origin: keyPath(site))
    }

    /// Starts a reference endpoint process.
    func endpoint(_ site: String, _ extra: [String], keyFile: String? = nil) throws -> (Process, Pipe) {
        try start(["endpoint", "--key-file", keyFile ?? keyPath(site), "--bridge", signaling.description] + extra)
    }

    /// Starts a `vcbridge` command with this bridge's data directory, its output (and errors) in the pipe.
    func start(_ arguments: [String]) throws -> (Process, Pipe) {
        let p = Process()
        p.executableURL = VCBridgeProcess.executable
        p.arguments = arguments
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        return (p, pipe)
    }

    func finish(_ endpoint: (Process, Pipe)) -> (status: Int32, output: String) {
        let output = String(decoding: endpoint.1.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        endpoint.0.waitUntilExit()
        return (endpoint.0.terminationStatus, output)
    }

    func status() throws -> [String: Any] { try controlRequest(dataDirectory, ["command": "status"]) }

    func siteStatus(_ site: String) throws -> [String: Any]? {
        (try status()["sites"] as? [[String: Any]])?.first { $0["site"] as? String == site }
    }

    /// SIGINT, then the exit status.
    func stop() -> Int32 {
        process.interrupt()
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// A test that ends without `stop` (it failed, or it had nothing to check at the end) leaves no
    /// bridge running behind it.
    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

final class LogBuffer: Sendable {
    private let mutex = Mutex("")
    func append(_ text: String) { mutex.withLock { $0 += text } }
    var text: String { mutex.withLock { $0 } }
}

/// A site spoken for by the test itself: the join exchange through the library, then raw SRTP.
/// The join exchange up to the proof, so a test can act between the challenge and the proof.
struct StalledJoin {
    let connection: TCPConnection
    let proofLine: String
    /// The session's keys, as the site derived them.
    let keys: JoinProtocol.SessionKeys

    init(_ key: SiteKey, bridge: RunningBridge) throws {
        connection = try TCPConnection(connectingTo: bridge.signaling)
        let ns = try SecureRandom.bytes(32)
        try connection.send(line: JoinProtocol.encode(["type": "hello", "version": 1, "site": key.site, "nonce": JoinProtocol.hex(ns)]))
        guard let challengeLine = try connection.receiveLine(timeoutMilliseconds: 5000),
              let challenge = JoinProtocol.decode(challengeLine),
              let nb = JoinProtocol.bytes(hex: challenge["nonce"], length: 32)
        else { throw CommandFailure("no challenge") }
        keys = try JoinProtocol.deriveKeys(secret: key.secret, site: key.site, siteNonce: ns, bridgeNonce: nb, keyingMaterialLength: 28)
        proofLine = JoinProtocol.encode([
            "type": "proof", "proof": JoinProtocol.hex(try JoinProtocol.proof(.site, keys: keys, site: key.site, siteNonce: ns, bridgeNonce: nb)),
        ])
    }

    /// Sends the proof; the bridge's answer (welcome or refused).
    func finish() throws -> [String: Any] {
        try connection.send(line: proofLine)
        guard let line = try connection.receiveLine(timeoutMilliseconds: 5000), let answer = JoinProtocol.decode(line) else {
            throw CommandFailure("no answer to the proof")
        }
        return answer
    }
}

final class RawSite {
    let key: SiteKey
    let connection: TCPConnection
    let ssrc: UInt32
    let outbound: SRTPSession
    let inbound: SRTPSession
    let mediaAddress: SocketAddress
    var sequence: UInt16 = 1000
    var timestamp: UInt32 = 96_000
    /// The SSRC to send video with, and those of the presenter and speaker streams the bridge sends.
    let videoSSRC: UInt32
    let presenterSSRC: UInt32
    let speakerSSRC: UInt32
    var videoSequence: UInt16 = 5000
    var videoTimestamp: UInt32 = 900_000

    init(_ key: SiteKey, bridge: RunningBridge) throws {
        self.key = key
        let join = try StalledJoin(key, bridge: bridge)
        let welcome = try join.finish()
        guard welcome["type"] as? String == "welcome" else { throw CommandFailure("not welcomed: \(welcome)") }
        connection = join.connection
        let keys = join.keys
        ssrc = UInt32(welcome["ssrc"] as! Int)
        let video = welcome["video"] as! [String: Any]
        videoSSRC = UInt32(video["ssrc"] as! Int)
        presenterSSRC = UInt32(video["presenterSSRC"] as! Int)
        speakerSSRC = UInt32(video["speakerSSRC"] as! Int)
        mediaAddress = bridge.media.with(port: UInt16(welcome["mediaPort"] as! Int))
        outbound = try SRTPSession(profile: .aeadAES128GCM, direction: .outbound, keyingMaterial: keys.siteToBridge)
        inbound = try SRTPSession(profile: .aeadAES128GCM, direction: .inbound, keyingMaterial: keys.bridgeToSite)
    }

    /// A protected RTP packet with a 20-byte payload (not real Opus: the bridge does not decode non-talkers)
    /// and the given RFC 6464 level.
    func nextPacket(level: UInt8 = 120) throws -> [UInt8] {
        let plain = try RTPPacket(payloadType: 111, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc,
                                  headerExtension: .oneByte([(1, [AudioLevel(level: level, voiceActivity: level < 50).byte])]),
                                  payload: [UInt8](repeating: 0xF8, count: 20)).serialized()
        sequence &+= 1
        timestamp &+= 960
        return try protect(plain)
    }

    func protect(_ plain: [UInt8], rtcp: Bool = false) throws -> [UInt8] {
        var buffer = plain + [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
        let length = try buffer.withUnsafeMutableBytes {
            rtcp ? try outbound.protectRTCP($0, length: plain.count) : try outbound.protectRTP($0, length: plain.count)
        }
        return Array(buffer[0..<length])
    }

    /// The protected packets of one synthetic VP8 frame (`packets` of `size` payload bytes, the
    /// payload's bytes after the descriptor all `fill`).
    func nextVideoFrame(key: Bool, packets: Int = 1, size: Int = 1000, fill: UInt8 = 0x55) throws -> [[UInt8]] {
        var result: [[UInt8]] = []
        for i in 0..<packets {
            var payload: [UInt8] = [i == 0 ? 0x10 : 0x00] + [UInt8](repeating: fill, count: size - 1)
            if i == 0 { payload[1] = key ? 0x10 : 0x11 }
            let plain = try RTPPacket(marker: i == packets - 1, payloadType: 96, sequenceNumber: videoSequence, timestamp: videoTimestamp,
                                      ssrc: videoSSRC, payload: payload).serialized()
            videoSequence &+= 1
            result.append(try protect(plain))
        }
        videoTimestamp &+= 3600
        return result
    }

    /// Feedback about one of the streams the bridge sends this site (RR first, as RFC 4585 asks).
    func feedback(_ packet: RTCPPacket) throws -> [UInt8] {
        try protect(try RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: ssrc)), packet]), rtcp: true)
    }

    /// The RTP datagrams (still protected) that arrive within `seconds`.
    func receiveDatagrams(on socket: UDPSocket, seconds: Double) throws -> [[UInt8]] {
        let batch = DatagramBatch(capacity: 64, slotSize: 1600)
        var datagrams: [[UInt8]] = []
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard try socket.waitReadable(timeoutMilliseconds: 50) else { continue }
            let count = try socket.receive(into: batch)
            for i in 0..<count {
                let datagram = batch.datagram(i)
                guard datagram.count > 12, datagram[1] < 200 || datagram[1] > 206 else { continue }
                datagrams.append(Array(datagram))
            }
        }
        return datagrams
    }

    /// Authenticates and decrypts a received RTP datagram.
    func unprotect(_ datagram: [UInt8]) -> [UInt8]? {
        var buffer = datagram
        guard let n = try? buffer.withUnsafeMutableBytes({ try inbound.unprotectRTP($0, length: datagram.count) }) else { return nil }
        return Array(buffer[0..<n])
    }
}

func waitFor(_ seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        Thread.sleep(forTimeInterval: 0.1)
    }
    return false
}
