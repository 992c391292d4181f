import Admission
import AudioSignal
import Foundation
import KeyDerivation
import RTP
import SRTP
import Testing
import Transport
@testable import VCBridgeCLI

@Suite("Audio bridge", .serialized)
struct BridgeTests {
    @Test func threeSitesHearEachOtherAndNotThemselves() throws {
        let bridge = try RunningBridge()
        let tones: [(String, Double)] = [("song-lo", 440), ("lang-cong", 660), ("tam-son", 880)]
        let runs = try tones.map { site, hz in
            try bridge.endpoint(site, ["--tone", "\(Int(hz))", "--duration", "5s", "--record", bridge.dataDirectory + "/\(site).wav"])
        }
        for (i, run) in runs.enumerated() {
            let result = bridge.finish(run)
            #expect(result.status == 0, "\(tones[i].0): \(result.output)")
            #expect(result.output.contains("ended by duration"))
        }
        for (site, own) in tones {
            let heard = try WAVFile.read(bridge.dataDirectory + "/\(site).wav")
            #expect(heard.count > 48_000 * 4)
            let tail = heard.suffix(48_000 * 2)
            let power = tones.map { Tone.power(of: $0.1, in: tail) }
            let strongest = power.max()!
            for (i, (_, hz)) in tones.enumerated() {
                if hz == own {
                    #expect(power[i] < strongest / 1000, "\(site) hears itself")
                } else {
                    #expect(power[i] > strongest / 10, "\(site) does not hear \(Int(hz)) Hz")
                }
            }
        }
        #expect(bridge.stop() == 0)
        #expect(waitFor(10) { bridge.logText.contains("event=stopped") })
    }

