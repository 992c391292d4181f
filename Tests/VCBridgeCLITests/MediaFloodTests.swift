#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
import Transport
@testable import VCBridgeCLI

/// A CPU control group with a quota: processes started in it (``RunningBridge``'s `cpuQuota`) get at most
/// `percent` % of one core between them, however idle the machine is; within that, they come first (ten times
/// the default weight), as a media server's thread would against builds on the same machine. cgroup v2's `cpu.max` where the cpu
/// controller is on the unified hierarchy, else cgroup v1's `cpu.cfs_quota_us`; nil without either (or
/// without the permission to make a group). The group is removed when this is released.
final class CPUQuota: @unchecked Sendable {
    let directory: String
    var processesFile: String { directory + "/cgroup.procs" }
    /// The command that starts a process in the group without CAP_SYS_NICE (so, as for a service's own user, no
    /// real-time scheduling and no nice value below 0), with `setpriv`; nil where there is no setpriv.
    static let withoutNicePrivilege: [String]? = FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")
        ? ["/usr/bin/setpriv", "--inh-caps=-sys_nice", "--bounding-set=-sys_nice"] : nil

    init?(percent: Int, periodMicroseconds: Int = 10_000) {
        let name = "vcb-test-\(getpid())-\(UUID().uuidString.prefix(8))"
        let quota = periodMicroseconds * percent / 100
        let v2 = "/sys/fs/cgroup"
        let controllers = (try? String(contentsOfFile: v2 + "/cgroup.controllers", encoding: .utf8)) ?? ""
        let candidates: [(String, [(String, String)])] = controllers.split(separator: " ").contains("cpu")
            ? [(v2 + "/" + name, [("cpu.max", "\(quota) \(periodMicroseconds)"), ("cpu.weight", "1000")])]
            : [("/sys/fs/cgroup/cpu/" + name, [("cpu.cfs_period_us", "\(periodMicroseconds)"), ("cpu.cfs_quota_us", "\(quota)"),
                                               ("cpu.shares", "10240")])]
        for (path, settings) in candidates {
            guard mkdir(path, 0o755) == 0 else { continue }
            let written = settings.allSatisfy { (file, value) in
                (try? value.write(toFile: path + "/" + file, atomically: false, encoding: .utf8)) != nil
            }
            guard written else {
                rmdir(path)
                continue
            }
            directory = path
            return
        }
        return nil
    }

    /// How often and for how long in all the group was held back by its quota (v1 and v2 both say so in cpu.stat).
    var throttled: (periods: Int, microseconds: Int) {
        let text = (try? String(contentsOfFile: directory + "/cpu.stat", encoding: .utf8)) ?? ""
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2, let value = Int(parts[1]) { fields[String(parts[0])] = value }
        }
        return (fields["nr_throttled"] ?? -1, fields["throttled_usec"] ?? (fields["throttled_time"].map { $0 / 1000 } ?? -1))
    }

    deinit {
        // Empty once its processes have exited (the bridge is stopped first).
        for _ in 0..<50 where rmdir(directory) != 0 { usleep(100_000) }
    }
}

/// Junk at a UDP port as fast as one thread can send it (RTP-looking datagrams with random SSRCs), for
/// `seconds` at most, from a thread of its own; counts what it sent.
final class DatagramFlood: @unchecked Sendable {
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    let sent = Atomic<Int>(0)

