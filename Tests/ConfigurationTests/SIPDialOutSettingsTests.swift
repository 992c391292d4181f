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
        ("sips:room@192.0.2.10", "TLS dial-out needs 'sip.dialOutTLSFingerprints' or 'sip.dialOutTLSCAFile' to check the far end's certificate"),
        ("sip:room@192.0.2.10;transport=tls", "TLS dial-out needs 'sip.dialOutTLSFingerprints' or 'sip.dialOutTLSCAFile' to check the far end's certificate"),
        ("sip:room@hall_01!.example.vn", "its host must be a numeric address or a host name (letters, digits, '-', '.')"),
        ("sip:room@-hall.example.vn", "its host must be a numeric address or a host name (letters, digits, '-', '.')"),
        ("sip:room@192.0.2.10:0", "its port must be 1-65535"),
        ("sip:room@192.0.2.10:99999", "its port must be 1-65535"),
        ("sip:room@192.0.2.10;transport=sctp", "transport=sctp is not supported for dial-out (udp, tcp or tls)"),
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

    @Test func aHallNamedByItsHostNameOrReachedOverTCPIsKept() throws {
        let s = try load(#"{"dialOut": {"lang-cong": "sip:room@hall.lang-cong.example.vn:5070;transport=tcp", "tam-son": "sip:localhost;transport=TCP"}}"#)
        #expect(s.sipDialOut["lang-cong"] == "sip:room@hall.lang-cong.example.vn:5070;transport=tcp")
        #expect(s.sipDialOut["tam-son"] == "sip:localhost;transport=TCP")
    }

    @Test func tlsDialOutTakesPinnedFingerprintsOrACAFileAndNamesABadFingerprint() throws {
        let bytes: [UInt8] = (0..<32).map { (i: Int) -> UInt8 in UInt8(i * 7 % 256) }
        let pin = bytes.map { String(format: "%02X", $0) }.joined(separator: ":")
        let s = try load(#"{"dialOut": {"lang-cong": "sips:room@hall.example.vn"}, "dialOutTLSFingerprints": ["sha-256 \#(pin)"]}"#)
        let expected: [[UInt8]] = [bytes]
        #expect(s.sipDialOutTLSFingerprints == expected)
        #expect(try load(#"{"dialOut": {"lang-cong": "sip:room@192.0.2.10;transport=tls"}, "dialOutTLSCAFile": "/etc/ssl/hall-ca.pem"}"#)
            .sipDialOutTLSCAFile == "/etc/ssl/hall-ca.pem")
        do {
            _ = try load(#"{"dialOutTLSFingerprints": ["AB:CD"]}"#)
            Issue.record("a short fingerprint was accepted")
        } catch {
            #expect("\(error)".contains("'sip.dialOutTLSFingerprints' has 'AB:CD', not a SHA-256 fingerprint (32 hex pairs)"), "\(error)")
        }
    }

    @Test func aRingTimeOutsideOneToThreeHundredSecondsIsRefused() throws {
        #expect(throws: SettingsError.self) { try load(#"{"dialOutRingSeconds": 0}"#) }
        #expect(throws: SettingsError.self) { try load(#"{"dialOut": {"lang-cong": 5}}"#) }
    }
}
