import Foundation
import Testing

/// Runs the real `vcbridge` executable built next to the test bundle.
struct VCBridgeProcess {
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("vcbridge")
    }

    static func run(_ arguments: [String], environment: [String: String] = [:]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }
}

@Suite("vcbridge command line")
struct CommandLineTests {
    @Test func helpListsTheCommands() throws {
        let result = try VCBridgeProcess.run(["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE: vcbridge <command>"))
        #expect(result.stdout.contains("doctor"))
        #expect(try VCBridgeProcess.run([]).stdout == result.stdout)
    }

    @Test func doctorPassesEveryKnownAnswerCheck() throws {
        let result = try VCBridgeProcess.run(["doctor"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(!result.stdout.contains("FAIL"))
        #expect(result.stdout.contains("ok    HMAC-SHA-256"))
        #expect(result.stdout.contains("ok    SRTP aeadAES128GCM"))
        #expect(result.stdout.contains("ok    Opus 1 kHz tone round trip"))
    }

    @Test func unknownCommandIsAUsageError() throws {
        let result = try VCBridgeProcess.run(["bogus"])
        #expect(result.status == 64)
        #expect(result.stderr == "error: unknown command 'bogus'; run 'vcbridge --help' for the list\n")
    }

    @Test func extraArgumentIsAUsageErrorNamingIt() throws {
        let result = try VCBridgeProcess.run(["doctor", "--fast"])
        #expect(result.status == 64)
        #expect(result.stderr == "error: unexpected argument '--fast' (see 'vcbridge doctor --help')\n")
    }

    @Test func versionAndSubcommandHelp() throws {
        #expect(try VCBridgeProcess.run(["--version"]).stdout == "vcbridge 0.1.0\n")
        let help = try VCBridgeProcess.run(["doctor", "--help"])
        #expect(help.status == 0 && help.stdout.contains("USAGE: vcbridge doctor"))
    }
}
