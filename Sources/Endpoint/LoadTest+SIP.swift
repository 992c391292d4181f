import AudioSignal
import OpusCodec
import RTP
import SDP
import SRTP
import Transport
import VoiceCodecs

extension LoadTest {
    /// Sites that join as SIP room systems (``Options/sip``): the last ``sites`` of the keys each place a real call
    /// to the bridge's SIP port (``SIPLoadCall``) and send SRTP audio in ``codec`` (G.722 and G.711 encoded by
    /// `VoiceCodecs`, Opus by libopus), 20 ms a packet, without RFC 6464 levels (room systems send none: the bridge
    /// measures them), and count the authentic packets they hear as native sites do. BYE at the end.
    public struct SIPOptions: Sendable {
        /// The bridge's SIP address (UDP). On loopback: each SIP site takes a loopback address of its own
        /// (127.0.1.1, 127.0.1.2, ...), as halls have one each and the bridge caps calls from one address.
        public var bridge: SocketAddress
        public var sites: Int
        public var codec: SIPAudioCodec
        /// Of ``Options/talkers``, how many are SIP sites (the first SIP sites); the rest are native.
        public var talkers: Int
        public init(bridge: SocketAddress, sites: Int, codec: SIPAudioCodec, talkers: Int) {
            self.bridge = bridge
            self.sites = sites
            self.codec = codec
            self.talkers = talkers
        }
    }

    /// How the SIP sites' calls went.
    public struct SIPResult: Sendable {
        public var calls = 0
        public var connected = 0
        /// Sites whose call failed, with why.
        public var failures: [String] = []
        /// Milliseconds from the first INVITE to the last ACK.
        public var callsMilliseconds = 0.0
        /// BYEs the bridge answered with 200.
        public var hungUp = 0
        /// Per SIP site: authentic packets per second received over the measured interval, sorted.
        public var receivedPerSecond: [Double] = []
    }

    /// The address the `index`-th SIP site binds (signalling and media): a loopback address of its own.
    static func sipSiteHost(_ index: Int) -> String { "127.0.\(1 + index / 250).\(1 + index % 250)" }

    /// What a SIP site sends: a talker's tone (G.722/G.711: a second of it encoded once by `VoiceFrameEncoder`, sent
    /// in turn, so the generator's own CPU stays low; Opus: encoded every frame), the frame of a muted room (others),
    /// its payload type.
    final class SIPMedia {
        let codec: SIPAudioCodec
        var call: SIPLoadCall?
        var payloadType: UInt8 = 0
        let toneFrames: [[UInt8]]
        let opusEncoder: Opus.Encoder?
        var connected = false

        init(codec: SIPAudioCodec, talkerFrequency: Double?) throws {
            self.codec = codec
            let format = Self.format(codec)
            opusEncoder = talkerFrequency != nil && format == nil ? try Opus.Encoder(configuration: .init(dtx: false)) : nil
            var frames: [[UInt8]] = []
            if let frequency = talkerFrequency, let format {
                let encoder = VoiceFrameEncoder(format: format)
                var payload = [UInt8](repeating: 0, count: format.payloadBytesPerFrame)
                for i in 0..<50 {  // whole cycles of a whole-hertz tone: the second repeats without a step
                    let pcm = Tone.samples(frequency: frequency, amplitude: 0.2, start: i * 960, count: 960)
                    _ = try pcm.withUnsafeBufferPointer { p in try payload.withUnsafeMutableBytes { try encoder.encode48k(p, into: $0) } }
                    frames.append(payload)
                }
            }
            toneFrames = frames
        }

        static func format(_ codec: SIPAudioCodec) -> VoicePayloadFormat? {
            switch codec {
            case .opus: nil
            case .g722: .g722
            case .pcma: .pcma
            case .pcmu: .pcmu
            }
        }

        /// RTP timestamp ticks of 20 ms.
        var frameTicks: UInt32 { codec == .opus ? 960 : 160 }
    }

