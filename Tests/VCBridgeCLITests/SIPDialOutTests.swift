#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Foundation
import Testing
import Transport
@testable import VCBridgeCLI

/// The `sip` section for a bridge that dials lang-cong's room system at `port` (MD5 challenges for baresip 1.0).
func dialOutSection(port: UInt16, ringSeconds: Int = 20) -> String {
    #"{"digestAlgorithms": ["MD5"], "dialOut": {"lang-cong": "sip:hall@127.0.0.1:\#(port);transport=udp"}, "dialOutRingSeconds": \#(ringSeconds)}"#
}

@Suite("SIP: the bridge dials out", .serialized)
struct SIPDialOutTests {
    /// The meeting (booked from now, so in its setup window when the bridge starts) makes the bridge call lang-cong's
    /// room system; the call is admitted as lang-cong; the host hears its tone and it records the host's; cancelling
    /// the meeting makes the bridge hang up with BYE, and it does not call again.
    @Test func theBridgeCallsAHallAtItsMeetingAndHangsUpWhenTheMeetingEnds() throws {
        // The hall is on before the bridge starts (and dials it at once).
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-hall-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }
        let port = try Baresip.freePort()
        let tone = try stereoToneFile(880, seconds: 30, into: scratch)
        let hall = try Baresip(answeringOn: port, wav: tone, seconds: 90, in: scratch)
        defer { hall.kill() }
        try hall.waitUntilReady()
        let bridge = try RunningBridge(sip: dialOutSection(port: port))
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "12s", "--record", heard])
        // The bridge dials; baresip answers; lang-cong is in the meeting as a SIP site, sending.
        #expect(try waitFor(15) { (try bridge.siteStatus("lang-cong")?["packetsReceived"] as? Int ?? 0) > 50 },
                "\(bridge.logText)\n\(hall.output.suffix(3000))")
        let status = try #require(try bridge.siteStatus("lang-cong"))
        #expect(status["meeting"] as? Int == 1)
        #expect(status["transport"] as? String == "sip")
        #expect(bridge.logText.contains("event=sip-dial site=lang-cong meeting=1"), "\(bridge.logText)")
        #expect(bridge.logText.contains("event=join site=lang-cong meeting=1"))
        #expect(hall.output.contains("Call established"), "\(hall.output.suffix(3000))")
        #expect(hall.output.contains("SRTP is Enabled"))
        let result = bridge.finish(host)
        #expect(result.status == 0, "\(result.output)")
        // The meeting is cancelled: the bridge ends the session and sends BYE; baresip's call ends.
        let cancelled = try bridge.cli(["meeting", "cancel", "1", "--reason", "kiểm thử"])
        #expect(cancelled.status == 0, "\(cancelled.stderr)")
        #expect(waitFor(8) { hall.output.contains("terminated") }, "\(hall.output.suffix(3000))\n\(bridge.logText)")
        #expect(bridge.logText.contains("event=sip-hangup site=lang-cong"))
        #expect(try waitFor(3) { try bridge.siteStatus("lang-cong") == nil })
        // No meeting, no new call.
        Thread.sleep(forTimeInterval: 2)
        #expect(bridge.logText.components(separatedBy: "event=sip-dial site=lang-cong").count == 2, "\(bridge.logText)")
        // What each heard, by frequency: the host the hall's 880 Hz, the hall the host's 440 Hz.
        let hostHeard = try WAVFile.read(heard)
        #expect(Tone.dominant(among: [440, 880], in: hostHeard[(48_000 * 4)..<(48_000 * 8)])?.frequency == 880)
        let hallHeard = try WAVFile.read(try hall.decodedDump())
        try #require(hallHeard.count > 48_000 * 6, "\(hallHeard.count) samples")
        #expect(Tone.dominant(among: [440, 880], in: hallHeard[(48_000 * 2)..<(48_000 * 6)])?.frequency == 440)
        #expect(bridge.stop() == 0)
    }

    /// Nobody answers at first (the room system is off): the attempt is given up after the ring time and retried
    /// with backoff; once the room system is on, a retry reaches it and it joins the meeting.
    @Test func anUnansweredCallIsRetriedUntilTheHallAnswers() throws {
        let port = try Baresip.freePort()
        let bridge = try RunningBridge(sip: dialOutSection(port: port, ringSeconds: 2))
        #expect(waitFor(10) { bridge.logText.contains("event=sip-dial-failed site=lang-cong") }, "\(bridge.logText)")
        #expect(try bridge.siteStatus("lang-cong") == nil)
        let tone = try stereoToneFile(880, seconds: 30, into: bridge.dataDirectory)
        let hall = try Baresip(answeringOn: port, wav: tone, seconds: 90, in: bridge.dataDirectory)
        defer { hall.kill() }
        try hall.waitUntilReady()
        #expect(try waitFor(45) { (try bridge.siteStatus("lang-cong")?["packetsReceived"] as? Int ?? 0) > 20 },
                "\(bridge.logText)\n\(hall.output.suffix(3000))")
        #expect(bridge.logText.contains("attempt=2") || bridge.logText.contains("attempt=3"), "\(bridge.logText)")
        #expect(bridge.stop() == 0)
    }

    /// A meeting booked to start 70 s ahead with a one-minute setup window: the hall is not called before the window
    /// opens, and is called when it does.
    @Test func theHallIsCalledWhenTheSetupWindowOpensNotBefore() throws {
        let port = try Baresip.freePort()
        let bridge = try RunningBridge(host: "song-lo", sites: ["tam-son"], sip: dialOutSection(port: port))
        let tone = try stereoToneFile(880, seconds: 30, into: bridge.dataDirectory)
        let hall = try Baresip(answeringOn: port, wav: tone, seconds: 120, in: bridge.dataDirectory)
        defer { hall.kill() }
        try hall.waitUntilReady()
        try bridge.provision("lang-cong")  // a dialled hall needs its key: the call is admitted as the site
        let settings = bridge.dataDirectory + "/one-minute-setup.json"
        try #"{"schedule": {"setupMinutes": 1}}"#.write(toFile: settings, atomically: true, encoding: .utf8)
        let start = Date().addingTimeInterval(70)
        let formatter = ISO8601DateFormatter()
        let booked = try bridge.cli(["meeting", "book", "--config", settings, "--title", "Họp tỉnh", "--host", "vinh-phuc",
                                     "--scope", "lang-cong", "--start", formatter.string(from: start), "--duration", "10m"])
        #expect(booked.status == 0, "\(booked.stderr)")
        let windowOpens = start.addingTimeInterval(-60)
        // Before the window: no call (checked until two seconds before it opens).
        while Date() < windowOpens.addingTimeInterval(-2) {
            #expect(!bridge.logText.contains("event=sip-dial site=lang-cong"), "\(bridge.logText)")
            Thread.sleep(forTimeInterval: 0.5)
        }
        // At the window: called, answered, in meeting 2.
        #expect(try waitFor(20) { try bridge.siteStatus("lang-cong")?["meeting"] as? Int == 2 }, "\(bridge.logText)\n\(hall.output.suffix(2000))")
        let line = try #require(bridge.logText.split(separator: "\n").first { $0.contains("event=sip-dial site=lang-cong meeting=2") })
        let stamp = try #require(line.split(separator: " ").first?.dropFirst("time=".count))
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let dialledAt = try #require(fractional.date(from: String(stamp)))
        #expect(dialledAt >= windowOpens.addingTimeInterval(-1), "dialled at \(dialledAt), window opens \(windowOpens)")
        #expect(dialledAt < windowOpens.addingTimeInterval(5), "dialled at \(dialledAt), window opens \(windowOpens)")
        #expect(hall.output.contains("Call established"), "\(hall.output.suffix(2000))")
        #expect(bridge.stop() == 0)
    }

    /// A dial-out entry for a site not in the directory stops the bridge from starting, naming it.
    @Test func aDialOutEntryForAnUnknownSiteIsRefusedAtStart() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-dial-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let config = directory + "/config.json"
        try #"{"sip": {"enabled": true, "dialOut": {"atlantis": "sip:room@127.0.0.1:5090"}}}"#
            .write(toFile: config, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = VCBridgeProcess.executable
        process.arguments = ["serve", "--listen", "127.0.0.1", "--signal-port", "0", "--media-port", "0", "--sip-port", "0",
                             "--config", config]
        process.environment = ProcessInfo.processInfo.environment.merging(["VCBRIDGE_DATA_DIR": directory]) { _, new in new }
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        // Bounded: a bridge that starts anyway is killed.
        let exited = waitFor(10) { !process.isRunning }
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(exited, "the bridge started with an unknown dial-out site")
        #expect(process.terminationStatus != 0)
        #expect(stderr.contains("sip.dialOut names 'atlantis', which is not a site"), "\(stderr)")
    }
}

