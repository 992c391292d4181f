#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SIP
import Synchronization
import Testing
import Transport
@testable import VCBridgeCLI

/// baresip (Debian `baresip-core`), a real and independent SIP user agent, headless and pinned to loopback
/// (recipe in ../shared/guide/sip-notes.md): SDES-SRTP mandatory, Opus (and G.722/G.711 when asked), sending a WAV
/// file and dumping what it decoded (`sndfile`). It either dials the bridge with a site's digest credentials, or
/// waits in auto-answer mode as a hall's room system the bridge dials.
final class Baresip: @unchecked Sendable {
    static let executable = "/usr/bin/baresip"
    let directory: String
    let process = Process()
    private let log = LogBuffer()

    /// Ports already handed to a baresip by this test process (never handed out twice).
    private static let handedOut = Mutex<Set<UInt16>>([])

    /// A loopback port for a baresip to listen on, free for both UDP and TCP (baresip binds both, and fails to start
    /// if either is taken). It is chosen below the kernel's ephemeral range (32768-60999 on Linux): a port the kernel
    /// handed out and took back could be given to another test's outgoing connection between this probe and
    /// baresip's bind (seen under full-suite load: "tcp: sock_bind: Address already in use").
    static func freePort() throws -> UInt16 {
        for _ in 0..<200 {
            let candidate = UInt16.random(in: 20_000..<32_000)
            guard handedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
            let address = try SocketAddress(ip: "127.0.0.1", port: candidate)
            guard let udp = try? UDPSocket(bindTo: address) else { continue }
            defer { udp.close() }
            guard let tcp = try? TCPListener(bindTo: address) else { continue }
            tcp.close()
            return candidate
        }
        throw CommandFailure("no loopback port in 20000-31999 is free for both UDP and TCP")
    }

    /// Dials `sip:meeting@<bridge>` as `username`/`password`, sending `wav` (48 kHz stereo), for `seconds`.
    /// - Parameters:
    ///   - transport: `udp` or `tcp` (the account's and the dialled URI's `transport` parameter).
    ///   - audioCodecs: baresip's `audio_codecs` for the account (e.g. `G722`, `PCMA`): the only codecs it offers;
    ///     nil offers its Opus.
    ///   - password: nil: no `auth_pass` (a room system that cannot do digest, admitted by its registered address).
    ///   - mediaenc: baresip's media encryption (`srtp-mand`); nil: none, plain RTP.
    convenience init(dialing bridge: SocketAddress, username: String, password: String?, wav: String, seconds: Int,
                     in parent: String, transport: String = "udp", audioCodecs: String? = nil, mediaenc: String? = "srtp-mand") throws {
        let account = "<sip:\(username)@\(bridge);transport=\(transport)>" + (password.map { ";auth_pass=\($0)" } ?? "")
            + ";regint=0" + (mediaenc.map { ";mediaenc=\($0)" } ?? "")
            + (audioCodecs.map { ";audio_codecs=\($0)" } ?? "")
        try self.init(listeningOn: try Self.freePort(), wav: wav, seconds: seconds, directory: parent + "/baresip-\(UUID().uuidString.prefix(8))",
                      account: account, dial: "sip:meeting@\(bridge);transport=\(transport)")
    }

    /// Waits on `port` for calls and answers them by itself, as a hall's room system the bridge dials.
    convenience init(answeringOn port: UInt16, wav: String, seconds: Int, in parent: String) throws {
        try self.init(listeningOn: port, wav: wav, seconds: seconds, directory: parent + "/baresip-answering-\(UUID().uuidString.prefix(8))",
                      account: "<sip:hall@127.0.0.1:\(port)>;regint=0;mediaenc=srtp-mand;answermode=auto", dial: nil)
    }

