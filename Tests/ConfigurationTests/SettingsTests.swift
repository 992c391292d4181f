import CivilTime
import Foundation
import Testing
@testable import Configuration

@Suite("Settings")
struct SettingsTests {
    func file(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-settings-\(UUID().uuidString).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    @Test func embeddedDefaults() {
        let s = Settings.defaults
        #expect(s.bridgeCapacity == 160)
        #expect(s.setupSeconds == 15 * 60)
        #expect(s.workingHours == (7 * 60 + 30)...(17 * 60))
        #expect(s.workingDays == [.monday, .tuesday, .wednesday, .thursday, .friday])
        #expect(s.maxOccurrences == 366)
        #expect(s.talkers == 3 && s.lostAfterSeconds == 10)
        #expect(s.signalingPort == 7400 && s.mediaPort == 7402 && s.listenAddress == "0.0.0.0")
        #expect(s.video == VideoSettings(senders: .all, maxKilobitsPerSecond: 2500, maxPacketsPerSecond: 400, maxPacketBytes: 1400,
                                         keyframeRequestIntervalMilliseconds: 1000, switchTimeoutMilliseconds: 2000,
                                         repairWindowMilliseconds: 500, maxRepairsPerSecond: 200, speakerHoldMilliseconds: 1000))
        #expect(s.quality == QualitySettings(goodMOS: 2.7, fairMOS: 2.4, poorMOS: 1.9, alertAfterSeconds: 10, sampleSeconds: 5,
                                             historyDays: 90, httpEnabled: false, httpAddress: "127.0.0.1", httpPort: 7480))
    }

    @Test func consentIsNeverShorterThanLostAfterSeconds() throws {
        // A config written before bridge.consentSeconds existed, with a long lostAfterSeconds, still starts.
        let s = try Settings.load(overridePath: try file(#"{"bridge": {"lostAfterSeconds": 40}}"#))
        #expect(s.lostAfterSeconds == 40 && s.consentSeconds == 40)
        #expect(try Settings.load(overridePath: nil).consentSeconds == 30)
    }

    @Test func anOverrideReplacesOnlyItsKeys() throws {
        let s = try Settings.load(overridePath: try file(#"{"schedule": {"setupMinutes": 30}}"#))
        #expect(s.setupSeconds == 1800)
        #expect(s.bridgeCapacity == 160)
        #expect(try Settings.load(overridePath: nil) == Settings.defaults)
    }

    @Test("bad settings name the file, key and fault", arguments: [
        (#"{"bridge": {"capacty": 10}}"#, "unknown key 'bridge.capacty' (known: capacity, consentSeconds, joinTimeoutMs, listenAddress, lostAfterSeconds, maxPendingJoins, maxPendingJoinsPerAddress, mediaPort, signalingPort, talkers, timeStretch)"),
        (#"{"bridge": {"talkers": 0}}"#, "'bridge.talkers' must be a whole number from 1 to 8"),
        (#"{"bridge": {"timeStretch": "yes"}}"#, "'bridge.timeStretch' is missing or of the wrong type"),
        (#"{"media": {}}"#, "unknown section 'media' (known: bridge, quality, schedule, sip, sites, video)"),
        (#"{"sip": {"digestAlgorithms": ["SHA-1"]}}"#, "'sip.digestAlgorithms' must list \"SHA-256\" and/or \"MD5\", each once, in the order offered"),
        (#"{"sip": {"digestAlgorithms": []}}"#, "'sip.digestAlgorithms' must list"),
        (#"{"sip": {"port": 70000}}"#, "'sip.port' must be a whole number from 0 to 65535"),
        (#"{"sip": {"enabled": "yes"}}"#, "'sip.enabled' is missing or of the wrong type"),
        (#"{"quality": {"goodMOS": 2.2}}"#, "the grade thresholds must fall"),
        (#"{"quality": {"httpEnabled": "yes"}}"#, "'quality.httpEnabled' is missing or of the wrong type"),
        (#"{"video": {"senders": "communes"}}"#, "'video.senders' is 'communes'; it must be \"all\" or \"presenters\""),
        (#"{"video": {"maxKilobitsPerSecond": 10}}"#, "'video.maxKilobitsPerSecond' must be a whole number from 64 to 50000"),
        (#"{"bridge": {"capacity": 0}}"#, "'bridge.capacity' must be a whole number from 1 to 10000"),
        (#"{"bridge": {"capacity": 2.5}}"#, "'bridge.capacity' must be a whole number from 1 to 10000"),
        (#"{"bridge": {"capacity": "many"}}"#, "'bridge.capacity' is missing or of the wrong type"),
        (#"{"schedule": {"workingHours": "17:00-07:00"}}"#, "'schedule.workingHours' must look like 07:30-17:00 (start before end)"),
        (#"{"schedule": {"workingDays": ["mon", "caturday"]}}"#, "'schedule.workingDays' has 'caturday', not a day (mon ... sun)"),
        (#"{"schedule": "#, "not valid JSON"),
    ])
    func badOverrides(json: String, message: String) throws {
        let path = try file(json)
        do {
            _ = try Settings.load(overridePath: path)
            Issue.record("accepted \(json)")
        } catch {
            #expect(error.description.hasPrefix(path + ": "))
            #expect(error.description.contains(message))
        }
    }

    @Test func sipIsOffByDefaultAndTurnedOnWithItsPorts() throws {
        #expect(Settings.defaults.sipPort == nil)
        #expect(Settings.defaults.sipTLSPort == nil)
        #expect(Settings.defaults.sipDigestAlgorithms == ["SHA-256", "MD5"])
        let on = try Settings.load(overridePath: try file(#"{"sip": {"enabled": true, "port": 5070, "tlsEnabled": true, "digestAlgorithms": ["MD5"]}}"#))
        #expect(on.sipPort == 5070)
        #expect(on.sipTLSPort == 5061)
        #expect(on.sipDigestAlgorithms == ["MD5"])
    }

    @Test func aMissingFileIsNamed() {
        #expect(throws: SettingsError.self) { try Settings.load(overridePath: "/nonexistent/vcbridge.json") }
    }
}
