import Foundation
import Testing
import Transport
@testable import DTLS

/// OpenSSL's command-line tool, the third-party DTLS peer of these tests.
enum OpenSSL {
    /// The `openssl` executable on PATH (or /usr/bin), or nil.
    static let path: String? = {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map(String.init)
        for directory in directories + ["/usr/bin", "/usr/local/bin"] {
            let candidate = directory + "/openssl"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }()

    /// The path, or a recorded test failure saying clearly what is missing.
    static func required(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        guard let path else {
            let message: String =
                "openssl is not installed: these tests use OpenSSL's DTLS client as the peer. Install it with "
                + "`sudo apt-get install openssl` (Scripts/test.sh does)."
            Issue.record(Comment(rawValue: message), sourceLocation: sourceLocation)
            return nil
        }
        return path
    }

    /// Runs openssl to completion; returns its exit status and standard output.
    @discardableResult
    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path!)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// A scratch directory removed when the value goes away.
final class ScratchDirectory {
    let path: String
    init() throws {
        path = NSTemporaryDirectory() + "vcb-dtls-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// A P-256 certificate and PKCS#8 key made by `openssl req -x509`.
struct OpenSSLIdentity {
    let certificatePath: String
    let keyPath: String

    init(in directory: ScratchDirectory, name: String) throws {
        certificatePath = directory.path + "/\(name).crt"
        keyPath = directory.path + "/\(name).key"
        let (status, _) = try OpenSSL.run([
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-noenc", "-days", "2",
            "-subj", "/CN=\(name)", "-keyout", keyPath, "-out", certificatePath,
        ])
        guard status == 0 else { throw TestFailure("openssl req exited \(status)") }
    }

    /// The certificate's SHA-256 fingerprint as OpenSSL computes it, in SDP form.
    func fingerprintFromOpenSSL() throws -> String {
        let (_, output) = try OpenSSL.run(["x509", "-in", certificatePath, "-noout", "-fingerprint", "-sha256"])
        guard let equals = output.firstIndex(of: "=") else { throw TestFailure("no fingerprint in \(output)") }
        return "sha-256 " + output[output.index(after: equals)...].trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The certificate's fingerprint computed by this module from the PEM file.
    func fingerprint() throws -> DTLSFingerprint {
        let pem = try String(contentsOfFile: certificatePath, encoding: .utf8)
        return try DTLSFingerprint(certificateDER: PEM.firstBlock(labelled: "CERTIFICATE", in: pem))
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `openssl s_client -dtls1_2` connected to a loopback UDP socket that the test pumps into a ``DTLSSession``.
/// Its standard input is empty, so once the handshake is done it prints what it negotiated and closes
/// (close_notify).
final class OpenSSLClient {
    let process = Process()
    let outputPath: String
    private let input = Pipe()
    /// Kept alive with the client: its output file lives there.
    private let directory: ScratchDirectory

    init(
        port: UInt16, directory: ScratchDirectory, identity: OpenSSLIdentity?,
        profiles: String = "SRTP_AES128_CM_SHA1_80", exportLength: Int = 60, extraArguments: [String] = [],
        keepInputOpen: Bool = false
    ) throws {
        self.directory = directory
        outputPath = directory.path + "/s_client-\(UUID().uuidString).out"
        FileManager.default.createFile(atPath: outputPath, contents: nil)
        var arguments = [
            "s_client", "-dtls1_2", "-connect", "127.0.0.1:\(port)",
            "-use_srtp", profiles,
            "-keymatexport", "EXTRACTOR-dtls_srtp", "-keymatexportlen", "\(exportLength)",
        ]
        if let identity { arguments += ["-cert", identity.certificatePath, "-key", identity.keyPath] }
        arguments += extraArguments
        process.executableURL = URL(fileURLWithPath: OpenSSL.path!)
        process.arguments = arguments
        // An empty input makes s_client close (close_notify) right after the handshake; an open pipe keeps it up.
        process.standardInput = keepInputOpen ? input : FileHandle.nullDevice
        process.standardOutput = FileHandle(forWritingAtPath: outputPath)
        process.standardError = process.standardOutput
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
    }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// The exported keying material s_client printed (`Keying material: <hex>`).
    var exportedKeyingMaterial: [UInt8]? {
        guard let line = output.split(separator: "\n").first(where: { $0.contains("Keying material:") }),
              let hex = line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces)
        else { return nil }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) ?? hex.endIndex
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}

/// A loopback UDP socket carrying one peer's datagrams to and from a session.
final class DatagramPump {
    let socket: UDPSocket
    private let batch = DatagramBatch(capacity: 16, slotSize: 65536)
    private(set) var peer: SocketAddress?
    /// Time spent inside the session's calls (ns): the server's share of the handshake.
    private(set) var sessionNanoseconds: Int64 = 0
    private(set) var firstDatagramAt: Int64?
    private(set) var establishedAt: Int64?
    /// The keys, as soon as the session reported them.
    private(set) var keys: DTLSSRTPKeys?

    init() throws {
        socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
    }

    var port: UInt16 { socket.localAddress.port }

    /// The next datagram from the peer within `nanoseconds`, without a session (to capture a ClientHello).
    func receiveOne(within nanoseconds: Int64) throws -> [UInt8]? {
        let deadline = monotonicNanoseconds() + nanoseconds
        while monotonicNanoseconds() < deadline {
            guard try socket.waitReadable(nanoseconds: 20_000_000), try socket.receive(into: batch) > 0 else { continue }
            peer = batch.address(0)
            return Array(batch.datagram(0))
        }
        return nil
    }

    /// Carries datagrams between the socket and the session, and runs its timers on the real monotonic clock,
    /// until `done` says so or `limit` nanoseconds pass.
    func run(_ session: DTLSSession, limit: Int64 = 20_000_000_000, until done: () -> Bool) throws {
        let deadline = monotonicNanoseconds() + limit
        while !done() && monotonicNanoseconds() < deadline {
            if try socket.waitReadable(nanoseconds: 10_000_000) {
                let n = try socket.receive(into: batch)
                for i in 0..<n {
                    peer = batch.address(i)
                    let now = monotonicNanoseconds()
                    if firstDatagramAt == nil { firstDatagramAt = now }
                    session.receive(UnsafeRawBufferPointer(batch.datagram(i)), now: now)
                    sessionNanoseconds += monotonicNanoseconds() - now
                }
            }
            let now = monotonicNanoseconds()
            if let due = session.nextTimeout, now >= due {
                session.handleTimeout(now: now)
                sessionNanoseconds += monotonicNanoseconds() - now
            }
            if keys == nil, let established = session.keys {
                keys = established
                establishedAt = monotonicNanoseconds()
            }
            try flush(session)
        }
    }

    func flush(_ session: DTLSSession) throws {
        for datagram in session.takeOutgoing() {
            guard let peer else { continue }
            try socket.send(datagram, to: peer)
        }
    }
}
