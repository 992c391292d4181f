#if canImport(Glibc)
import Glibc
#endif
import Admission
import AudioSignal
import OpusCodec
import RTP
import SRTP
import Transport

/// Many endpoints in one process: real joins, real SRTP, real Opus, one UDP socket (one address)
/// per site, on one thread. The first `talkers` sites send distinct tones (encoded every frame);
/// the others send a quiet encoded frame with a silent RFC 6464 level, as a muted room would.
public final class LoadTest {
    public struct Options: Sendable {
        public var bridge: SocketAddress
        public var keys: [SiteKey]
        public var talkers: Int
        public var duration: Double
        public init(bridge: SocketAddress, keys: [SiteKey], talkers: Int, duration: Double) {
            self.bridge = bridge
            self.keys = keys
            self.talkers = talkers
            self.duration = duration
        }
    }

    public struct SiteResult: Sendable {
        public let site: String
        public var sent = 0
        public var received = 0
        public var authenticationFailures = 0
        /// Packets per second received over the measured interval (after the first second).
        public var receivedPerSecond = 0.0
    }

    final class Participant {
        let key: SiteKey
        let joined: JoinClient.Joined
        let socket: UDPSocket
        let outbound: SRTPSession
        let inbound: SRTPSession
        let destination: SocketAddress
        let encoder: Opus.Encoder?
        let frequency: Double
        var sequence = UInt16.random(in: 0...UInt16.max)
        var timestamp = UInt32.random(in: 0...UInt32.max)
        var result: SiteResult
        var receivedAtStart = 0

        init(key: SiteKey, joined: JoinClient.Joined, bridge: SocketAddress, talkerFrequency: Double?) throws {
            self.key = key
            self.joined = joined
            socket = try UDPSocket(bindTo: try SocketAddress(ip: "127.0.0.1", port: 0), receiveBufferBytes: 1 << 20)
            outbound = try SRTPSession(profile: joined.profile, direction: .outbound, keyingMaterial: joined.keys.siteToBridge)
            inbound = try SRTPSession(profile: joined.profile, direction: .inbound, keyingMaterial: joined.keys.bridgeToSite)
            destination = bridge.with(port: UInt16(joined.mediaPort))
            encoder = talkerFrequency == nil ? nil : try Opus.Encoder(configuration: .init(dtx: false))
            frequency = talkerFrequency ?? 0
            result = SiteResult(site: key.site)
        }
    }

    let options: Options
    public init(options: Options) { self.options = options }

    public func run() throws -> [SiteResult] {
        var participants: [Participant] = []
        for (i, key) in options.keys.enumerated() {
            let joined = try JoinClient.join(key: key, bridge: options.bridge)
            participants.append(try Participant(key: key, joined: joined, bridge: options.bridge,
                                                talkerFrequency: i < options.talkers ? 300 + 110 * Double(i) : nil))
        }
        // A muted room's frame: a low hiss, encoded once.
        let quietEncoder = try Opus.Encoder(configuration: .init(dtx: false))
        var quiet = [UInt8]()
        for i in 0..<10 { quiet = try quietEncoder.encode(Tone.samples(frequency: 3000, amplitude: 0.001, start: i * 960, count: 960)) }

        var packet = [UInt8](repeating: 0, count: 1500)
        let batch = DatagramBatch(capacity: 16, slotSize: 1500)
        var fds = participants.map { pollfd(fd: $0.socket.descriptorForPolling, events: Int16(POLLIN), revents: 0) }
        let start = monotonicNanoseconds()
        var nextTick = start
        var frame = 0
        var measuredFrom: Int64 = 0
        while true {
            let now = monotonicNanoseconds()
            if Double(now - start) / 1e9 >= options.duration { break }
            if now < nextTick {
                let wait = Int32(max(0, (nextTick - now) / 1_000_000))
                if poll(&fds, nfds_t(fds.count), wait) > 0 {
                    for (i, fd) in fds.enumerated() where fd.revents & Int16(POLLIN) != 0 {
                        let p = participants[i]
                        let count = try p.socket.receive(into: batch)
                        for j in 0..<count {
                            let datagram = batch.datagram(j)
                            guard datagram.count > 1, datagram[1] < 200 || datagram[1] > 206 else { continue }  // RTCP
                            if (try? p.inbound.unprotectRTP(datagram, length: datagram.count)) != nil {
                                p.result.received += 1
                            } else {
                                p.result.authenticationFailures += 1
                            }
                        }
                    }
                }
                continue
            }
            nextTick += 20_000_000
            if frame == 50 {
                measuredFrom = now
                for p in participants { p.receivedAtStart = p.result.received }
            }
            for p in participants {
                try packet.withUnsafeMutableBytes { raw in
                    let talking = p.encoder != nil
                    let level: UInt8 = talking ? 20 : 127
                    let header = try RTPHeader.write(into: raw, payloadType: 111, sequenceNumber: p.sequence, timestamp: p.timestamp,
                                                     ssrc: p.joined.ssrc,
                                                     audioLevel: (id: 1, level: AudioLevel(level: level, voiceActivity: talking)))
                    var length = header
                    if let encoder = p.encoder {
                        let pcm = Tone.samples(frequency: p.frequency, amplitude: 0.2, start: frame * 960, count: 960)
                        length += try pcm.withUnsafeBufferPointer {
                            try encoder.encode($0, into: UnsafeMutableRawBufferPointer(rebasing: raw[header...]))
                        }
                    } else {
                        UnsafeMutableRawBufferPointer(rebasing: raw[header..<(header + quiet.count)]).copyBytes(from: quiet)
                        length += quiet.count
                    }
                    let protected = try p.outbound.protectRTP(raw, length: length)
                    try p.socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<protected]), to: p.destination)
                }
                p.sequence &+= 1
                p.timestamp &+= 960
                p.result.sent += 1
            }
            frame += 1
        }
        let measured = Double(monotonicNanoseconds() - measuredFrom) / 1e9
        for p in participants {
            p.result.receivedPerSecond = measured > 0 ? Double(p.result.received - p.receivedAtStart) / measured : 0
            try? p.joined.connection.send(line: JoinProtocol.encode(["type": "bye"]))
            p.joined.connection.close()
        }
        return participants.map(\.result)
    }
}