@Suite("SIP: cascade to an upstream MCU", .serialized)
struct SIPCascadeTests {
    /// Two bridges: the upper one (central, where vinh-phuc is a site with its digest credentials) and the province
    /// bridge, whose meeting is booked with `--cascade-up` the upper one's address. The province bridge calls up as one
    /// participant: central's endpoint hears the commune's tone, the commune hears central's, and the commune does not
    /// hear its own tone come back through the upper bridge (mix-minus across the link).
    @Test func theProvinceBridgeCallsItsUpstreamAndEachSideHearsTheOtherWithoutEcho() throws {
        let upper = try RunningBridge(host: "central", sites: ["vinh-phuc"], sip: "{}")
        let upperSIP = try #require(upper.sip)
        let password = try sipPassword(upper, "vinh-phuc")
        let credentials = #"{"cascadeCredentials": {"username": "vinh-phuc", "password": "\#(password)"}}"#
        let lower = try RunningBridge(host: "vinh-phuc", sites: ["lang-cong"], sip: credentials,
                                      bookExtra: ["--cascade-up", "sip:vinh-phuc@\(upperSIP)"])
        let shown = try lower.cli(["meeting", "show", "1"])
        #expect(shown.stdout.contains("cascade up sip:vinh-phuc@\(upperSIP), as central"), "\(shown)")
        // The province bridge calls up: central (the link) is in its meeting, vinh-phuc in the upper one's.
        #expect(try waitFor(15) { try upper.siteStatus("vinh-phuc")?["transport"] as? String == "sip" },
                "\(upper.logText)\n\(lower.logText)")
        #expect(try waitFor(5) { try lower.siteStatus("central")?["transport"] as? String == "sip" }, "\(lower.logText)")
        #expect(lower.logText.contains("event=sip-dial site=central meeting=1"))
        let centralHeard = upper.dataDirectory + "/central-heard.wav"
        let communeHeard = lower.dataDirectory + "/lang-cong-heard.wav"
        let central = try upper.endpoint("central", ["--tone", "440", "--duration", "10s", "--record", centralHeard])
        let commune = try lower.endpoint("lang-cong", ["--tone", "880", "--duration", "10s", "--record", communeHeard])
        let centralResult = upper.finish(central)
        let communeResult = lower.finish(commune)
        #expect(centralResult.status == 0, "\(centralResult.output)")
        #expect(communeResult.status == 0, "\(communeResult.output)")
        for (file, own, other) in [(centralHeard, 440.0, 880.0), (communeHeard, 880.0, 440.0)] {
            let heard = try WAVFile.read(file)
            #expect(heard.count > 48_000 * 6, "\(file): \(heard.count) samples")
            let window = heard[(48_000 * 3)..<(48_000 * 8)]
            let ownPower = Tone.power(of: own, in: window), otherPower = Tone.power(of: other, in: window)
            #expect(otherPower > 0, "\(file) hears nothing of \(Int(other)) Hz")
            #expect(ownPower < otherPower / 300, "\(file) hears its own \(Int(own)) Hz back: \(ownPower) vs \(otherPower)")
        }
        #expect(lower.stop() == 0)
        #expect(upper.stop() == 0)
    }

    /// Wrong credentials for the upstream: the call fails naming why, nothing is admitted on either side, and it is
    /// tried again later.
    @Test func wrongCascadeCredentialsFailTheCallNamingWhy() throws {
        let upper = try RunningBridge(host: "central", sites: ["vinh-phuc"], sip: "{}")
        let upperSIP = try #require(upper.sip)
        _ = try sipPassword(upper, "vinh-phuc")
        let credentials = #"{"cascadeCredentials": {"username": "vinh-phuc", "password": "not-the-password-0000"}, "dialOutRingSeconds": 3}"#
        let lower = try RunningBridge(host: "vinh-phuc", sites: ["lang-cong"], sip: credentials,
                                      bookExtra: ["--cascade-up", "sip:vinh-phuc@\(upperSIP)"])
        #expect(waitFor(15) { lower.logText.contains("event=sip-dial-failed site=central meeting=1 attempt=1 reason=\"401 Unauthorized (the credentials were refused)\"") },
                "\(lower.logText)")
        #expect(try upper.siteStatus("vinh-phuc") == nil)
        #expect(try lower.siteStatus("central") == nil)
        #expect(waitFor(15) { lower.logText.contains("event=sip-dial site=central meeting=1 attempt=2") }, "\(lower.logText)")
        #expect(lower.stop() == 0)
        #expect(upper.stop() == 0)
    }
}