    private init(listeningOn port: UInt16, wav: String, seconds: Int, directory: String, account: String, dial: String?) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw CommandFailure("baresip is not installed: run Scripts/test.sh, which installs baresip-core")
        }
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
        sip_listen 127.0.0.1:\(port)
        audio_source aufile,\(wav)
        audio_player alsa,null
        audio_alert alsa,null
        module_path /usr/lib/baresip/modules
        module menu.so
        module opus.so
        module g722.so
        module g711.so
        module aufile.so
        module alsa.so
        module sndfile.so
        snd_path \(directory)
        module srtp.so
        module account.so

        """.write(toFile: directory + "/config", atomically: true, encoding: .utf8)
        try (account + "\n").write(toFile: directory + "/accounts", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: Self.executable)
        process.arguments = ["-n", "127.0.0.1", "-f", directory] + (dial.map { ["-e", "/dial \($0)"] } ?? []) + ["-t", String(seconds)]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let log = self.log
        pipe.fileHandleForReading.readabilityHandler = { log.append(String(decoding: $0.availableData, as: UTF8.self)) }
        try process.run()
    }

    var output: String { log.text }

    /// Waits (bounded) until baresip has bound its port and loaded its account: a bridge that dials it before then
    /// rings nobody (under load baresip has taken over 20 s to start). Throws with its output if it stopped or never got there.
    func waitUntilReady(within seconds: Double = 60) throws {
        let ready = "baresip is ready."
        _ = waitFor(seconds) { output.contains(ready) || !process.isRunning }
        guard output.contains(ready) else { throw CommandFailure("baresip did not start: \(output.suffix(2000))") }
    }

    /// Waits (bounded) for baresip to end by its own timer; kills it (SIGKILL) if it has not.
    func finish(within seconds: Double) {
        _ = waitFor(seconds) { !process.isRunning }
        kill()
    }

    /// SIGKILL: a Foundation Process child has SIGINT/SIGTERM blocked.
    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    /// What baresip decoded from the bridge (sndfile's `dump-...-dec.wav`).
    func decodedDump() throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix("-dec.wav") }
        guard let name = names.sorted().last else { throw CommandFailure("baresip wrote no decoded dump: \(output.suffix(2000))") }
        return directory + "/" + name
    }
}

/// A 16-bit 48 kHz stereo WAV of a sine (baresip's Opus is `opus/48000/2`: its aufile source must be stereo).
func stereoToneFile(_ hertz: Double, seconds: Double, into directory: String) throws -> String {
    let path = directory + "/stereo-\(Int(hertz)).wav"
    let count = Int(seconds * 48_000)
    var bytes: [UInt8] = []
    func u16(_ v: Int) { bytes += [UInt8(v & 0xFF), UInt8(v >> 8 & 0xFF)] }
    func u32(_ v: Int) { u16(v & 0xFFFF); u16(v >> 16) }
    bytes += Array("RIFF".utf8); u32(36 + count * 4); bytes += Array("WAVEfmt ".utf8)
    u32(16); u16(1); u16(2); u32(48_000); u32(48_000 * 4); u16(4); u16(16)
    bytes += Array("data".utf8); u32(count * 4)
    for i in 0..<count {
        let sample = Int((sin(2 * Double.pi * hertz * Double(i) / 48_000) * 0.25 * 32767).rounded())
        let word = UInt16(bitPattern: Int16(sample))
        for _ in 0..<2 { u16(Int(word)) }
    }
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
}

/// A SIP client written out by hand over UDP, for what baresip cannot be made to do (a wrong password three times,
/// a probe of the refusal's reason phrase, malformed bytes).
final class SIPProbe {
    let socket: UDPSocket
    let bridge: SocketAddress
    private let batch = DatagramBatch(capacity: 8, slotSize: 65_536)
    let callID = UUID().uuidString
    private var cseq: UInt32 = 0
    /// The CSeq of the last request built: ``finalResponse(seconds:)`` skips responses to earlier ones (a 401 the
    /// bridge retransmits until an ACK that this probe does not send).
    private var lastCSeq: String?
    private var lastInvite: (branch: String, cseq: UInt32, user: String)?
    /// The SDP its INVITEs offer (``offer``: SDES-SRTP, Opus).
    var sdp = SIPProbe.offer
    /// The last request it built (not an ACK), and once sent, resent while ``finalResponse(seconds:)`` waits for its
    /// answer, at 0.5, 1.5 and 3.5 s, as a UAC over UDP does (RFC 3261 Timer A/E): the bridge answers an address
    /// without a call with no more bytes than it sent, so a small request's challenge may wait for its resending.
    private var built: [UInt8]?
    private var unanswered: [UInt8]?

    /// A CANCEL of the last INVITE (its branch and CSeq number, RFC 3261 §9.1).
    func cancel() throws -> [UInt8] {
        let invite = try #require(lastInvite)
        let port = socket.localAddress.port
        lastCSeq = "\(invite.cseq) CANCEL"
        return remember(("CANCEL sip:meeting@\(bridge) SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:\(port);branch=\(invite.branch);rport\r\n"
            + "Max-Forwards: 70\r\nFrom: <sip:\(invite.user)@127.0.0.1>;tag=probe\(invite.cseq)\r\nTo: <sip:meeting@\(bridge)>\r\n"
            + "Call-ID: \(callID)\r\nCSeq: \(invite.cseq) CANCEL\r\nContent-Length: 0\r\n\r\n"))
    }

    private func remember(_ text: String) -> [UInt8] {
        let bytes = Array(text.utf8)
        built = bytes
        return bytes
    }

    private let ownsSocket: Bool

    init(bridge: SocketAddress) throws {
        self.bridge = bridge
        socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        ownsSocket = true
    }

    /// A probe signalling on a socket the caller owns (a hall that also reads it).
    init(bridge: SocketAddress, socket: UDPSocket) throws {
        self.bridge = bridge
        self.socket = socket
        ownsSocket = false
    }

    deinit { if ownsSocket { socket.close() } }

    static let offer = """
    v=0\r
    o=probe 1 1 IN IP4 127.0.0.1\r
    s=-\r
    c=IN IP4 127.0.0.1\r
    t=0 0\r
    m=audio 40000 RTP/SAVP 96\r
    a=rtpmap:96 opus/48000/2\r
    a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz\r
    a=sendrecv\r

    """

    /// An INVITE from `user` (a new transaction, the same call), with an Authorization header if given.
    func invite(user: String, authorization: String? = nil, extra: [String] = [], offer: Bool = true) -> [UInt8] {
        cseq += 1
        let port = socket.localAddress.port
        lastInvite = (branch: "z9hG4bK\(UUID().uuidString.prefix(12))", cseq: cseq, user: user)
        var text = "INVITE sip:meeting@\(bridge) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:\(port);branch=\(lastInvite!.branch);rport\r\n"
            + "Max-Forwards: 70\r\nFrom: <sip:\(user)@127.0.0.1>;tag=probe\(cseq)\r\nTo: <sip:meeting@\(bridge)>\r\n"
            + "Call-ID: \(callID)\r\nCSeq: \(cseq) INVITE\r\nContact: <sip:\(user)@127.0.0.1:\(port)>\r\n"
        if let authorization { text += "Authorization: \(authorization)\r\n" }
        for line in extra { text += line + "\r\n" }
        let body = offer ? sdp : ""
        text += (offer ? "Content-Type: application/sdp\r\n" : "") + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        lastCSeq = "\(cseq) INVITE"
        return remember(text)
    }

    func send(_ bytes: [UInt8]) throws {
        try socket.send(bytes, to: bridge)
        if bytes == built { unanswered = bytes }
    }

    /// An OPTIONS ping outside any call (a room system's keep-alive).
    func options(user: String) -> [UInt8] {
        let text = String(decoding: invite(user: user), as: UTF8.self).replacingOccurrences(of: "INVITE", with: "OPTIONS")
        lastCSeq = "\(cseq) OPTIONS"
        return remember(text)
    }

    /// A request in the dialog a 200 made (its To tag, its Contact as Request-URI), as the caller `user`.
    func inDialog(_ method: String, user: String, answered: SIPMessage, cseq number: UInt32? = nil, body: String = "",
                  extra: [String] = []) throws -> [UInt8] {
        let to = try #require(answered.value("To"))
        let target = try #require(try answered.contacts().first?.uri.description)
        let port = socket.localAddress.port
        let sequence: UInt32
        if let number { sequence = number } else { cseq += 1; sequence = cseq }
        var text = "\(method) \(target) SIP/2.0\r\n"
            + "Via: SIP/2.0/UDP 127.0.0.1:\(port);branch=z9hG4bK\(UUID().uuidString.prefix(12));rport\r\n"
            + "Max-Forwards: 70\r\nFrom: \(try #require(answered.value("From")))\r\nTo: \(to)\r\n"
            + "Call-ID: \(callID)\r\nCSeq: \(sequence) \(method)\r\nContact: <sip:\(user)@127.0.0.1:\(port)>\r\n"
        for line in extra { text += line + "\r\n" }
        if !body.isEmpty { text += "Content-Type: application/sdp\r\n" }
        text += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        if method != "ACK" {
            lastCSeq = "\(sequence) \(method)"
            return remember(text)
        }
        return Array(text.utf8)
    }

    /// Authenticates an INVITE as `user` (answering the first challenge offered) and returns the final response.
    func call(user: String, password: String, extra: [String] = [], offer: Bool = true) throws -> SIPMessage {
        try send(invite(user: user, extra: extra, offer: offer))
        let challenged = try #require(try finalResponse())
        let challenge = try #require(challenged.values("WWW-Authenticate").compactMap(DigestChallenge.init(parsing:)).first,
                                     "\(challenged.startLine)")
        try send(invite(user: user, authorization: try authorization(challenge, username: user, password: password), extra: extra,
                        offer: offer))
        return try #require(try finalResponse())
    }

    /// The next final response (100 Trying skipped), waiting at most `seconds`.
    func finalResponse(seconds: Double = 5) throws -> SIPMessage? {
        let start = Date()
        let deadline = start.addingTimeInterval(seconds)
        var resends = [0.5, 1.5, 3.5]
        while Date() < deadline {
            if let next = resends.first, Date().timeIntervalSince(start) >= next, let unanswered {
                resends.removeFirst()
                try socket.send(unanswered, to: bridge)
            }
            guard try socket.waitReadable(timeoutMilliseconds: 100) else { continue }
            try socket.receive(into: batch)
            for index in 0..<batch.count {
                let bytes = Array(UnsafeRawBufferPointer(batch.datagram(index)))
                if let message = try? SIPMessage.parse(datagram: bytes), let status = message.statusCode, status >= 200,
                   lastCSeq == nil || message.value("CSeq") == lastCSeq {
                    unanswered = nil
                    return message
                }
            }
        }
        return nil
    }

    /// The next request the bridge sends (answered 200 at once), waiting at most `seconds`.
    func request(seconds: Double) throws -> SIPMessage? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            guard try socket.waitReadable(timeoutMilliseconds: 100) else { continue }
            try socket.receive(into: batch)
            for index in 0..<batch.count {
                let bytes = Array(UnsafeRawBufferPointer(batch.datagram(index)))
                guard let message = try? SIPMessage.parse(datagram: bytes), message.isRequest else { continue }
                if let ok = SIPMessage.response(to: message, status: 200) { try send(ok.serialized()) }
                return message
            }
        }
        return nil
    }

    /// The MD5 challenge of a 401.
    static func md5Challenge(_ response: SIPMessage) -> DigestChallenge? {
        response.values("WWW-Authenticate").compactMap(DigestChallenge.init(parsing:)).first { $0.algorithm == .md5 }
    }

    /// Answers `challenge` as `username` with `password`.
    func authorization(_ challenge: DigestChallenge, username: String, password: String) throws -> String {
        try DigestCredentials(username: username, password: password)
            .authorization(for: challenge, method: "INVITE", uri: "sip:meeting@\(bridge)", cnonce: "c\(cseq)", nc: 1)
    }
}