    /// A second of a muted room (a low hiss) in `codec`, encoded once, 50 frames sent in turn.
    static func quietFrames(_ codec: SIPAudioCodec) throws -> [[UInt8]] {
        var frames: [[UInt8]] = []
        if let format = SIPMedia.format(codec) {
            let encoder = VoiceFrameEncoder(format: format)
            var payload = [UInt8](repeating: 0, count: format.payloadBytesPerFrame)
            for i in 0..<50 {
                let pcm = Tone.samples(frequency: 3000, amplitude: 0.001, start: i * 960, count: 960)
                _ = try pcm.withUnsafeBufferPointer { p in try payload.withUnsafeMutableBytes { try encoder.encode48k(p, into: $0) } }
                frames.append(payload)
            }
        } else {
            let encoder = try Opus.Encoder(configuration: .init(dtx: false))
            for i in 0..<60 {
                let frame = try encoder.encode(Tone.samples(frequency: 3000, amplitude: 0.001, start: i * 960, count: 960))
                if i >= 10 { frames.append(frame) }
            }
        }
        return frames
    }

    /// Binds a SIP site's media socket on its own address at an even port (the SDP's RTCP would be the next one).
    static func sipMediaSocket(host: String) throws -> UDPSocket {
        var odd: [UDPSocket] = []
        defer { for socket in odd { socket.close() } }
        for _ in 0..<32 {
            let socket = try UDPSocket(bindTo: try SocketAddress(ip: host, port: 0), receiveBufferBytes: 1 << 20)
            if socket.localAddress.port % 2 == 0 { return socket }
            odd.append(socket)
        }
        throw EndpointError("no even UDP port on \(host) after 32 tries")
    }

    /// Places the SIP sites' calls one after another (the first join of each); a failed call is recorded, and tried
    /// again with backoff from the media loop (``SIPJoins``), unless the bridge refused it for good.
    func placeSIPCalls(_ participants: [Participant], options sip: SIPOptions, failures: inout JoinFailureLog,
                       random: inout SystemRandomNumberGenerator) -> SIPResult {
        var result = SIPResult()
        let start = monotonicNanoseconds()
        for p in participants {
            guard let media = p.sip else { continue }
            result.calls += 1
            p.result.firstJoinAttempts = 1
            do {
                let call = try SIPLoadCall(key: p.key, host: p.host, mediaPort: p.socket.localAddress.port, bridge: sip.bridge,
                                           codec: media.codec)
                media.call = call
                try p.called(call, negotiation: try call.call())
                p.result.firstJoinedAtUnixMilliseconds = ReferenceEndpoint.unixMilliseconds()
                result.connected += 1
            } catch {
                let failure = error as? EndpointError ?? EndpointError(JoinFailureLog.describe(error, bridge: sip.bridge))
                result.failures.append("\(p.key.site): \(failure)")
                firstJoinFailed(p, failure, failures: &failures, random: &random)
            }
        }
        result.callsMilliseconds = Double(monotonicNanoseconds() - start) / 1e6
        return result
    }

    /// Writes a SIP site's 20 ms packet (no header extension) into `raw`; returns its plain length.
    static func writeSIPPacket(_ p: Participant, media: SIPMedia, frame: Int, quiet: [[UInt8]],
                               into raw: UnsafeMutableRawBufferPointer) throws -> Int {
        let header = try RTPHeader.write(into: raw, payloadType: media.payloadType, sequenceNumber: p.sequence,
                                         timestamp: p.timestamp, ssrc: p.ssrc)
        let out = UnsafeMutableRawBufferPointer(rebasing: raw[header...])
        if let opus = media.opusEncoder {
            let pcm = Tone.samples(frequency: p.frequency, amplitude: 0.2, start: frame * 960, count: 960)
            return header + (try pcm.withUnsafeBufferPointer { try opus.encode($0, into: out) })
        }
        let frames = media.toneFrames.isEmpty ? quiet : media.toneFrames
        let payload = frames[frame % frames.count]
        UnsafeMutableRawBufferPointer(rebasing: out[0..<payload.count]).copyBytes(from: payload)
        return header + payload.count
    }
}
