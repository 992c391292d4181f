#if canImport(Glibc)
import Glibc
#endif
import Admission
import Foundation
import KeyDerivation
import Synchronization
import Testing
import Transport
@testable import VCBridgeCLI

/// Thousands of hostile connections held by a separate process (bash and its `/dev/tcp`), so that
/// this test process, which starts other processes, keeps few descriptors: `slow` connections get one
/// byte a second, `silent` ones nothing. Once a second it prints how many slow ones the bridge has
/// closed (`closed N`); after `seconds` it checks the silent ones (`silent-closed N`), then waits to be stopped.
/// (Bash's `read -t` cannot watch descriptors above 1023, so closing is detected by writing.)
final class HostileLoad: @unchecked Sendable {
    private let process = Process()
    private let output = LogBuffer()

    static let script = #"""
        trap '' PIPE
        ulimit -n "$(ulimit -Hn)"
        port=$1 slow=$2 silent=$3 seconds=$4
        slowfds=() silentfds=()
        dribble() { for fd in "${slowfds[@]}"; do printf ' ' >&"$fd" 2>/dev/null; done; }
        for ((i = 0; i < silent; i++)); do exec {fd}<>"/dev/tcp/127.0.0.1/$port" || break; silentfds+=("$fd"); done
        # The slow ones get a byte as soon as they are open, and every 100 connections meanwhile.
        for ((i = 0; i < slow; i++)); do
            exec {fd}<>"/dev/tcp/127.0.0.1/$port" || break
            slowfds+=("$fd")
            printf ' ' >&"$fd" 2>/dev/null
            ((i % 100 == 99)) && dribble
        done
        echo "opened ${#slowfds[@]} ${#silentfds[@]}"
        # A write to a connection the bridge closed succeeds once (and draws a reset), then fails.
        end=$((SECONDS + seconds))
        while ((SECONDS < end)); do
            closed=0
            for fd in "${slowfds[@]}"; do printf ' ' >&"$fd" 2>/dev/null || ((closed++)); done
            echo "closed $closed"
            sleep 1
        done
        for fd in "${silentfds[@]}"; do printf ' ' >&"$fd" 2>/dev/null; done
        sleep 0.5
        closed=0
        for fd in "${silentfds[@]}"; do printf ' ' >&"$fd" 2>/dev/null || ((closed++)); done
        echo "silent-closed $closed"
        exec sleep 60
        """#

    init(port: UInt16, slow: Int, silent: Int, seconds: Int) throws {
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", Self.script, "hostile-load", "\(port)", "\(slow)", "\(silent)", "\(seconds)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        let output = self.output
        pipe.fileHandleForReading.readabilityHandler = { output.append(String(decoding: $0.availableData, as: UTF8.self)) }
        try process.run()
    }

    var lastLine: String { output.text.split(separator: "\n").last.map(String.init) ?? "" }

    /// The first line starting with `prefix` printed within `seconds`.
    func waitForLine(prefix: String, seconds: Double) -> String? {
        var found: String? = nil
        _ = waitFor(seconds) {
            found = output.text.split(separator: "\n").first { $0.hasPrefix(prefix) }.map(String.init)
            return found != nil
        }
        return found
    }

    func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Raw TCP sockets to a loopback port, connected without waiting (non-blocking): an attacker's
/// connections that the test holds, feeds a byte at a time, or leaves silent.
final class HostileConnections: @unchecked Sendable {
    private(set) var descriptors: [Int32] = []

    /// Opens `count` connections to 127.0.0.1:`port` (fewer if this process runs out of descriptors),
    /// from `sources` loopback addresses in turn (127.0.0.2, 127.0.0.3, ...), as a crowd would.
    init(_ count: Int, port: UInt16, sources: Int = 1) {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        for _ in 0..<count {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { break }
            if sources > 1 {
                var source = sockaddr_in()
                source.sin_family = sa_family_t(AF_INET)
                source.sin_addr.s_addr = (UInt32(0x7F00_0002) + UInt32(descriptors.count % sources)).bigEndian
                _ = withUnsafePointer(to: &source) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
            }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            descriptors.append(fd)
        }
    }

    /// Sends one byte on every connection (errors ignored: the bridge may have closed some).
    func dribble(_ byte: UInt8) {
        var b = byte
        for fd in descriptors { _ = send(fd, &b, 1, Int32(MSG_NOSIGNAL)) }
    }

    /// How many of the connections the other end has closed (end of stream or reset seen, without waiting).
    var closedByPeer: Int {
        var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        guard poll(&fds, nfds_t(fds.count), 0) > 0 else { return 0 }
        var closed = 0
        var byte: UInt8 = 0
        for f in fds where f.revents != 0 {
            // Readable: end of stream (0), a reset (error) or, never here, data the bridge sent.
            if recv(f.fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK)) <= 0 { closed += 1 }
        }
        return closed
    }

    func closeAll() {
        for fd in descriptors { close(fd) }
        descriptors.removeAll()
    }

    deinit { closeAll() }
}

/// Runs `body` on its own thread every `interval` seconds until `stop` is set or `limit` seconds pass.
final class Repeater: @unchecked Sendable {
    private let stopped = Mutex(false)
    private let done = DispatchSemaphore(value: 0)

    init(every interval: Double, atMost limit: Double, _ body: @escaping @Sendable () -> Void) {
        let deadline = Date().addingTimeInterval(limit)
        Thread { [self] in
            while !stopped.withLock({ $0 }) && Date() < deadline {
                body()
                Thread.sleep(forTimeInterval: interval)
            }
            done.signal()
        }.start()
    }

    /// Stops the repetition and waits for it (again: returns at once).
    func stop() {
        let first = stopped.withLock { was -> Bool in defer { was = true }; return !was }
        if first { done.wait() }
    }
}

/// One raw HTTP request to `address`; the whole response, or "" if the connection closed without one.
func rawHTTP(_ request: [UInt8], to address: SocketAddress) throws -> String {
    let connection = try TCPConnection(connectingTo: address)
    try connection.send(request)
    connection.maximumLine = 1 << 20
    var response = ""
    while let line = try? connection.receiveLine(timeoutMilliseconds: 3000) { response += line + "\n" }
    return response
}

@Suite("Listeners that never die", .serialized)
struct ListenerHardeningTests {
    @Test func aMalformedQueryGetsA400AndTheBridgeKeepsServing() throws {
        let bridge = try RunningBridge(quality: #"{"httpEnabled": true, "httpPort": 0}"#)
        let line = try #require(waitFor(3) { bridge.logText.contains("event=http ") } ? bridge.logText.split(separator: "\n").first { $0.contains("event=http ") } : nil)
        let field = try #require(line.split(separator: " ").first { $0.hasPrefix("address=") })
        let http = try SocketAddress(parsing: String(field.dropFirst("address=".count)))
        let response = try rawHTTP(Array("GET /x?= HTTP/1.1\r\nHost: x\r\n\r\n".utf8), to: http)
        #expect(response.hasPrefix("HTTP/1.1 400 "), "\(response)")
        // Other hostile inputs: each gets an error status or a closed connection, never a crash.
        let hostile: [[UInt8]] = [
            Array("GET /x?&&=&a==b HTTP/1.1\r\n\r\n".utf8), Array("GET ? HTTP/1.1\r\n\r\n".utf8),
            Array("GET /metrics?%zz=%ff HTTP/1.1\r\n\r\n".utf8), Array("GET  HTTP/1.1\r\n\r\n".utf8),
            Array("\r\n\r\n".utf8), [0xFF, 0xFE, 0x00, 0x0A, 0x0A], Array("GET /\(String(repeating: "a", count: 20_000)) HTTP/1.1\r\n\r\n".utf8),
            Array("GET / HTTP/1.1\r\n".utf8) + Array(repeating: Array("X: y\r\n".utf8), count: 500).flatMap { $0 } + Array("\r\n".utf8),
        ]
        for request in hostile {
            let answer = try rawHTTP(request, to: http)
            #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 4"), "\(answer.prefix(80))")
        }
        #expect(bridge.process.isRunning)
        #expect(try rawHTTP(Array("GET /metrics HTTP/1.1\r\n\r\n".utf8), to: http).hasPrefix("HTTP/1.1 200 OK"))
        #expect(bridge.stop() == 0)
    }

    @Test func slowAndHalfOpenConnectionsNeitherStayNorKeepASiteOut() throws {
        let bridge = try RunningBridge()
        let load = try HostileLoad(port: bridge.signaling.port, slow: 2000, silent: 5000, seconds: 9)
        defer { load.stop() }
        let opened = try #require(load.waitForLine(prefix: "opened", seconds: 60))
        #expect(opened == "opened 2000 5000", "\(opened)")
        let started = Date()
        _ = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let joinSeconds = Date().timeIntervalSince(started)
        #expect(joinSeconds < 1, "the join took \(joinSeconds) s while 7,000 hostile connections were open")
        // No connection outlives the join deadline (5 s from accept), whatever it sends: the load
        // reports how many of its connections the bridge has closed, once a second.
        #expect(load.waitForLine(prefix: "closed 2000", seconds: 15) == "closed 2000", "\(load.lastLine)")
        #expect(load.waitForLine(prefix: "silent-closed", seconds: 15) == "silent-closed 5000", "\(load.lastLine)")
        load.stop()
        let again = Date()
        _ = try RawSite(try bridge.key("tam-son"), bridge: bridge)
        #expect(Date().timeIntervalSince(again) < 1)
        #expect(bridge.process.isRunning)
        #expect(bridge.stop() == 0)
    }

    @Test func aJoinThatHasItsChallengeSurvivesAFloodOverBothCaps() throws {
        // A long join deadline, so that only eviction, never the clock, can end the stalled join.
        let bridge = try RunningBridge(bridgeSettings: #""joinTimeoutMs": 30000"#)
        // A genuine site on a slow link: it has its challenge and its proof is on the way.
        let stalled = try StalledJoin(try bridge.key("lang-cong"), bridge: bridge)
        // The flood: 2,048 silent connections from 32 other addresses (64 each: the per-address cap,
        // 2,048 in all: twice the total cap), and 256 from the site's own address (four times the
        // per-address cap), all opened after the challenge, so every one of them is newer than it.
        let crowd = HostileConnections(2048, port: bridge.signaling.port, sources: 32)
        let neighbours = HostileConnections(256, port: bridge.signaling.port)
        defer {
            crowd.closeAll()
            neighbours.closeAll()
        }
        #expect(crowd.descriptors.count == 2048 && neighbours.descriptors.count == 256)
        // Both caps bite: the bridge closes at least what exceeds them.
        let overTotal = 2048 + 256 + 1 - 1024, overNeighbours = 256 + 1 - 64
        let bitten = waitFor(20) { crowd.closedByPeer + neighbours.closedByPeer >= overTotal && neighbours.closedByPeer >= overNeighbours }
        #expect(bitten, "closed: \(crowd.closedByPeer) of the crowd, \(neighbours.closedByPeer) of the neighbours")
        #expect(bridge.logText.contains("reason=over-capacity"), "\(bridge.logText.suffix(600))")
        // The proof arrives after the flood: the join is welcomed.
        let answer = try? stalled.finish()  // (on failure the bridge is still stopped below)
        #expect(answer?["type"] as? String == "welcome", "\(String(describing: answer))")
        // A site that connects during the flood gets in too (a silent connection makes room for it).
        #expect((try? RawSite(try bridge.key("tam-son"), bridge: bridge)) != nil)
        #expect(bridge.process.isRunning)
        #expect(bridge.stop() == 0)
    }

    @Test func aJoinThatDribblesIsCutAtItsDeadline() throws {
        let bridge = try RunningBridge()
        let connection = try TCPConnection(connectingTo: bridge.signaling)
        let opened = Date()
        // A byte every half second: a timeout that restarts with each byte would never end this.
        var closedAfter: Double? = nil
        while Date().timeIntervalSince(opened) < 9 {
            if (try? connection.send([UInt8(ascii: " ")])) == nil { closedAfter = Date().timeIntervalSince(opened); break }
            if (try? connection.receiveLine(timeoutMilliseconds: 500)) == nil, connection.peerClosed {
                closedAfter = Date().timeIntervalSince(opened)
                break
            }
        }
        let seconds = try #require(closedAfter, "the bridge kept a dribbling connection open for 9 s")
        #expect(seconds >= 4.5 && seconds < 8, "closed after \(seconds) s")
        #expect(bridge.stop() == 0)
    }

    @Test func aBridgeWithFewDescriptorsSurvivesRunningOut() throws {
        let bridge = try RunningBridge(descriptorLimit: 256)
        let slow = HostileConnections(300, port: bridge.signaling.port, sources: 100)
        let dribbler = Repeater(every: 0.5, atMost: 20) { slow.dribble(UInt8(ascii: " ")) }
        Thread.sleep(forTimeInterval: 2)
        #expect(bridge.process.isRunning)
        dribbler.stop()
        slow.closeAll()
        // Descriptors free again: a genuine site joins (retried for a few seconds while the bridge catches up).
        var joined = false
        let deadline = Date().addingTimeInterval(8)
        while !joined && Date() < deadline {
            joined = (try? RawSite(try bridge.key("lang-cong"), bridge: bridge)) != nil
        }
        #expect(joined, "no join after the slow connections closed: \(bridge.logText.suffix(600))")
        #expect(bridge.logText.contains("event=descriptors-exhausted"), "\(bridge.logText.suffix(600))")
        #expect(bridge.stop() == 0)
    }

    @Test func noInputTrapsTheJoinOrControlParsers() throws {
        let bridge = try RunningBridge()
        let joins: [[UInt8]] = [
            Array((String(repeating: "[", count: 4000) + "\n").utf8), Array((String(repeating: "{\"a\":", count: 600) + "\n").utf8),
            Array(#"{"type":"hello","version":1e400,"site":"lang-cong","nonce":"00"}"#.utf8) + [10],
            Array(#"{"type":"hello","version":"1","site":["lang-cong"],"nonce":7}"#.utf8) + [10],
            Array(#"{"type":"hello","version":1,"site":"lang-cong","nonce":"\#(String(repeating: "zz", count: 32))"}"#.utf8) + [10],
            [0xFF, 0xFE, 0x00, 0xC0, 0x80, 10], Array(repeating: UInt8(ascii: "x"), count: 70_000), [10, 10, 10],
        ]
        for bytes in joins {
            let c = try TCPConnection(connectingTo: bridge.signaling)
            try? c.send(bytes)
            _ = try? c.receiveLine(timeoutMilliseconds: 2000)
        }
        let controls = [String(repeating: "[", count: 16_000), #"{"command":"floor","meeting":1e400}"#, #"{"command":"end","site":null}"#,
                        #"{"command":"quality","site":123}"#, #"{"command":"floor","site":"nowhere"}"#, "\u{0}"]
        for request in controls {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array((bridge.dataDirectory + "/bridge.sock").utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: path)
                raw[path.count] = 0
            }
            _ = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            let c = TCPConnection(descriptor: fd, peer: nil)
            try? c.send(line: request)
            _ = try? c.receiveLine(timeoutMilliseconds: 3000)
        }
        #expect(bridge.process.isRunning)
        #expect(try bridge.status()["type"] as? String == "status")
        _ = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        #expect(bridge.stop() == 0)
    }

    @Test func silentControlClientsDoNotDelayStatus() throws {
        let bridge = try RunningBridge()
        var silent: [Int32] = []
        defer { for fd in silent { close(fd) } }
        for _ in 0..<20 {
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let path = Array((bridge.dataDirectory + "/bridge.sock").utf8)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: path)
                raw[path.count] = 0
            }
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            #expect(connected == 0)
            silent.append(fd)
        }
        let started = Date()
        let status = try bridge.status()
        #expect(status["type"] as? String == "status")
        #expect(Date().timeIntervalSince(started) < 1.5)
        #expect(bridge.stop() == 0)
    }

    @Test func aUserWithoutPermissionOnTheControlSocketIsToldSo() throws {
        let bridge = try RunningBridge()
        // The socket is owner-only: run `vcbridge status` as nobody (as root: setpriv; otherwise take
        // the permission away from the owner, whose own process then gets EACCES too).
        let result: (status: Int32, stdout: String, stderr: String)
        if getuid() == 0 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            p.arguments = ["--reuid=65534", "--regid=65534", "--clear-groups", VCBridgeProcess.executable.path, "status"]
            p.environment = ProcessInfo.processInfo.environment.merging(bridge.environment) { _, new in new }
            let err = Pipe()
            p.standardError = err
            p.standardOutput = FileHandle.nullDevice
            try p.run()
            let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            result = (p.terminationStatus, "", text)
        } else {
            chmod(bridge.dataDirectory + "/bridge.sock", 0)
            result = try bridge.cli(["status"])
            chmod(bridge.dataDirectory + "/bridge.sock", 0o600)
        }
        #expect(result.status != 0)
        #expect(result.stderr.contains("permission denied"), "\(result.stderr)")
        #expect(!result.stderr.contains("no bridge is running"), "\(result.stderr)")
        #expect(bridge.stop() == 0)
    }
}

@Suite("Revocation is final", .serialized)
struct RevocationRaceTests {
    @Test func aJoinStalledBeforeItsProofIsRefusedOnceTheKeyIsRevoked() throws {
        let bridge = try RunningBridge()
        let stalled = try StalledJoin(try bridge.key("lang-cong"), bridge: bridge)
        #expect(try bridge.cli(["site", "revoke", "lang-cong"]).status == 0)
        let answer = try stalled.finish()
        #expect(answer["type"] as? String == "refused", "\(answer)")
        #expect(answer["reason"] as? String == "authentication-failed")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try bridge.siteStatus("lang-cong") == nil)
        #expect(bridge.stop() == 0)
    }

    @Test func aJoinStalledBeforeItsProofIsRefusedOnceTheKeyIsRotated() throws {
        let bridge = try RunningBridge()
        let stalled = try StalledJoin(try bridge.key("lang-cong"), bridge: bridge)
        #expect(try bridge.provision("lang-cong").status == 0)  // a new generation
        let answer = try stalled.finish()
        #expect(answer["type"] as? String == "refused", "\(answer)")
        // The new key joins.
        _ = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        #expect(bridge.stop() == 0)
    }

    @Test func rotatingAKeyEndsTheOldGenerationsLiveSession() throws {
        let bridge = try RunningBridge()
        let site = try RawSite(try bridge.key("tam-son"), bridge: bridge)
        #expect(try bridge.provision("tam-son").status == 0)
        var ended: [String: Any]? = nil
        let deadline = Date().addingTimeInterval(5)
        while ended == nil && Date() < deadline {
            if let line = try site.connection.receiveLine(timeoutMilliseconds: 500), let m = JoinProtocol.decode(line),
               m["type"] as? String == "ended" { ended = m }
            if site.connection.peerClosed { break }
        }
        #expect(["key-rotated", "revoked"].contains(ended?["reason"] as? String ?? ""), "\(String(describing: ended))")
        #expect(bridge.stop() == 0)
    }
}

@Suite("Admitted sessions")
struct AdmittedSessionTests {
    /// User plus system CPU time of a process, in seconds (/proc/PID/stat, clock ticks of 1/100 s).
    func cpuSeconds(_ pid: Int32) throws -> Double {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: stat.lastIndex(of: ")")!)...].split(separator: " ")
        return (Double(fields[11])! + Double(fields[12])!) / 100
    }

    @Test func aSiteThatSendsALineOverTheLimitIsEndedAndCostsNothingAfter() throws {
        let bridge = try RunningBridge()
        let site = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        try socket.send(try site.nextPacket(), to: site.mediaAddress)
        #expect(try waitFor(10) { try bridge.siteStatus("lang-cong") != nil })
        try site.connection.send([UInt8](repeating: UInt8(ascii: "x"), count: 10_000))  // no newline, ever
        #expect(try waitFor(10) { try bridge.siteStatus("lang-cong") == nil }, "the session was not ended")
        let before = try cpuSeconds(bridge.process.processIdentifier)
        Thread.sleep(forTimeInterval: 3)
        let used = try cpuSeconds(bridge.process.processIdentifier) - before
        #expect(used < 1.5, "the bridge used \(used) s of CPU in 3 s after the session ended (a thread spinning uses about 3)")
        #expect(bridge.stop() == 0)
    }
}
