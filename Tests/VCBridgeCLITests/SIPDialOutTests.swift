#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Foundation
import SIP
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
        // baresip answers without rtcp-mux: the offer's a=rtcp names the bridge's media port, so its RTCP comes there
        // and is read; the bridge's RTCP goes to the RTCP address of its answer (its RTP port + 1).
        let rtcpRead = try waitFor(12) { (try bridge.siteStatus("lang-cong")?["rtcpPacketsReceived"] as? Int ?? 0) > 0 }
        let rtcpStatus = try bridge.siteStatus("lang-cong")
        #expect(rtcpRead, "\(String(describing: rtcpStatus))")
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

    /// The hall is named by a host name and reached over TCP (`;transport=tcp`): the bridge resolves `localhost`,
    /// connects, and the INVITE, its answer and the BYE at the meeting's end travel on that connection.
    @Test func theBridgeDialsAHallByItsHostNameOverTCP() throws {
        let port = try Baresip.freePort()
        let sip = #"{"digestAlgorithms": ["MD5"], "dialOut": {"lang-cong": "sip:hall@localhost:\#(port);transport=tcp"}, "dialOutRingSeconds": 20}"#
        let bridge = try RunningBridge(sip: sip)
        let tone = try stereoToneFile(880, seconds: 30, into: bridge.dataDirectory)
        let hall = try Baresip(answeringOn: port, wav: tone, seconds: 60, in: bridge.dataDirectory)
        defer { hall.kill() }
        #expect(try waitFor(20) { (try bridge.siteStatus("lang-cong")?["packetsReceived"] as? Int ?? 0) > 50 },
                "\(bridge.logText)\n\(hall.output.suffix(3000))")
        #expect(hall.output.contains("Call established"), "\(hall.output.suffix(3000))")
        let join = bridge.logText.split(separator: "\n").first { $0.contains("event=join site=lang-cong") }.map(String.init) ?? ""
        #expect(join.contains("peer=\"127.0.0.1:\(port)\"") || join.contains("peer=127.0.0.1:\(port)"), "\(join)")
        #expect(join.contains("transport=sip-tcp"), "\(join)")
        let cancelled = try bridge.cli(["meeting", "cancel", "1", "--reason", "kiểm thử"])
        #expect(cancelled.status == 0, "\(cancelled.stderr)")
        #expect(waitFor(8) { hall.output.contains("terminated") }, "\(hall.output.suffix(3000))\n\(bridge.logText)")
        #expect(bridge.stop() == 0)
    }

    /// A hall whose host name does not resolve: each attempt fails naming the name, and the plan tries again.
    @Test func aHostNameThatDoesNotResolveFailsTheAttemptNamingItAndIsRetried() throws {
        let sip = #"{"dialOut": {"lang-cong": "sip:hall@no-such-hall.invalid:5060"}, "dialOutRingSeconds": 5}"#
        let bridge = try RunningBridge(sip: sip)
        #expect(waitFor(15) {
            bridge.logText.contains("event=sip-dial-failed site=lang-cong meeting=1 attempt=1 reason=\"the host name no-such-hall.invalid does not resolve")
        }, "\(bridge.logText)")
        #expect(waitFor(20) { bridge.logText.contains("event=sip-dial-failed site=lang-cong meeting=1 attempt=2") }, "\(bridge.logText)")
        #expect(try bridge.siteStatus("lang-cong") == nil)
        #expect(bridge.stop() == 0)
    }

    /// Session timers as the caller (RFC 4028): a hand-written hall answers the first INVITE 422 with Min-SE 3600;
    /// the bridge asks again once, with 3600 as its Session-Expires and Min-SE; the 200 names the bridge (uac) as
    /// refresher, and the call is up with that timer. (The refreshes themselves, at half the interval, and the BYE
    /// after a failed one are driven with an injected clock in `SIPCallerSessionTimerTests`.)
    @Test func a422IsRetriedOnceWithItsMinSEAndThe2xxNamesTheRefresher() throws {
        let hall = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        defer { hall.close() }
        let port = hall.localAddress.port
        let bridge = try RunningBridge(sip: #"{"dialOut": {"lang-cong": "sip:hall@127.0.0.1:\#(port)"}, "dialOutRingSeconds": 20}"#)
        let batch = DatagramBatch(capacity: 8, slotSize: 65_536)
        /// The next INVITE from the bridge (retransmissions of one already seen skipped), and where it came from.
        func nextInvite(after seen: String?) throws -> (SIPMessage, SocketAddress)? {
            let deadline = Date().addingTimeInterval(15)
            while Date() < deadline {
                guard try hall.waitReadable(timeoutMilliseconds: 100) else { continue }
                try hall.receive(into: batch)
                for index in 0..<batch.count {
                    guard let message = try? SIPMessage.parse(datagram: Array(UnsafeRawBufferPointer(batch.datagram(index)))),
                          message.method == "INVITE", message.value("CSeq") != seen, let from = batch.address(index) else { continue }
                    return (message, from)
                }
            }
            return nil
        }
        let (first, from) = try #require(try nextInvite(after: nil), "\(bridge.logText)")
        #expect(first.tokens("Supported").contains("timer"))
        #expect(first.value("Session-Expires") == "1800")
        var tooSmall = try #require(SIPMessage.response(to: first, status: 422, reason: "Session Interval Too Small", toTag: "hall-422"))
        tooSmall.add("Min-SE", "3600")
        try hall.send(tooSmall.serialized(), to: from)
        let (second, _) = try #require(try nextInvite(after: first.value("CSeq")), "\(bridge.logText)")
        #expect(second.value("Session-Expires") == "3600", "\(second.headers)")
        #expect(second.value("Min-SE") == "3600")
        #expect(second.value("Call-ID") == first.value("Call-ID"))
        var ok = try #require(SIPMessage.response(to: second, status: 200, reason: "OK", toTag: "hall-200"))
        ok.add("Contact", "<sip:hall@127.0.0.1:\(port)>")
        ok.add("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS, UPDATE")
        ok.add("Session-Expires", "3600;refresher=uac")
        ok.add("Require", "timer")
        ok.add("Content-Type", "application/sdp")
        ok.body = Array(("v=0\r\no=hall 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "m=audio \(port + 2) RTP/SAVP 96\r\na=rtpmap:96 opus/48000/2\r\n"
            + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv\r\n"
            + "m=video 0 RTP/SAVP 97\r\n").utf8)  // no camera: the offer's video refused (RFC 3264 §6)
        try hall.send(ok.serialized(), to: from)
        #expect(try waitFor(10) { try bridge.siteStatus("lang-cong")?["transport"] as? String == "sip" }, "\(bridge.logText)")
        let join = bridge.logText.split(separator: "\n").first { $0.contains("event=join site=lang-cong") }.map(String.init) ?? ""
        #expect(join.contains("sessionExpires=3600") && join.contains("refresher=uac"), "\(join)")
        #expect(bridge.logText.contains("event=sip-dial-retry site=lang-cong meeting=1 attempt=1 reason=\"422 Session Interval Too Small (Min-SE 3600)\""),
                "\(bridge.logText)")
        #expect(bridge.stop() == 0)
    }

    /// The refresh itself, end to end (one real wait of half the 90 s minimum): a hand-written hall answers with
    /// `Session-Expires: 90;refresher=uac` and an Allow without UPDATE, so the bridge refreshes by re-INVITE (RFC 4028
    /// lets either refresh) at 45 s, carrying its SDP and Session-Expires; the hall's 200 is acknowledged. A second
    /// refresh answered 481 (the hall lost the call) ends the call with BYE and the site's session.
    @Test func theBridgeRefreshesByReInviteWhenTheHallDoesNotAllowUpdateAndHangsUpWhenARefreshFails() throws {
        let hall = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        defer { hall.close() }
        let port = hall.localAddress.port
        // The hand-written hall sends no media: the session must not end as lost before the refreshes.
        let bridge = try RunningBridge(lostAfterSeconds: 200,
                                       sip: #"{"dialOut": {"lang-cong": "sip:hall@127.0.0.1:\#(port)"}, "dialOutRingSeconds": 20}"#)
        let batch = DatagramBatch(capacity: 8, slotSize: 65_536)
        /// The next request from the bridge other than `skipping` (retransmissions of one already seen), and its source.
        func nextRequest(within seconds: Double, skipping seen: Set<String>) throws -> (SIPMessage, SocketAddress)? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard try hall.waitReadable(timeoutMilliseconds: 100) else { continue }
                try hall.receive(into: batch)
                for index in 0..<batch.count {
                    guard let message = try? SIPMessage.parse(datagram: Array(UnsafeRawBufferPointer(batch.datagram(index)))),
                          message.isRequest, let from = batch.address(index),
                          !seen.contains("\(message.method ?? "") \(message.value("CSeq") ?? "")") else { continue }
                    return (message, from)
                }
            }
            return nil
        }
        func key(_ m: SIPMessage) -> String { "\(m.method ?? "") \(m.value("CSeq") ?? "")" }
        let (invite, from) = try #require(try nextRequest(within: 15, skipping: []), "\(bridge.logText)")
        #expect(invite.method == "INVITE")
        var ok = try #require(SIPMessage.response(to: invite, status: 200, reason: "OK", toTag: "hall-200"))
        ok.add("Contact", "<sip:hall@127.0.0.1:\(port)>")
        ok.add("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")
        ok.add("Session-Expires", "90;refresher=uac")
        ok.add("Require", "timer")
        ok.add("Content-Type", "application/sdp")
        ok.body = Array(("v=0\r\no=hall 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "m=audio \(port + 2) RTP/SAVP 96\r\na=rtpmap:96 opus/48000/2\r\n"
            + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv\r\n"
            + "m=video 0 RTP/SAVP 97\r\n").utf8)  // no camera: the offer's video refused (RFC 3264 §6)
        try hall.send(ok.serialized(), to: from)
        let answeredAt = Date()
        var seen: Set<String> = [key(invite)]
        let (ack, _) = try #require(try nextRequest(within: 5, skipping: seen))
        #expect(ack.method == "ACK")
        seen.insert(key(ack))
        #expect(try waitFor(10) { try bridge.siteStatus("lang-cong")?["transport"] as? String == "sip" }, "\(bridge.logText)")
        // At half the interval: a re-INVITE in the dialog, with the bridge's SDP and the session timer.
        let (refresh, refreshFrom) = try #require(try nextRequest(within: 60, skipping: seen), "\(bridge.logText)")
        let waited = Date().timeIntervalSince(answeredAt)
        #expect(refresh.method == "INVITE", "\(refresh.startLine)")
        #expect(waited > 40 && waited < 55, "refreshed after \(waited) s")
        #expect(refresh.value("Call-ID") == invite.value("Call-ID"))
        #expect(refresh.value("Session-Expires")?.hasPrefix("90") == true, "\(refresh.headers)")
        #expect(!refresh.body.isEmpty)
        seen.insert(key(refresh))
        var refreshed = try #require(SIPMessage.response(to: refresh, status: 200, reason: "OK"))
        refreshed.add("Contact", "<sip:hall@127.0.0.1:\(port)>")
        refreshed.add("Session-Expires", "90;refresher=uac")
        refreshed.add("Content-Type", "application/sdp")
        refreshed.body = ok.body
        try hall.send(refreshed.serialized(), to: refreshFrom)
        let (refreshACK, _) = try #require(try nextRequest(within: 5, skipping: seen), "\(bridge.logText)")
        #expect(refreshACK.method == "ACK" && refreshACK.value("CSeq")?.hasPrefix(refresh.value("CSeq")?.split(separator: " ").first.map(String.init) ?? "-") == true)
        seen.insert(key(refreshACK))
        // The next refresh is answered 481: BYE, and lang-cong's session ends.
        let (second, secondFrom) = try #require(try nextRequest(within: 60, skipping: seen), "\(bridge.logText)")
        #expect(second.method == "INVITE")
        seen.insert(key(second))
        let gone = try #require(SIPMessage.response(to: second, status: 481, reason: "Call/Transaction Does Not Exist", toTag: "hall-200"))
        try hall.send(gone.serialized(), to: secondFrom)
        var bye: SIPMessage? = nil
        while bye == nil, let (next, _) = try nextRequest(within: 5, skipping: seen) {
            seen.insert(key(next))
            if next.method == "BYE" { bye = next }
        }
        #expect(bye != nil, "\(bridge.logText)")
        // The log arrives through a pipe: it may trail the BYE on the socket.
        #expect(waitFor(5) { bridge.logText.contains("event=sip-refresh-failed site=lang-cong reason=\"481 Call/Transaction Does Not Exist\"") },
                "\(bridge.logText)")
        #expect(try waitFor(5) { try bridge.siteStatus("lang-cong") == nil })
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

    /// The upstream is called over TLS (`sips:`, the upper bridge's TLS port). Its certificate is checked: with the
    /// upper bridge's own self-signed certificate as the configured CA it verifies but names `vcbridge`, not the host
    /// dialled, so the call is refused naming that (nothing admitted upstream); with its SHA-256 pinned the call goes
    /// through, and the upper bridge sees a SIP site over TLS.
    @Test func theUpstreamIsCalledOverTLSOnlyWhenItsCertificateChecksOut() throws {
        let upper = try RunningBridge(host: "central", sites: ["vinh-phuc"], sip: #"{"tlsEnabled": true, "tlsPort": 0}"#)
        let upperTLS = try #require(upper.sipTLS)
        let password = try sipPassword(upper, "vinh-phuc")
        let listening = try #require(upper.logText.split(separator: "\n").first { $0.contains("event=sip-listening") })
        let fingerprint = try #require(listening.split(separator: " ").first { $0.hasPrefix("tlsFingerprint=") }?
            .dropFirst("tlsFingerprint=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"")), "\(listening)")
        let credentials = #""cascadeCredentials": {"username": "vinh-phuc", "password": "\#(password)"}"#
        let caFile = upper.dataDirectory + "/https-certificate.pem"
        let checkedByCA = try RunningBridge(host: "vinh-phuc", sites: ["lang-cong"],
                                            sip: #"{\#(credentials), "dialOutTLSCAFile": "\#(caFile)", "dialOutRingSeconds": 5}"#,
                                            bookExtra: ["--cascade-up", "sips:vinh-phuc@\(upperTLS)"])
        #expect(waitFor(15) {
            checkedByCA.logText.contains("event=sip-dial-failed site=central meeting=1 attempt=1 reason=\"TLS to \(upperTLS) refused: its certificate (SHA-256 \(fingerprint)) does not name 127.0.0.1\"")
        }, "\(checkedByCA.logText)")
        #expect(try upper.siteStatus("vinh-phuc") == nil)
        #expect(checkedByCA.stop() == 0)
        let pinned = try RunningBridge(host: "vinh-phuc", sites: ["lang-cong"],
                                       sip: #"{\#(credentials), "dialOutTLSFingerprints": ["sha-256 \#(fingerprint)"]}"#,
                                       bookExtra: ["--cascade-up", "sips:vinh-phuc@\(upperTLS)"])
        #expect(try waitFor(15) { try upper.siteStatus("vinh-phuc")?["transport"] as? String == "sip" }, "\(upper.logText)\n\(pinned.logText)")
        let join = upper.logText.split(separator: "\n").first { $0.contains("event=join site=vinh-phuc") }.map(String.init) ?? ""
        #expect(join.contains("transport=sip-tls"), "\(join)")
        #expect(try waitFor(5) { try pinned.siteStatus("central")?["transport"] as? String == "sip" }, "\(pinned.logText)")
        #expect(pinned.stop() == 0)
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
