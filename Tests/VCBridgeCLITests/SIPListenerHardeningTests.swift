#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Foundation
import SIP
import Synchronization
import Testing
import Transport
@testable import VCBridgeCLI

/// A hostile UDP client at its own loopback address: sends what it is given, counts every byte the bridge sends back.
final class CountingDatagrams: @unchecked Sendable {
    let socket: UDPSocket
    private let batch = DatagramBatch(capacity: 16, slotSize: 65_536)
    private let counts = Mutex((sent: 0, received: 0))

    init(from source: String) throws { socket = try UDPSocket(bindTo: SocketAddress(ip: source, port: 0)) }
    deinit { socket.close() }

    func send(_ bytes: [UInt8], to bridge: SocketAddress) {
        if (try? socket.send(bytes, to: bridge)) != nil { counts.withLock { $0.sent += bytes.count } }
    }

    /// Reads (and counts) whatever has come, without waiting.
    func drain() {
        while (try? socket.waitReadable(timeoutMilliseconds: 0)) == true {
            guard let n = try? socket.receive(into: batch), n > 0 else { return }
            let bytes = (0..<n).reduce(0) { $0 + batch.datagram($1).count }
            counts.withLock { $0.received += bytes }
        }
    }

    var sent: Int { counts.withLock { $0.sent } }
    var received: Int { counts.withLock { $0.received } }
}

/// A small INVITE (no SDP) with a junk digest answer, or none: what a flood costs its sender least.
func junkInvite(number: Int, source: String, port: UInt16, bridge: SocketAddress, transport: String, authorization: Bool) -> [UInt8] {
    var text = "INVITE sip:m@\(bridge) SIP/2.0\r\nVia: SIP/2.0/\(transport) \(source):\(port);branch=z9hG4bKj\(number)\r\n"
        + "From: <sip:u\(number)@x>;tag=\(number)\r\nTo: <sip:m@x>\r\nCall-ID: j\(number)\r\nCSeq: 1 INVITE\r\n"
        + "Contact: <sip:u@\(source):\(port)>\r\nMax-Forwards: 70\r\n"
    if authorization {
        text += "Authorization: Digest username=\"u\(number)\", realm=\"vcbridge\", nonce=\"junk\(number)\", uri=\"sip:m@\(bridge)\", response=\"00\"\r\n"
    }
    return Array((text + "Content-Length: 0\r\n\r\n").utf8)
}

/// How many of `descriptors` are connected (accepted by the bridge: a connection still being set up, or reset, has
/// no peer) and not closed by it.
func stillOpen(_ descriptors: [Int32]) -> Int {
    var open = 0
    for fd in descriptors {
        var address = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let connected = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getpeername(fd, $0, &length) }
        } == 0
        guard connected else { continue }
        var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var byte: UInt8 = 0
        if poll(&descriptor, 1, 0) > 0, recv(fd, &byte, 1, Int32(MSG_DONTWAIT) | Int32(MSG_PEEK)) <= 0 { continue }
        open += 1
    }
    return open
}

