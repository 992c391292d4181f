import Foundation
import Testing
@testable import Configuration

@Suite("Settings: SIP dial-out")
struct SIPDialOutSettingsTests {
    func load(_ sip: String) throws -> Settings {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-dialout-\(UUID().uuidString).json").path
        try #"{"sip": \#(sip)}"#.write(toFile: path, atomically: true, encoding: .utf8)
        return try Settings.load(overridePath: path)
    }

    @Test func noHallIsDialledByDefaultAndEachConfiguredOneIsKept() throws {
        #expect(Settings.defaults.sipDialOut.isEmpty)
        #expect(Settings.defaults.sipDialOutRingSeconds == 30)
        let s = try load(#"{"dialOut": {"lang-cong": "sip:room@192.0.2.10:5060;transport=udp", "tam-son": "sip:[2001:db8::7]:5062"}, "dialOutRingSeconds": 12}"#)
        #expect(s.sipDialOut == ["lang-cong": "sip:room@192.0.2.10:5060;transport=udp", "tam-son": "sip:[2001:db8::7]:5062"])
        #expect(s.sipDialOutRingSeconds == 12)
    }

    @Test("a dial-out address that cannot be called is named with why", arguments: [
        ("https://hall.example", "it must start with sip:"),
        ("sips:room@192.0.2.10", "sips: (TLS) dial-out is not supported yet"),
        ("sip:room@hall.example.vn", "its host must be a numeric IPv4 or IPv6 address"),
        ("sip:room@192.0.2.10:0", "its port must be 1-65535"),
        ("sip:room@192.0.2.10:99999", "its port must be 1-65535"),
        ("sip:room@192.0.2.10;transport=tcp", "transport=tcp is not supported for dial-out yet (udp only)"),
        ("sip:room @192.0.2.10", "it holds spaces or control characters"),
    ])
    func badAddresses(address: String, fault: String) throws {
        do {
            _ = try load(#"{"dialOut": {"lang-cong": "\#(address)"}}"#)
            Issue.record("accepted \(address)")
        } catch {
            #expect("\(error)".contains("'sip.dialOut' gives lang-cong the address '\(address)': \(fault)"), "\(error)")
        }
    }

    @Test func aRingTimeOutsideOneToThreeHundredSecondsIsRefused() throws {
        #expect(throws: SettingsError.self) { try load(#"{"dialOutRingSeconds": 0}"#) }
        #expect(throws: SettingsError.self) { try load(#"{"dialOut": {"lang-cong": 5}}"#) }
    }
}