    /// - Parameter template: each datagram's bytes (a forged SIP request); nil: RTP-looking junk of `size` bytes.
    init(to target: SocketAddress, size: Int = 200, template: [UInt8]? = nil, seconds: Double) throws {
        // (Used only by the thread below once made.)
        nonisolated(unsafe) let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let size = template?.count ?? size
        nonisolated(unsafe) let batch = DatagramBatch(capacity: 64, slotSize: size)
        var random = SystemRandomNumberGenerator()
        for i in 0..<64 {
            let slot = batch.slot(i)
            if let template {
                for j in 0..<size { slot[j] = template[j] }
            } else {
                for j in 0..<size { slot[j] = UInt8.random(in: 0...255, using: &random) }
                slot[0] = 0x80  // RTP version 2: each is classified and its SSRC looked up
                slot[1] = 111
            }
            batch.prepare(i, length: size, to: target)
        }
        batch.count = 64
        let deadline = Date().addingTimeInterval(seconds)
        Thread { [self] in
            var n = 0
            while !stopped.withLock({ $0 }) && Date() < deadline {
                for _ in 0..<16 { n += (try? socket.send(batch)) ?? 0 }
                sent.store(n, ordering: .relaxed)
            }
            finished.signal()
        }.start()
    }

    func stop() {
        let first = stopped.withLock { was -> Bool in defer { was = true }; return !was }
        if first { finished.wait() }
    }
}

/// Connections at a TCP listener (or requests at the control socket), one after another from each of `threads`
/// threads for `seconds` at most: each connection sends one of `requests` (in turn) and reads until the bridge
/// closes it (at most 1 s), then resets. Counts the exchanges.
final class ConnectionFlood: @unchecked Sendable {
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private let threads: Int
    let exchanges = Atomic<Int>(0)

    init(to target: SocketAddress, requests: [[UInt8]], threads: Int = 1, seconds: Double) {
        self.threads = threads
        start(threads: threads, seconds: seconds) { i in
            guard let connection = try? TCPConnection(connectingTo: target, timeoutMilliseconds: 1000) else { return }
            try? connection.send(requests[i % requests.count])
            var lines = 0
            while lines < 64, (try? connection.receiveLine(timeoutMilliseconds: 1000)) != nil { lines += 1 }
            connection.reset()
        }
    }

    /// Requests at the bridge's control socket (that of `dataDirectory`), in turn.
    init(control dataDirectory: String, requests: [[String: Any]], threads: Int = 1, seconds: Double) {
        self.threads = threads
        nonisolated(unsafe) let requests = requests
        start(threads: threads, seconds: seconds) { i in _ = try? controlRequest(dataDirectory, requests[i % requests.count]) }
    }

    private func start(threads: Int, seconds: Double, _ exchange: @escaping @Sendable (Int) -> Void) {
        let deadline = Date().addingTimeInterval(seconds)
        for _ in 0..<threads {
            Thread { [self] in
                var i = 0
                while !stopped.withLock({ $0 }) && Date() < deadline {
                    exchange(i)
                    i += 1
                    exchanges.add(1, ordering: .relaxed)
                }
                finished.signal()
            }.start()
        }
    }

    func stop() {
        let first = stopped.withLock { was -> Bool in defer { was = true }; return !was }
        if first { for _ in 0..<threads { finished.wait() } }
    }
}

/// A site that keeps its address latched (one audio packet every 20 ms) and counts the bridge's audio
/// packets that reach it, by the time they came (seconds since it started).
final class CountingSite: @unchecked Sendable {
    private let stopped = Mutex(false)
    private let finished = DispatchSemaphore(value: 0)
    private let arrivals = Mutex<[Double]>([])

    init(_ site: RawSite, seconds: Double) throws {
        nonisolated(unsafe) let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let started = Date()
        nonisolated(unsafe) let site = site
        Thread { [self] in
            let batch = DatagramBatch(capacity: 64, slotSize: 1600)
            var nextSend = Date()
            while !stopped.withLock({ $0 }) && Date().timeIntervalSince(started) < seconds {
                if Date() >= nextSend {
                    if let packet = try? site.nextPacket() { try? socket.send(packet, to: site.mediaAddress) }
                    nextSend += 0.02
                }
                guard (try? socket.waitReadable(timeoutMilliseconds: 5)) == true else { continue }
                let count = (try? socket.receive(into: batch)) ?? 0
                let at = Date().timeIntervalSince(started)
                var audio = 0
                for i in 0..<count {
                    let datagram = batch.datagram(i)
                    if datagram.count > 12, datagram[1] < 200 || datagram[1] > 206 { audio += 1 }
                }
                if audio > 0 { arrivals.withLock { $0 += [Double](repeating: at, count: audio) } }
            }
            finished.signal()
        }.start()
    }

