#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Foundation
import Testing
import Transport

/// A 16-bit mono WAV of a sine at `rate` (baresip 1.0's aufile does not convert: the file must be at the rate and
/// channel count of the codec, 16 kHz for G.722 and 8 kHz for G.711).
func monoToneFile(_ hertz: Double, seconds: Double, rate: Int, into directory: String) throws -> String {
    let path = directory + "/mono-\(Int(hertz))-\(rate).wav"
    let count = Int(seconds * Double(rate))
    var bytes: [UInt8] = []
    func u16(_ v: Int) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16) }
    bytes += Array("RIFF".utf8); u32(36 + count * 2); bytes += Array("WAVEfmt ".utf8)
    u32(16); u16(1); u16(1); u32(rate); u32(rate * 2); u16(2); u16(16)
    bytes += Array("data".utf8); u32(count * 2)
    for sample in Tone.samples(frequency: hertz, amplitude: 0.25, sampleRate: rate, count: count) {
        u16(Int(UInt16(bitPattern: sample)))
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// Room systems that offer only G.722 or G.711 (older Poly, Cisco, Yealink): baresip restricted to one such codec
/// calls into a meeting whose host, a reference endpoint, sends 440 Hz; each hears the other.
@Suite("SIP: room systems on G.722 and G.711", .serialized)
struct SIPVoiceCodecTests {
    func callWithOnly(_ codec: String, rate: Int, status expected: String) throws {
        let bridge = try RunningBridge(sip: md5Only)
        let sip = try #require(bridge.sip)
        let password = try sipPassword(bridge, "lang-cong")
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "14s", "--record", heard])
        let tone = try monoToneFile(880, seconds: 12, rate: rate, into: bridge.dataDirectory)
        let baresip = try Baresip(dialing: sip, username: "lang-cong", password: password, wav: tone, seconds: 10,
                                  in: bridge.dataDirectory, audioCodecs: codec)
        defer { baresip.kill() }
        #expect(try waitFor(8) { (try bridge.siteStatus("lang-cong")?["packetsReceived"] as? Int ?? 0) > 50 },
                "\(bridge.logText)\n\(baresip.output.suffix(3000))")
        let status = try #require(try bridge.siteStatus("lang-cong"))
        #expect(status["transport"] as? String == "sip")
        #expect(status["codec"] as? String == expected)
        #expect(bridge.logText.contains("transport=sip-udp codec=\(expected)"), "\(bridge.logText)")
        baresip.finish(within: 15)
        #expect(baresip.output.contains("Call established"), "\(baresip.output.suffix(3000))")
        let result = bridge.finish(host)
        #expect(result.status == 0, "\(result.output)")
        // The host hears baresip's 880 Hz (decoded from G.722/G.711 into the mix, encoded in Opus for it).
        let hostHeard = try WAVFile.read(heard)
        let hostTone = Tone.dominant(among: [440, 880], in: hostHeard[(48_000 * 4)..<(48_000 * 8)])
        #expect(hostTone?.frequency == 880 && hostTone!.share > 0.9, "\(String(describing: hostTone))")
        // baresip hears the host's 440 Hz in its own codec (its mix-minus: not its own 880 Hz).
        let baresipHeard = try WAVFile.read(try baresip.decodedDump())
        #expect(baresipHeard.count > 48_000 * 6, "\(baresipHeard.count) samples")
        let baresipTone = Tone.dominant(among: [440, 880], in: baresipHeard[(48_000 * 2)..<(48_000 * 6)])
        #expect(baresipTone?.frequency == 440 && baresipTone!.share > 0.9, "\(String(describing: baresipTone))")
        #expect(bridge.stop() == 0)
    }

    @Test func aRoomSystemOfferingOnlyG722IsInTheMeeting() throws {
        // baresip registers its G.722 at 16 kHz (RTP clock 8000); a bare "G722" names no codec and it offers all.
        try callWithOnly("G722/16000/1", rate: 16_000, status: "g722")
    }

    @Test func aRoomSystemOfferingOnlyPCMAIsInTheMeeting() throws {
        try callWithOnly("PCMA", rate: 8_000, status: "pcma")
    }
}
