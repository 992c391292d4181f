#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Foundation
import SIP
import Testing
import Transport
@testable import VCBridgeCLI

/// A TCP connection to `bridge` from the loopback address `source` (any of 127/8: the kernel routes them all to lo),
/// so a test can call from an address other than the 127.0.0.1 its other clients use. Non-blocking reads by `poll`.
final class LoopbackStream: @unchecked Sendable {
    let fd: Int32
    private var framer = SIPStreamFramer()
    /// Bytes this side received from the bridge, and sent to it.
    private(set) var received = 0
    private(set) var sent = 0

    init(from source: String, to bridge: SocketAddress) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CommandFailure("socket: \(String(cString: strerror(errno)))") }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = bridge.port.bigEndian
        inet_pton(AF_INET, String(bridge.description.split(separator: ":")[0]), &remote.sin_addr)
        let size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &local) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, size) } }
        guard bound == 0 else {
            Glibc.close(fd)
            throw CommandFailure("bind \(source): \(String(cString: strerror(errno)))")
        }
        let connected = withUnsafePointer(to: &remote) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, size) } }
        guard connected == 0 else {
            Glibc.close(fd)
            throw CommandFailure("connect to \(bridge) from \(source): \(String(cString: strerror(errno)))")
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends all of `bytes`; false if the connection is gone.
    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
            sent += n
        }
        return true
    }

    /// The next whole SIP message (provisional responses skipped), waiting at most `seconds`; nil when none came or
    /// the connection ended.
    func message(seconds: Double) -> SIPMessage? {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while Date() < deadline {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { return nil }
            received += n
            if let message = (try? framer.append(buffer[0..<n]))?.first(where: { ($0.statusCode ?? 200) >= 200 }) { return message }
        }
        return nil
    }

    /// Whether the bridge has closed (or reset) the connection, waiting at most `seconds`; bytes it sends meanwhile
    /// are counted in ``received``.
    func closedByPeer(within seconds: Double) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while Date() < deadline {
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 100) > 0 else { continue }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n == 0 { return true }
            if n < 0 { if errno == EAGAIN || errno == EINTR { continue } else { return true } }
            received += n
        }
        return false
    }
}

/// An INVITE written out by hand for a stream transport, from `user` at `source`, with `sdp` (none if empty).
func streamInvite(user: String, source: String, port: UInt16, bridge: SocketAddress, transport: String = "TCP",
                  sdp: String = SIPProbe.offer, extra: [String] = []) -> [UInt8] {
    var text = "INVITE sip:meeting@\(bridge);transport=\(transport.lowercased()) SIP/2.0\r\n"
        + "Via: SIP/2.0/\(transport) \(source):\(port);branch=z9hG4bK\(UUID().uuidString.prefix(12))\r\n"
        + "Max-Forwards: 70\r\nFrom: <sip:\(user)@\(source)>;tag=t\(UUID().uuidString.prefix(6))\r\nTo: <sip:meeting@\(bridge)>\r\n"
        + "Call-ID: \(UUID().uuidString)\r\nCSeq: 1 INVITE\r\nContact: <sip:\(user)@\(source):\(port);transport=\(transport.lowercased())>\r\n"
    for line in extra { text += line + "\r\n" }
    text += (sdp.isEmpty ? "" : "Content-Type: application/sdp\r\n") + "Content-Length: \(sdp.utf8.count)\r\n\r\n" + sdp
    return Array(text.utf8)
}

/// A plain RTP offer (RTP/AVP, no a=crypto): what a room system that cannot encrypt sends.
let plainOffer = """
v=0\r
o=probe 1 1 IN IP4 127.0.0.1\r
s=-\r
c=IN IP4 127.0.0.1\r
t=0 0\r
m=audio 40002 RTP/AVP 96\r
a=rtpmap:96 opus/48000/2\r
a=sendrecv\r

"""

