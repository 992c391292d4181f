#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Foundation
import RTP
import SRTP
import Testing
import Transport
import VoiceCodecs

/// Room systems that send 30 ms (or 10, 40 ms) G.711/G.722 packets whatever the bridge's `a=ptime:20` says.
@Suite("SIP: room systems' packet times", .serialized)
struct SIPPacketTimeTests {
    /// A PCMA-only offer asking for 30 ms packets, media on `port`.
    static func pcmaOffer(port: UInt16) -> String {
        "v=0\r\no=hall 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            + "m=audio \(port) RTP/SAVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:30\r\n"
            + "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r\na=sendrecv\r\n"
    }

    /// RMS of each 10 ms block (480 samples at 48 kHz).
    static func blockLevels(_ samples: ArraySlice<Int16>) -> [Double] {
        stride(from: samples.startIndex, to: samples.endIndex - 479, by: 480).map { start in
            let block = samples[start..<(start + 480)]
            return (block.reduce(0.0) { $0 + Double($1) * Double($1) } / 480).squareRoot()
        }
    }

    @Test func aRoomSystemSending30MillisecondPCMAIsHeardAtItsFrequencyWithoutGaps() throws {
        let bridge = try RunningBridge(sip: "{}")
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "13s", "--record", heard])
        let hall = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        defer { hall.close() }
        let probe = try SIPProbe(bridge: sip)
        probe.sdp = Self.pcmaOffer(port: hall.localAddress.port)
        let answered = try probe.call(user: "lang-cong", password: password)
        #expect(answered.statusCode == 200, "\(answered.startLine)")
        let answer = String(decoding: answered.body, as: UTF8.self)
        // The answer says what the bridge sends (20 ms), and it keeps to it (below).
        #expect(answer.contains("a=rtpmap:8 PCMA/8000") && answer.contains("a=ptime:20"), "\(answer)")
        try probe.send(probe.inDialog("ACK", user: "lang-cong", answered: answered, cseq: 2))
        let outbound = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .outbound,
                                       keyingMaterial: try SIPNATTests.key(in: probe.sdp))
        let inbound = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .inbound,
                                      keyingMaterial: try SIPNATTests.key(in: answer))

        // 9 s of a 1 kHz tone in 30 ms PCMA packets (240 bytes, timestamps 240 apart), paced by the clock.
        let tone = Tone.samples(frequency: 1000, amplitude: 0.25, sampleRate: 8000, count: 8000 * 9)
        let batch = DatagramBatch(capacity: 64, slotSize: 1500)
        var fromBridge: [(type: UInt8, size: Int, timestamp: UInt32)] = []
        let start = Date()
        var senderLate = 0.0  // how late the test's own sends ran (seconds)
        for k in 0..<(tone.count / 240) {
            let payload = tone[(k * 240)..<((k + 1) * 240)].map { G711.aLaw($0) }
            let plain = try RTPPacket(payloadType: 8, sequenceNumber: UInt16(truncatingIfNeeded: 7000 + k),
                                      timestamp: 0xFFFF_0000 &+ UInt32(k * 240), ssrc: 0x3000_0030, payload: payload).serialized()
            var buffer = plain + [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
            let length = try buffer.withUnsafeMutableBytes { try outbound.protectRTP($0, length: plain.count) }
            try hall.send(Array(buffer[0..<length]), to: bridge.media)
            // What the bridge sends back meanwhile (its 20 ms PCMA), read without waiting.
            while try hall.waitReadable(timeoutMilliseconds: 0) {
                try hall.receive(into: batch)
                for i in 0..<batch.count {
                    var datagram = Array(batch.datagram(i))
                    let count = datagram.count
                    guard count > 12, datagram[1] & 0x7F == 8,
                          let n = try? datagram.withUnsafeMutableBytes({ try inbound.unprotectRTP($0, length: count) }) else { continue }
                    let header = try RTPHeader(parsing: UnsafeRawBufferPointer(start: datagram, count: n))
                    fromBridge.append((header.payloadType, header.payloadRange.count, header.timestamp))
                }
            }
            let due = start.addingTimeInterval(Double(k + 1) * 0.030)
            let wait = due.timeIntervalSinceNow
            if wait > 0 { usleep(UInt32(wait * 1_000_000)) }
            senderLate = max(senderLate, -due.timeIntervalSinceNow)
        }
        let result = bridge.finish(host)
        #expect(result.status == 0, "\(result.output)")
        let status = try bridge.siteStatus("lang-cong")
        #expect(status?["codec"] as? String == "pcma", "\(String(describing: status))")

        // The bridge sends 20 ms PCMA as its answer said: 160 bytes, timestamps 160 apart.
        #expect(fromBridge.count > 50, "\(fromBridge.count) authentic packets from the bridge")
        #expect(Set(fromBridge.map(\.size)) == [160])
        #expect(zip(fromBridge, fromBridge.dropFirst()).allSatisfy { $1.timestamp &- $0.timestamp == 160 })

        // The host hears the hall's 1 kHz (not silence decoded from misread packets), without gaps: from a second
        // after it is first heard, 4 s where every 10 ms carries the tone.
        let hostHeard = try WAVFile.read(heard)
        let levels = Self.blockLevels(hostHeard[...])
        let onset = try #require(levels.firstIndex { $0 > 1000 }, "the host never heard the hall (loudest 10 ms: \(levels.max() ?? 0))")
        let from = (onset + 100) * 480, to = from + 4 * 48_000
        try #require(to <= hostHeard.count, "heard from \(onset * 10) ms of \(hostHeard.count / 48) ms")
        let window = hostHeard[from..<to]
        let dominant = Tone.dominant(among: [440, 1000], in: window)
        #expect(dominant?.frequency == 1000 && dominant!.share > 0.9, "\(String(describing: dominant))")
        let windowLevels = Self.blockLevels(window)
        let median = windowLevels.sorted()[windowLevels.count / 2]
        let quiet = windowLevels.enumerated().filter { $0.element < median / 3 }
        // A gap is the bridge's unless this test's own hall fell behind its clock (a loaded machine stalls the test process
        // too: then the bridge rightly conceals what came late, and the gap says nothing of the reframing).
        #expect(median > 1000 && (quiet.isEmpty || senderLate > 0.040),
                "median RMS \(median); 10 ms blocks under a third of it: \(quiet.count), first at \(quiet.first.map { $0.offset * 10 } ?? -1) ms; the hall's sends at most \(Int(senderLate * 1000)) ms late")
        #expect(bridge.stop() == 0)
    }
}