    /// Audio packets that came between `from` and `to` seconds after the site started.
    func received(from: Double, to: Double) -> Int { arrivals.withLock { $0.filter { $0 >= from && $0 < to }.count } }

    func stop() {
        let first = stopped.withLock { was -> Bool in defer { was = true }; return !was }
        if first { finished.wait() }
    }
}

@Suite("A media flood the bridge cannot drain", .serialized)
struct MediaFloodTests {
    /// The bridge gets 35 % of one core (a CPU quota for its whole process: the media thread cannot have
    /// SCHED_FIFO there), and one thread sends it RTP-looking junk as fast as it can for 11 s, more than the
    /// bridge can read in that share. Reading is bounded per 20 ms tick, so the mix still runs on time: each
    /// site gets its 50 packets a second, no tick is lost (late by a whole tick), and what the
    /// bridge left in the socket (dropped by the kernel when its buffer filled) is counted in `status`.
    @Test(.enabled(if: CPUQuota(percent: 35) != nil && CPUQuota.withoutNicePrivilege != nil,
                   "needs a CPU control group (cgroup v1 or v2 cpu controller) it may create, and setpriv"))
    func theMixRunsOnTimeWhileAFloodOutrunsTheBridge() throws {
        let quota = try #require(CPUQuota(percent: 35))
        let bridge = try RunningBridge(cpuQuota: quota, launcher: CPUQuota.withoutNicePrivilege ?? [])
        #expect(waitFor(3) { bridge.logText.contains("normal (no permission for real-time)") },
                "the media thread must run under the quota: \(bridge.logText.prefix(600))")
        let sites = try ["lang-cong", "tam-son"].map { try CountingSite(try RawSite(try bridge.key($0), bridge: bridge), seconds: 20) }
        defer { for site in sites { site.stop() } }
        let siteStart = Date()
        // Both latched and served before the flood.
        #expect(waitFor(5) { sites.allSatisfy { $0.received(from: 0, to: 100) > 10 } })
        Thread.sleep(forTimeInterval: 1.5)  // the media thread publishes its figures once a second
        let before = try bridge.status()
        let floodStart = Date().timeIntervalSince(siteStart)
        let flood = try DatagramFlood(to: bridge.media, seconds: 11)
        defer { flood.stop() }
        Thread.sleep(forTimeInterval: 10.5)
        let during = try bridge.status()
        flood.stop()
        let floodSeconds = Date().timeIntervalSince(siteStart) - floodStart
        let sent = flood.sent.load(ordering: .relaxed)
        // The sites' 5 s from 4 s into the flood (a second's margin either side of the status reading).
        let window = (from: floodStart + 4, to: floodStart + 9)
        let counts = sites.map { $0.received(from: window.from, to: window.to) }
        let throttled = quota.throttled
        let report = "flood \(sent) datagrams in \(String(format: "%.1f", floodSeconds)) s; sites got \(counts) packets in 5 s; ticks \(before["ticks"] ?? "-") -> \(during["ticks"] ?? "-"); tickLateP99RecentUs \(during["tickLateP99RecentUs"] ?? "-"); left \(during["receiveBudgetExhausted"] ?? "-") times, kernel dropped \(during["receiveDroppedByKernel"] ?? "-"); quota throttled \(throttled)"
        for count in counts { #expect(count >= 240, "\(report)") }  // 250 in 5 s; a few may be lost to the kernel's queue on loopback
        let ticks = (during["ticks"] as? Int ?? 0) - (before["ticks"] as? Int ?? 0)
        #expect(Double(ticks) >= 49 * 10, "\(report)")
        // Over the last 10 s (all of it flood): a tick late by 20 ms would be a lost one. (Unbounded, the tick did not
        // run at all: the sites got nothing.) The quota's own pauses (whole 10 ms periods) and the debug build's
        // cost show here; the release bridge in Scripts/hostile.sh shows the figure without them.
        let late = try #require(during["tickLateP99RecentUs"] as? Int, "\(report)")
        #expect(late < 20_000, "\(report)")
        // The flood outran the bridge: it stopped reading with datagrams waiting, and the kernel dropped some.
        #expect((during["receiveBudgetExhausted"] as? Int ?? 0) > 100, "\(report)")
        #expect((during["receiveDroppedByKernel"] as? Int ?? 0) > 0, "\(report)")
        #expect(sent > 200_000, "\(report)")
        print("media flood: \(report)")
        for site in sites { site.stop() }
        #expect(bridge.process.isRunning)
        #expect(bridge.stop() == 0)
    }