    /// With `bridge.timeStretch` on, talkers' speech is also stretched to follow the target: the
    /// tones still arrive, each where it should, and the bridge shows the stretching it did.
    @Test(arguments: [false, true])
    func threeSitesStillHearEachOtherThroughLossAndJitter(timeStretch: Bool) throws {
        let bridge = try RunningBridge(bridgeSettings: "\"timeStretch\": \(timeStretch)")
        // 5 % loss and 40 ms of jitter (normal delay, mean 40 ms, sd 40 ms: many packets overtake others), and
        // 5 % of packets twice, both ways.
        let relay = Process()
        relay.executableURL = VCBridgeProcess.executable
        relay.arguments = ["relay", "--listen", "127.0.0.1:0", "--to", bridge.media.description, "--seed", "42",
                           "--loss", "5", "--delay", "40", "--jitter", "40", "--duplicate", "5", "--duration", "12s"]
        let relayOut = Pipe()
        let relayErr = Pipe()
        relay.standardOutput = relayOut
        relay.standardError = relayErr
        try relay.run()
        let banner = String(decoding: relayErr.fileHandleForReading.availableData, as: UTF8.self)
        let listen = try #require(banner.split(separator: " ").first { $0.hasPrefix("127.0.0.1:") }).trimmingCharacters(in: .punctuationCharacters.subtracting(.init(charactersIn: ":.")))
        let tones: [(String, Double)] = [("song-lo", 440), ("lang-cong", 660), ("tam-son", 880)]
        let runs = try tones.map { site, hz in
            try bridge.endpoint(site, ["--tone", "\(Int(hz))", "--duration", "8s", "--media-via", String(listen),
                                       "--record", bridge.dataDirectory + "/\(site).wav", "--json"])
        }
        // Near the end of the run, what the bridge did to follow the jitter buffers' targets.
        Thread.sleep(forTimeInterval: 6.5)
        let sites = try #require(try bridge.status()["sites"] as? [[String: Any]])
        let stretched = sites.reduce(0) { $0 + ($1["removedSamplesForAcceleration"] as? Int ?? 0) + ($1["insertedSamplesForDeceleration"] as? Int ?? 0) }
        if timeStretch {
            #expect(stretched > 0, "\(sites)")
        } else {
            #expect(stretched == 0, "\(sites)")
        }
        var reports: [[String: String]] = []
        for run in runs {
            let result = bridge.finish(run)
            #expect(result.status == 0, "\(result.output)")
            reports.append(try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: String]))
        }
        relay.interrupt()
        relay.waitUntilExit()
        for (i, (site, own)) in tones.enumerated() {
            let heard = try WAVFile.read(bridge.dataDirectory + "/\(site).wav")
            let tail = heard.suffix(48_000 * 3)
            let power = tones.map { Tone.power(of: $0.1, in: tail) }
            let strongest = power.max()!
            for (j, (_, hz)) in tones.enumerated() {
                if hz == own {
                    #expect(power[j] < strongest / 300, "\(site) hears itself")
                } else {
                    // Heard: within 13 dB of the strongest (through loss and jitter one talker's frames may be
                    // concealed more than another's; a tone not mixed in is more than 25 dB down, as its own is).
                    #expect(power[j] > strongest / 20, "\(site) does not hear \(Int(hz)) Hz")
                }
            }
            // The impairment really happened, and the jitter buffer dealt with it.
            let report = reports[i]
            #expect(Int(report["packetsLost"]!)! > 0 || Int(report["recoveredByFEC"]!)! > 0 || Int(report["concealed"]!)! > 0, "\(report)")
            #expect(Int(report["jitterBufferTargetMs"]!)! >= 60, "\(report)")
            // A packet that comes twice is a duplicate, not a failed authentication.
            #expect(Int(report["duplicates"]!)! > 0 && report["authenticationFailures"] == "0", "\(report)")
        }
        #expect(bridge.stop() == 0)
    }

    @Test func aSitesStreamStaysContinuousAsItMovesBetweenTheSharedAndItsOwnMix() throws {
        let bridge = try RunningBridge()
        let chair = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "9s"])
        let site = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let batch = DatagramBatch(capacity: 32, slotSize: 1500)
        var received: [(sequence: UInt16, timestamp: UInt32, ssrc: UInt32)] = []
        var talkerStates = Set<Bool>()
        let start = Date()
        var tick = 0
        while Date().timeIntervalSince(start) < 8 {
            // Talk for 2 s, then fall silent for 2 s: the site becomes a talker and stops being one.
            let talking = (tick / 100) % 2 == 0
            try socket.send(try site.nextPacket(level: talking ? 10 : 127), to: site.mediaAddress)
            tick += 1
            if tick % 25 == 0, let talker = try bridge.siteStatus("lang-cong")?["talker"] as? Bool { talkerStates.insert(talker) }
            if try socket.waitReadable(timeoutMilliseconds: 20) {
                let n = try socket.receive(into: batch)
                for i in 0..<n {
                    let datagram = batch.datagram(i)
                    guard datagram.count > 12, datagram[1] < 200 || datagram[1] > 206 else { continue }
                    let length = try site.inbound.unprotectRTP(datagram, length: datagram.count)
                    let header = try RTPHeader(parsing: UnsafeRawBufferPointer(rebasing: datagram[0..<length]))
                    received.append((header.sequenceNumber, header.timestamp, header.ssrc))
                }
            }
        }
        _ = bridge.finish(chair)
        #expect(talkerStates == [true, false], "the site should have been a talker and a listener")
        #expect(received.count > 300)
        #expect(Set(received.map(\.ssrc)).count == 1)
        for (a, b) in zip(received, received.dropFirst()) {
            #expect(b.sequence == a.sequence &+ 1 && b.timestamp == a.timestamp &+ 960, "jump from \(a) to \(b)")
        }
        #expect(bridge.stop() == 0)
    }

    @Test func aWrongKeyIsRefusedAndTheSiteKeepsItsSession() throws {
        let bridge = try RunningBridge()
        let genuine = try bridge.endpoint("lang-cong", ["--tone", "660", "--duration", "4s"])
        Thread.sleep(forTimeInterval: 1)
        let forged = bridge.dataDirectory + "/forged.key"
        let fake = SiteKey(site: "lang-cong", secret: try SecureRandom.bytes(32), generation: 1)
        try fake.fileText(siteName: "Xã Lãng Công").write(toFile: forged, atomically: true, encoding: .utf8)
        chmod(forged, 0o600)  // a key file others can read is refused
        let impostor = bridge.finish(try bridge.endpoint("lang-cong", ["--tone", "300", "--duration", "2s"], keyFile: forged))
        // The impostor's endpoint cannot check the bridge's proof with a key that is not this site's,
        // so it stops there; the bridge counts a failed authentication.
        #expect(impostor.status == 1)
        #expect(impostor.output == "error: the bridge could not prove it holds this site's key: wrong bridge or wrong key file\n")
        let result = bridge.finish(genuine)
        #expect(result.output.contains("ended by duration"), "\(result.output)")
        #expect(waitFor(10) { bridge.logText.contains("event=join-refused site=lang-cong reason=authentication-failed") })
        #expect(bridge.stop() == 0)
    }

    @Test func anUnbookedSiteIsToldItsNextBooking() throws {
        let bridge = try RunningBridge()
        let tomorrow = try bridge.cli(["meeting", "book", "--title", "Họp ngày mai", "--host", "yen-lac", "--scope", "tt-yen-lac",
                                       "--start", "tomorrow 08:00", "--duration", "1h"])
        #expect(tomorrow.status == 0, "\(tomorrow.stderr)")
        try bridge.provision("tt-yen-lac")
        let result = bridge.finish(try bridge.endpoint("tt-yen-lac", ["--duration", "2s"]))
        #expect(result.status == 1)
        #expect(result.output.hasPrefix("error: refused: this site is not booked now; next booking #2 \"Họp ngày mai\" from "))
        #expect(result.output.contains("(room ready from "))
        // A site the bridge has never heard of.
        let stranger = SiteKey(site: "atlantis", secret: [UInt8](repeating: 1, count: 32), generation: 1)
        let path = bridge.dataDirectory + "/atlantis.key"
        try stranger.fileText(siteName: "Atlantis").write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o600)
        let unknown = bridge.finish(try bridge.endpoint("atlantis", ["--duration", "1s"], keyFile: path))
        #expect(unknown.output == "error: refused: the bridge does not know this site\n")
        #expect(bridge.stop() == 0)
    }

    @Test func forgedTamperedAndReplayedPacketsAreDroppedAndOnlyAuthenticPacketsMoveTheAddress() throws {
        let bridge = try RunningBridge()
        let site = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let first = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let second = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        // Authentic packets from the first address: latched.
        var lastGood: [UInt8] = []
        for _ in 0..<10 {
            lastGood = try site.nextPacket()
            try first.send(lastGood, to: site.mediaAddress)
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(try waitFor(10) { try bridge.siteStatus("lang-cong")?["address"] as? String == first.localAddress.description })
        // Forged (right SSRC, random bytes), tampered (one bit), replayed (sent again): all dropped.
        var forged = lastGood
        for i in 12..<forged.count { forged[i] = UInt8.random(in: 0...255) }
        var tampered = try site.nextPacket()
        tampered[tampered.count - 3] ^= 0x10
        try second.send(forged, to: site.mediaAddress)
        try second.send(tampered, to: site.mediaAddress)
        try second.send(lastGood, to: site.mediaAddress)
        #expect(try waitFor(10) {
            let s = try bridge.siteStatus("lang-cong")
            return (s?["authenticationFailures"] as? Int ?? 0) >= 2 && (s?["replays"] as? Int ?? 0) >= 1
        })
        // None of them moved the address.
        #expect(try bridge.siteStatus("lang-cong")?["address"] as? String == first.localAddress.description)
        #expect(try bridge.siteStatus("lang-cong")?["relatches"] as? Int == 0)
        // An authentic packet from the second address moves it, and the bridge's stream follows.
        for _ in 0..<5 {
            try second.send(try site.nextPacket(), to: site.mediaAddress)
            Thread.sleep(forTimeInterval: 0.02)
        }
        #expect(try waitFor(10) { try bridge.siteStatus("lang-cong")?["address"] as? String == second.localAddress.description })
        #expect(try bridge.siteStatus("lang-cong")?["relatches"] as? Int == 1)
        let batch = DatagramBatch(capacity: 8, slotSize: 1500)
        #expect(try second.waitReadable(timeoutMilliseconds: 10_000))
        while try first.receive(into: batch) > 0 {}  // drain what was sent before the move
        Thread.sleep(forTimeInterval: 0.3)
        #expect(try first.receive(into: batch) == 0, "the old address still receives")
        #expect(try second.receive(into: batch) > 0)
        #expect(bridge.stop() == 0)
    }

    @Test func aFloodOfRandomBytesLeavesTheMeetingServed() throws {
        let bridge = try RunningBridge()
        let talker = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "5s"])
        let listener = try bridge.endpoint("lang-cong", ["--tone", "660", "--duration", "5s", "--json"])
        Thread.sleep(forTimeInterval: 0.5)
        // Random datagrams at the media port, garbage lines and raw bytes at the signalling port.
        let flooder = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        var rng = SystemRandomNumberGenerator()
        for i in 0..<20_000 {
            let size = Int.random(in: 1...1400, using: &rng)
            var junk = (0..<size).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if i % 3 == 0 && size >= 12 { junk[0] = 0x80 }  // looks like RTP version 2
            try? flooder.send(junk, to: bridge.media)
        }
        for _ in 0..<30 {
            if let c = try? TCPConnection(connectingTo: bridge.signaling) {
                try? c.send(line: String(repeating: "x", count: Int.random(in: 1...3000)))
                c.close()
            }
        }
        let result = bridge.finish(listener)
        _ = bridge.finish(talker)
        #expect(result.status == 0)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: String])
        // 5 s of audio is 250 packets; the flood cost at most a handful.
        #expect(Int(report["packetsReceived"] ?? "0")! >= 235, "\(report)")
        let status = try bridge.status()
        #expect((status["malformedPackets"] as? Int ?? 0) + (status["unknownSSRCPackets"] as? Int ?? 0) > 10_000)
        #expect(bridge.stop() == 0)
    }

    @Test func revokingAKeyEndsTheSessionAtOnceAndRefusesTheSite() throws {
        let bridge = try RunningBridge()
        let running = try bridge.endpoint("tam-son", ["--tone", "880", "--duration", "20s"])
        Thread.sleep(forTimeInterval: 1.5)
        let revoke = try bridge.cli(["site", "revoke", "tam-son"])
        #expect(revoke.status == 0)
        // "At once": the bridge had ended the session when the command returned (it says so only then),
        // and the endpoint was told, so it stopped there rather than at the end of its 20 s.
        #expect(revoke.stdout.contains("its session on the running bridge was ended"))
        let result = bridge.finish(running)
        #expect(result.output.contains("ended by revoked"), "\(result.output)")
        let again = bridge.finish(try bridge.endpoint("tam-son", ["--duration", "1s"]))
        #expect(again.status == 1)
        #expect(again.output.contains("could not prove it holds this site's key"))
        #expect(waitFor(10) { bridge.logText.contains("event=join-refused site=tam-son reason=authentication-failed") })
        // A new key lets it back in.
        try bridge.provision("tam-son")
        let back = bridge.finish(try bridge.endpoint("tam-son", ["--tone", "880", "--duration", "1s"]))
        #expect(back.status == 0, "\(back.output)")
        #expect(bridge.stop() == 0)
    }

    @Test func theBridgeFollowsTheScheduleLiveWarningsExtensionAndCancellation() throws {
        // A meeting that ends in 65 s: the 5-minute warning is due at once and says what is left (2 minutes, rounded
        // up), the 1-minute one comes 5 s later.
        let bridge = try RunningBridge(duration: "65s")
        let site = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        var messages: [[String: Any]] = []
        func next(_ seconds: Int32) throws -> [String: Any]? {
            try socket.send(try site.nextPacket(), to: site.mediaAddress)  // keep the session alive
            guard let line = try site.connection.receiveLine(timeoutMilliseconds: seconds * 1000) else { return nil }
            let message = JoinProtocol.decode(line)
            if let message { messages.append(message) }
            return message
        }
        let five = try #require(try next(10))
        #expect(five["type"] as? String == "warning" && five["minutesLeft"] as? Int == 2, "\(five)")
        let one = try #require(try next(15))
        #expect(one["type"] as? String == "warning" && one["minutesLeft"] as? Int == 1)
        // An extension made by a secretariat reaches the site (within a second or so; waited for generously).
        #expect(try bridge.cli(["meeting", "extend", "1", "--by", "30m"]).status == 0)
        let extended = try #require(try next(10))
        #expect(extended["type"] as? String == "extended")
        // A cancellation ends the session.
        #expect(try bridge.cli(["meeting", "cancel", "1"]).status == 0)
        let ended = try #require(try next(10))
        #expect(ended["type"] as? String == "ended" && ended["reason"] as? String == "cancelled")
        #expect(waitFor(10) { bridge.logText.contains("event=session-ended site=lang-cong meeting=1 reason=cancelled") })
        #expect(bridge.stop() == 0)
    }

    @Test func aSecondGenuineJoinReplacesTheFirstAndTheMeetingsEndClosesSessions() throws {
        let bridge = try RunningBridge(duration: "4s")
        let first = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let second = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let replaced = try first.connection.receiveLine(timeoutMilliseconds: 10_000).flatMap(JoinProtocol.decode)
        #expect(replaced?["type"] as? String == "ended" && replaced?["reason"] as? String == "replaced")
        // The meeting ends 4 s after it was booked: the remaining session is closed.
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        var ended: [String: Any]? = nil
        for _ in 0..<100 where ended == nil {
            try socket.send(try second.nextPacket(), to: second.mediaAddress)
            if let line = try second.connection.receiveLine(timeoutMilliseconds: 100), let m = JoinProtocol.decode(line),
               m["type"] as? String == "ended" {
                ended = m
            }
        }
        #expect(ended?["reason"] as? String == "meeting-over")
        #expect(bridge.stop() == 0)
    }

    @Test func aSiteThatFallsSilentIsShownLostAndCanRejoin() throws {
        let bridge = try RunningBridge(lostAfterSeconds: 2)
        let site = try RawSite(try bridge.key("lang-cong"), bridge: bridge)
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        try socket.send(try site.nextPacket(), to: site.mediaAddress)
        // Then nothing: after 2 s the bridge ends the session and says so on the signalling channel.
        let line = try site.connection.receiveLine(timeoutMilliseconds: 6000)
        #expect(line.flatMap(JoinProtocol.decode)?["reason"] as? String == "lost")
        #expect(waitFor(10) { bridge.logText.contains("event=site-lost site=lang-cong") })
        _ = try RawSite(try bridge.key("lang-cong"), bridge: bridge)  // rejoins
        #expect(bridge.stop() == 0)
    }
}