@Suite("SIP listener against patient attackers", .serialized)
struct SIPListenerHardeningTests {
    /// Every kind of patient attacker at once, each from its own loopback address (127.0.1.x; a crowd from
    /// 127.0.0.2-41), while a hall's baresip (127.0.0.1) calls over TCP and a native host is in the meeting: slow
    /// senders (a byte a second, before and after a first whole message), half-open and silent connections, a crowd
    /// of idle connections from 40 addresses that fills the table, INVITE floods with junk digest over UDP and TCP,
    /// an oversized message, TLS clients stalled mid handshake. None stays past its bound (10 s from accept, or from
    /// a message's first byte), nothing is admitted, no attacker's address gets more bytes than it sent, and the
    /// hall is in the meeting, heard and hearing.
    @Test func patientAttackersAreBoundedWhileAHallOverTCPGetsInAndIsHeard() throws {
        let bridge = try RunningBridge(sip: #"{"digestAlgorithms": ["MD5"], "tlsEnabled": true, "tlsPort": 0}"#)
        let sip = try #require(bridge.sip)
        let tls = try #require(bridge.sipTLS)
        let password = try sipPassword(bridge, "tam-son")
        var streams: [(name: String, stream: LoopbackStream)] = []
        func open(_ name: String, from source: String, to address: SocketAddress) throws -> LoopbackStream {
            let stream = try LoopbackStream(from: source, to: address)
            streams.append((name, stream))
            return stream
        }
        // Slow senders: one whole OPTIONS (padded, as a real ping is, so its answer fits what it sent), then the
        // next message a byte a second; and a byte a second from the first byte on.
        let padding = "User-Agent: " + String(repeating: "x", count: 400)
        var afterOne: [LoopbackStream] = []
        for i in 0..<4 {
            let stream = try open("slow-after-a-message", from: "127.0.1.2", to: sip)
            stream.send(Array(String(decoding: streamInvite(user: "x\(i)", source: "127.0.1.2", port: 5060, bridge: sip, sdp: "",
                                                            extra: [padding]), as: UTF8.self)
                .replacingOccurrences(of: "INVITE", with: "OPTIONS").utf8))
            #expect(stream.message(seconds: 5)?.statusCode == 200)
            afterOne.append(stream)
        }
        let fromTheStart = try (0..<4).map { _ in try open("slow-from-the-start", from: "127.0.1.3", to: sip) }
        let tlsDribble = try (0..<2).map { _ in try open("tls-byte-a-second", from: "127.0.1.4", to: tls) }
        let trickle = Array(String(decoding: streamInvite(user: "slow", source: "127.0.1.2", port: 5060, bridge: sip), as: UTF8.self).utf8)
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x01, 0x2C, 0x01, 0x00, 0x01, 0x28, 0x03, 0x03] + Array(repeating: 0x42, count: 200)
        let slowStreams = afterOne + fromTheStart
        let dribbled = Mutex(0)
        let dribbler = Repeater(every: 1, atMost: 40) {
            let index = dribbled.withLock { i -> Int in defer { i += 1 }; return i }
            for stream in slowStreams { stream.send([trickle[index % trickle.count]]) }
            for stream in tlsDribble { stream.send([clientHello[index % clientHello.count]]) }
        }
        defer { dribbler.stop() }
        // Half-open: the start of an INVITE, then the write side shut; silent: connected, nothing sent.
        for _ in 0..<3 {
            let stream = try open("half-open", from: "127.0.1.5", to: sip)
            stream.send(Array(streamInvite(user: "half", source: "127.0.1.5", port: 5060, bridge: sip).prefix(60)))
            shutdown(stream.fd, Int32(SHUT_WR))
        }
        for _ in 0..<5 { _ = try open("silent", from: "127.0.1.6", to: sip) }
        // Many connections from one address: at most 16 are kept, the rest refused.
        let many = try (0..<24).map { _ in try open("many-from-one", from: "127.0.1.7", to: sip) }
        // A TLS client that stops mid handshake (its ClientHello's record cut short).
        let stalledTLS = try open("tls-stalled", from: "127.0.1.8", to: tls)
        stalledTLS.send(Array(clientHello.prefix(40)))
        // An oversized message on a stream: headers past 64 KiB.
        let oversized = try open("oversized", from: "127.0.1.9", to: sip)
        oversized.send(Array(("OPTIONS sip:m@\(sip) SIP/2.0\r\n" + String(repeating: "X-Pad: " + String(repeating: "y", count: 1000) + "\r\n", count: 70)).utf8))
        // INVITE floods with junk digest: over UDP (and one without any, whose 401 the bridge would resend until an
        // ACK that never comes), and over TCP.
        let udpFlood = try CountingDatagrams(from: "127.0.1.10")
        let udpPort = udpFlood.socket.localAddress.port
        udpFlood.send(junkInvite(number: 0, source: "127.0.1.10", port: udpPort, bridge: sip, transport: "UDP", authorization: false), to: sip)
        let tcpFlood = try open("tcp-junk-digest", from: "127.0.1.11", to: sip)
        let flooded = Mutex(1)
        let flood = Repeater(every: 0.05, atMost: 20) {
            let number = flooded.withLock { n -> Int in defer { n += 1 }; return n }
            udpFlood.send(junkInvite(number: number, source: "127.0.1.10", port: udpPort, bridge: sip, transport: "UDP", authorization: true), to: sip)
            if number % 5 == 0 {
                tcpFlood.send(junkInvite(number: number, source: "127.0.1.11", port: 5060, bridge: sip, transport: "TCP", authorization: true))
            }
            udpFlood.drain()
        }
        defer { flood.stop() }
        // A crowd: 60 new idle connections a second from 40 addresses, each kept 20 s, far more than the bridge's
        // 256 connections: the table stays full of them.
        let crowd = Mutex<[(opened: Date, connections: HostileConnections)]>([])
        let crowdViolations = Mutex(0)
        let crowding = Repeater(every: 1, atMost: 40) {
            let batch = HostileConnections(60, port: sip.port, sources: 40)
            crowd.withLock { batches in
                batches.append((Date(), batch))
                while let first = batches.first, Date().timeIntervalSince(first.opened) > 20 {
                    // Still open after 20 s: past the 10 s bound, with room for a loaded machine.
                    crowdViolations.withLock { $0 += stillOpen(first.connections.descriptors) }
                    batches.removeFirst()
                }
            }
        }
        defer {
            crowding.stop()
            crowd.withLock { $0.removeAll() }
        }
        let attackStart = Date()
        Thread.sleep(forTimeInterval: 3)
        // The hall and the host, in the middle of it all.
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "24s", "--record", heard])
        let hostStarted = Date()
        let tone = try stereoToneFile(880, seconds: 30, into: bridge.dataDirectory)
        let baresip = try Baresip(dialing: sip, username: "tam-son", password: password, wav: tone, seconds: 20,
                                  in: bridge.dataDirectory, transport: "tcp")
        defer { baresip.kill() }
        #expect(try waitFor(18) { (try bridge.siteStatus("tam-son")?["packetsReceived"] as? Int ?? 0) > 50 },
                "\(bridge.logText.suffix(3000))\n\(baresip.output.suffix(3000))")
        let hallIn = Date().timeIntervalSince(hostStarted)
        // Nothing else admitted: the host and the hall only.
        let admitted = Set((try bridge.status()["sites"] as? [[String: Any]] ?? []).compactMap { $0["site"] as? String })
        #expect(admitted == ["song-lo", "tam-son"], "\(admitted)")
        // Bounds: every stream above closed within 10 s of its start (of its next message, for those that sent
        // one), with 5 s of room for load.
        let checkAt = attackStart.addingTimeInterval(15)
        if checkAt > Date() { Thread.sleep(until: checkAt) }
        var late: [String] = []
        for (name, stream) in streams where name != "tcp-junk-digest" && !stream.closedByPeer(within: 0.05) {
            late.append(name)
        }
        #expect(late.isEmpty, "still open 15 s or more after they started: \(late)")
        #expect(many.count == 24)
        baresip.finish(within: 25)  // it hangs up by itself (-t 20)
        flood.stop()
        crowding.stop()
        dribbler.stop()
        udpFlood.drain()
        Thread.sleep(forTimeInterval: 1)
        udpFlood.drain()
        #expect(crowdViolations.withLock { $0 } == 0, "crowd connections open past 20 s")
        // No UDP source without a call got more bytes than it sent (the flood's one INVITE without digest included:
        // its 401 is not resent beyond that), so a forged source cannot make the bridge a reflector. The streams
        // that sent no whole request got nothing back beyond what they sent either. (A TCP peer proved its address
        // in the handshake: the junk-digest stream gets its answers, one per request, never resent.)
        #expect(udpFlood.received <= udpFlood.sent, "UDP flood: sent \(udpFlood.sent), received \(udpFlood.received)")
        for (name, stream) in streams where name != "tcp-junk-digest" {
            _ = stream.closedByPeer(within: 0.05)
            #expect(stream.received <= stream.sent, "\(name): sent \(stream.sent), received \(stream.received)")
        }
        _ = tcpFlood.closedByPeer(within: 0.5)
        print("sip-hardening: udp flood sent \(udpFlood.sent) received \(udpFlood.received); tcp junk digest sent \(tcpFlood.sent) received \(tcpFlood.received); hall in after \(hallIn) s")
        #expect(tcpFlood.sent > 0 && udpFlood.sent > 10_000)
        _ = bridge.finish(host)
        let hostHeard = try WAVFile.read(heard)
        // What the host heard once the hall was in (its recording starts with the host's process).
        let from = min(Int((hallIn + 0.5) * 48_000), max(0, hostHeard.count - 48_000 * 3))
        #expect(hostHeard.count >= 48_000 * 8, "\(hostHeard.count) samples")
        #expect(Tone.dominant(among: [440, 880], in: hostHeard[from..<min(hostHeard.count, from + 48_000 * 3)])?.frequency == 880,
                "hall in after \(hallIn) s")
        let baresipHeard = try WAVFile.read(try baresip.decodedDump())
        #expect(Tone.dominant(among: [440, 880], in: baresipHeard[(48_000 * 2)..<(48_000 * 6)])?.frequency == 440)
        #expect(bridge.process.isRunning)
        #expect(bridge.stop() == 0)
    }
}