    /// The whole bridge process under a CPU quota of 35 % of one core (as a service under systemd's CPUQuota=),
    /// and every listener attacked at once for 12 s: RTP-looking junk at the media port as fast as a thread sends
    /// it, forged joins (a real site's hello with a wrong proof, an unknown site, garbage) from two threads, forged
    /// INVITEs at the SIP UDP port as fast as a thread sends them, requests at SIP TCP and HTTP, and status requests
    /// at the control socket. The threads that read from outside are always runnable and draw on the one budget
    /// with the media thread. The bridge has CAP_SYS_NICE, as the installed service does, but the cgroup gives
    /// real-time threads no time (cgroup v1's cpu.rt_runtime_us is 0 in a new group), so SCHED_FIFO is refused:
    /// the media thread takes nice -10 and every other thread runs at nice 10 (ThreadPriority), and every site
    /// still gets its audio, at least 49.5 packets a second over 8 s of the attack. (Before, with every thread at
    /// nice 0, the media thread got about its fair share of the budget: sites got 258 of 400 packets.)
    @Test(.enabled(if: CPUQuota(percent: 35) != nil, "needs a CPU control group (cgroup v1 or v2 cpu controller) it may create"))
    func everySiteKeepsItsAudioWhileEveryListenerIsAttackedUnderAQuotaForTheWholeProcess() throws {
        let quota = try #require(CPUQuota(percent: 35))
        let bridge = try RunningBridge(quality: #"{"httpEnabled": true, "httpPort": 0}"#, sip: #"{"enabled": true}"#, cpuQuota: quota)
        #expect(waitFor(3) { bridge.logText.contains("no permission for real-time") },
                "the media thread must run under the quota (not real-time): \(bridge.logText.prefix(600))")
        #expect(waitFor(5) { bridge.logText.contains("event=http ") })
        let httpLine = try #require(bridge.logText.split(separator: "\n").first { $0.contains("event=http ") })
        let httpText = try #require(httpLine.split(separator: " ").first { $0.hasPrefix("address=") }).dropFirst("address=".count)
        let http = try SocketAddress(parsing: String(httpText).trimmingCharacters(in: CharacterSet(charactersIn: "\"")))
        let sip = try #require(bridge.sip)
        let sites = try ["lang-cong", "tam-son"].map { try CountingSite(try RawSite(try bridge.key($0), bridge: bridge), seconds: 25) }
        defer { for site in sites { site.stop() } }
        let siteStart = Date()
        #expect(waitFor(5) { sites.allSatisfy { $0.received(from: 0, to: 100) > 10 } })
        Thread.sleep(forTimeInterval: 1.5)
        let before = try bridge.status()

        let floodStart = Date().timeIntervalSince(siteStart)
        let nonce = String(repeating: "ab", count: 32)
        let joins: [[UInt8]] = [
            Array((#"{"type":"hello","version":1,"site":"lang-cong","nonce":"\#(nonce)"}"# + "\n"
                   + #"{"type":"proof","proof":"\#(String(repeating: "00", count: 32))"}"# + "\n").utf8),
            Array((#"{"type":"hello","version":1,"site":"forged-site","nonce":"\#(nonce)"}"# + "\n").utf8),
            Array("\u{01}\u{02}{{{[[[garbage\n".utf8),
        ]
        let invite = Array(("INVITE sip:meeting@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5999;branch=z9hG4bKforged;rport\r\n"
            + "Max-Forwards: 70\r\nFrom: <sip:lang-cong@127.0.0.1>;tag=1\r\nTo: <sip:meeting@127.0.0.1>\r\nCall-ID: forged@attacker\r\n"
            + "CSeq: 1 INVITE\r\nContact: <sip:lang-cong@127.0.0.1:5999>\r\nContent-Length: 0\r\n\r\n").utf8)
        let attacks = (
            media: try DatagramFlood(to: bridge.media, seconds: 12),
            sipUDP: try DatagramFlood(to: sip, template: invite, seconds: 12),
            joins: ConnectionFlood(to: bridge.signaling, requests: joins, threads: 2, seconds: 12),
            sipTCP: ConnectionFlood(to: sip, requests: [Array(invite.map { $0 }), Array("\u{FF}junk\r\n\r\n".utf8)], seconds: 12),
            http: ConnectionFlood(to: http, requests: [Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8),
                                                       Array("POST /webrtc/join HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n{{{".utf8)], seconds: 12),
            control: ConnectionFlood(control: bridge.dataDirectory, requests: [["command": "status"], ["command": "no-such-command"]], seconds: 12))
        defer {
            attacks.media.stop(); attacks.sipUDP.stop(); attacks.joins.stop(); attacks.sipTCP.stop(); attacks.http.stop(); attacks.control.stop()
        }
        Thread.sleep(forTimeInterval: 11)
        let during = try bridge.status()
        attacks.media.stop(); attacks.sipUDP.stop(); attacks.joins.stop(); attacks.sipTCP.stop(); attacks.http.stop(); attacks.control.stop()
        // The sites' 8 s from 2 s into the attack (a second's margin before the status reading).
        let counts = sites.map { $0.received(from: floodStart + 2, to: floodStart + 10) }
        let throttled = quota.throttled
        let report = "sites got \(counts) packets in 8 s; media junk \(attacks.media.sent.load(ordering: .relaxed)), SIP UDP \(attacks.sipUDP.sent.load(ordering: .relaxed)) datagrams; joins \(attacks.joins.exchanges.load(ordering: .relaxed)), SIP TCP \(attacks.sipTCP.exchanges.load(ordering: .relaxed)), HTTP \(attacks.http.exchanges.load(ordering: .relaxed)), control \(attacks.control.exchanges.load(ordering: .relaxed)) exchanges; ticks \(before["ticks"] ?? "-") -> \(during["ticks"] ?? "-"); tickLateP99RecentUs \(during["tickLateP99RecentUs"] ?? "-"); quota throttled \(throttled)"
        print("every listener attacked under a quota: \(report)")
        for count in counts { #expect(Double(count) >= 49.5 * 8, "\(report)") }
        // The attack was real: the quota held the bridge back, and each listener was reached.
        #expect(throttled.periods > 100, "\(report)")
        #expect(attacks.joins.exchanges.load(ordering: .relaxed) > 200, "\(report)")
        #expect(attacks.http.exchanges.load(ordering: .relaxed) > 10, "\(report)")
        #expect(attacks.control.exchanges.load(ordering: .relaxed) > 10, "\(report)")
        #expect(attacks.media.sent.load(ordering: .relaxed) > 100_000, "\(report)")
        // Nothing from the attackers got in.
        #expect(Set((during["sites"] as? [[String: Any]] ?? []).compactMap { $0["site"] as? String }).isSubset(of: ["song-lo", "lang-cong", "tam-son"]))
        for site in sites { site.stop() }
        #expect(bridge.process.isRunning)
        #expect(bridge.stop() == 0)
    }
}