/// `vcbridge serve` started on `sipSection` in a fresh data directory: its output if it exits within 10 s (it
/// refused to start), nil if it was still running then (it is killed).
func serveRefusal(sip sipSection: String) throws -> String? {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-refuse-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try #"{"sip": \#(sipSection)}"#.write(toFile: directory + "/config.json", atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = VCBridgeProcess.executable
    process.arguments = ["serve", "--listen", "127.0.0.1", "--signal-port", "0", "--media-port", "0", "--sip-port", "0",
                         "--config", directory + "/config.json"]
    process.environment = ProcessInfo.processInfo.environment.merging(["VCBRIDGE_DATA_DIR": directory]) { _, new in new }
    let pipe = Pipe()
    process.standardError = pipe
    process.standardOutput = pipe
    try process.run()
    let exited = waitFor(10) { !process.isRunning }
    if !exited { Glibc.kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return exited ? output : nil
}

@Suite("SIP: per-site policy", .serialized)
struct SIPSiteTests {
    @Test func anUnknownSiteOrADialOutWhoseKeysNeedTLSRefusesToStartNamingIt() throws {
        let unknown = try serveRefusal(sip: #"{"sites": {"no-such-hall": {"address": "10.1.2.3"}}}"#)
        #expect(unknown?.contains("sip.sites names 'no-such-hall', which is not a site in the directory") == true, "\(unknown ?? "still running")")
        let dialOut = try serveRefusal(sip: #"{"sites": {"tam-son": {"signalling": "tls"}}, "dialOut": {"tam-son": "sip:hall@127.0.0.1:5999"}}"#)
        #expect(dialOut?.contains("sip.dialOut calls tam-son") == true && dialOut?.contains("TLS") == true, "\(dialOut ?? "still running")")
        let required = try serveRefusal(sip: #"{"keysRequireTLS": true, "dialOut": {"tam-son": "sip:hall@127.0.0.1:5999"}}"#)
        #expect(required?.contains("sip.keysRequireTLS") == true && required?.contains("give a sips: address") == true,
                "\(required ?? "still running")")
    }

    /// A room system that cannot do digest, admitted by the address it calls from: baresip with no `auth_pass`,
    /// over TCP, is in the meeting, heard and hearing; the same INVITE over UDP is challenged; an unbooked site's
    /// registered address is refused as a native join is (403 naming its next booking).
    @Test func baresipWithoutAPasswordIsAdmittedFromItsRegisteredAddressOverTCPButChallengedOverUDP() throws {
        let bridge = try RunningBridge(sip: #"{"digestAlgorithms": ["MD5"], "sites": {"tam-son": {"address": "127.0.0.1"}, "tam-dao": {"address": "127.0.0.2"}}}"#)
        let sip = try #require(bridge.sip)
        try bridge.provision("tam-dao")
        // Over UDP, whose source can be forged: challenged like any call, nothing admitted.
        let probe = try SIPProbe(bridge: sip)
        try probe.send(probe.invite(user: "tam-son"))
        #expect(try probe.finalResponse()?.statusCode == 401)
        #expect(try bridge.siteStatus("tam-son") == nil)
        // An unbooked site calling from its registered address over TCP: refused, naming why.
        let unbooked = try LoopbackStream(from: "127.0.0.2", to: sip)
        unbooked.send(streamInvite(user: "tam-dao", source: "127.0.0.2", port: 5060, bridge: sip))
        let refused = unbooked.message(seconds: 5)
        #expect(refused?.statusCode == 403 && refused?.reasonPhrase?.contains("not booked now") == true,
                "\(String(describing: refused?.startLine)) \(bridge.logText.suffix(2000))")
        // baresip without a password, over TCP from 127.0.0.1: in the meeting.
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "10s", "--record", heard])
        let tone = try stereoToneFile(880, seconds: 10, into: bridge.dataDirectory)
        let baresip = try Baresip(dialing: sip, username: "tam-son", password: nil, wav: tone, seconds: 7,
                                  in: bridge.dataDirectory, transport: "tcp")
        defer { baresip.kill() }
        #expect(try waitFor(8) { (try bridge.siteStatus("tam-son")?["packetsReceived"] as? Int ?? 0) > 50 },
                "\(bridge.logText)\n\(baresip.output.suffix(3000))")
        #expect(bridge.logText.contains("event=sip-registered-address site=tam-son"))
        let status = try #require(try bridge.siteStatus("tam-son"))
        #expect(status["media"] as? String == "srtp" && status["signalling"] as? String == "tcp", "\(status)")
        baresip.finish(within: 12)
        #expect(waitFor(5) { bridge.logText.contains("event=session-ended site=tam-son meeting=1 reason=left") }, "\(bridge.logText)")
        _ = bridge.finish(host)
        let hostHeard = try WAVFile.read(heard)
        #expect(Tone.dominant(among: [440, 880], in: hostHeard[(48_000 * 3)..<(48_000 * 6)])?.frequency == 880)
        let baresipHeard = try WAVFile.read(try baresip.decodedDump())
        #expect(Tone.dominant(among: [440, 880], in: baresipHeard[(48_000 * 2)..<(48_000 * 5)])?.frequency == 440)
        #expect(bridge.stop() == 0)
    }

    /// Plain RTP only where a site's policy says `media: "rtp"`: baresip without encryption is in the meeting as
    /// lang-cong (status and quality show media rtp), heard and hearing; the same unkeyed offer from tam-son gets 488
    /// naming why.
    @Test func baresipWithoutEncryptionIsAdmittedOnPlainRTPOnlyWhereItsSitePolicyAllows() throws {
        let bridge = try RunningBridge(sip: #"{"digestAlgorithms": ["MD5"], "sites": {"lang-cong": {"media": "rtp"}}}"#)
        let sip = try #require(bridge.sip)
        let probe = try SIPProbe(bridge: sip)
        probe.sdp = plainOffer
        let refused = try probe.call(user: "tam-son", password: try sipPassword(bridge, "tam-son"))
        #expect(refused.statusCode == 488, "\(refused.startLine)")
        #expect(refused.reasonPhrase?.contains("plain RTP") == true && refused.reasonPhrase?.contains("tam-son") == true,
                "\(refused.startLine)")
        #expect(try bridge.siteStatus("tam-son") == nil)
        let password = try sipPassword(bridge, "lang-cong")
        let heard = bridge.dataDirectory + "/song-lo-heard.wav"
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "10s", "--record", heard])
        let tone = try stereoToneFile(880, seconds: 10, into: bridge.dataDirectory)
        let baresip = try Baresip(dialing: sip, username: "lang-cong", password: password, wav: tone, seconds: 7,
                                  in: bridge.dataDirectory, mediaenc: nil)
        defer { baresip.kill() }
        #expect(try waitFor(8) { (try bridge.siteStatus("lang-cong")?["packetsReceived"] as? Int ?? 0) > 50 },
                "\(bridge.logText)\n\(baresip.output.suffix(3000))")
        let status = try #require(try bridge.siteStatus("lang-cong"))
        #expect(status["media"] as? String == "rtp" && status["signalling"] as? String == "udp", "\(status)")
        let quality = try controlRequest(bridge.dataDirectory, ["command": "quality"])
        let rows = (quality["meetings"] as? [[String: Any]])?.first?["sites"] as? [[String: Any]] ?? []
        let row = rows.first { $0["site"] as? String == "lang-cong" }
        #expect(row?["media"] as? String == "rtp" && row?["signalling"] as? String == "udp", "\(quality)")
        baresip.finish(within: 12)
        #expect(!baresip.output.contains("SRTP is Enabled"))
        _ = bridge.finish(host)
        let hostHeard = try WAVFile.read(heard)
        #expect(Tone.dominant(among: [440, 880], in: hostHeard[(48_000 * 3)..<(48_000 * 6)])?.frequency == 880)
        let baresipHeard = try WAVFile.read(try baresip.decodedDump())
        #expect(Tone.dominant(among: [440, 880], in: baresipHeard[(48_000 * 2)..<(48_000 * 5)])?.frequency == 440)
        #expect(bridge.stop() == 0)
    }

    /// SDES keys only over TLS where asked: with `signalling: "tls"` for tam-son, its keyed call over UDP (and over
    /// TCP) gets 403 naming TLS while lang-cong's is taken; with `keysRequireTLS`, every keyed call over UDP is
    /// refused, and a plain-RTP site's unkeyed call still gets in.
    @Test func keysTravelOnlyOverTLSWhereTheSiteOrTheBridgeRequiresIt() throws {
        do {
            let bridge = try RunningBridge(sip: #"{"sites": {"tam-son": {"signalling": "tls", "address": "127.0.0.1"}}}"#)
            let sip = try #require(bridge.sip)
            let probe = try SIPProbe(bridge: sip)
            let refused = try probe.call(user: "tam-son", password: try sipPassword(bridge, "tam-son"))
            #expect(refused.statusCode == 403 && refused.reasonPhrase?.contains("TLS") == true, "\(refused.startLine)")
            let tcp = try LoopbackStream(from: "127.0.0.1", to: sip)
            tcp.send(streamInvite(user: "tam-son", source: "127.0.0.1", port: 5060, bridge: sip))
            let overTCP = tcp.message(seconds: 5)
            #expect(overTCP?.statusCode == 403 && overTCP?.reasonPhrase?.contains("TLS") == true, "\(String(describing: overTCP?.startLine))")
            #expect(try bridge.siteStatus("tam-son") == nil)
            let other = try SIPProbe(bridge: sip)
            #expect(try other.call(user: "lang-cong", password: try sipPassword(bridge, "lang-cong")).statusCode == 200)
            #expect(bridge.stop() == 0)
        }
        do {
            let bridge = try RunningBridge(sip: #"{"keysRequireTLS": true, "sites": {"lang-cong": {"media": "rtp"}}}"#)
            let sip = try #require(bridge.sip)
            let keyed = try SIPProbe(bridge: sip)
            let refused = try keyed.call(user: "tam-son", password: try sipPassword(bridge, "tam-son"))
            #expect(refused.statusCode == 403 && refused.reasonPhrase?.contains("sip.keysRequireTLS") == true, "\(refused.startLine)")
            let plain = try SIPProbe(bridge: sip)
            plain.sdp = plainOffer
            let admitted = try plain.call(user: "lang-cong", password: try sipPassword(bridge, "lang-cong"))
            #expect(admitted.statusCode == 200, "\(admitted.startLine)")
            #expect(!String(decoding: admitted.body, as: UTF8.self).contains("a=crypto"))
            #expect(bridge.stop() == 0)
        }
    }
}
