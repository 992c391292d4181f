import RTP
import SRTP
import Testing
import VideoFormats
@testable import VideoRouter

/// A site sending one small VP8 frame per packet, fast enough for hundreds of thousands of packets.
/// The payload ends with the site and a serial number, so a test can tell which packet arrived.
struct SerialSender {
    let site: Int
    var sequence: UInt16
    var timestamp: UInt32
    var serial: UInt32 = 0
    private var packet = [UInt8](repeating: 0, count: 12 + 5 + 20 + 5)

    init(site: Int, firstSequence: UInt16) {
        self.site = site
        sequence = firstSequence
        timestamp = UInt32(truncatingIfNeeded: 987_654 * (site + 1))
    }

    /// Sends the next frame through the router.
    mutating func send(key: Bool, router: VideoRouter, now: Int64, sink: any VideoSink) {
        let (sequence, timestamp, serial, site) = (self.sequence, self.timestamp, self.serial, self.site)
        packet.withUnsafeMutableBytes { raw in
            _ = try! RTPHeader.write(into: raw, marker: true, payloadType: 96, sequenceNumber: sequence,
                                     timestamp: timestamp, ssrc: UInt32(site + 1))
            // VP8 payload descriptor (start of partition 0), then the frame's first bytes: bit 0 clear is a keyframe.
            raw[12] = 0x10
            raw[13] = key ? 0x10 : 0x11
            raw[14] = 0x9D; raw[15] = 0x01; raw[16] = 0x2A
            raw[raw.count - 5] = UInt8(site)
            raw.storeBytes(of: serial.bigEndian, toByteOffset: raw.count - 4, as: UInt32.self)
            let header = try! RTPHeader(parsing: UnsafeRawBufferPointer(raw))
            router.receive(UnsafeRawBufferPointer(raw), header: header, codec: .vp8, from: site, now: now, sink: sink)
        }
        self.sequence &+= 1
        self.timestamp &+= 3000
        self.serial += 1
    }
}

/// Extends a receiver's 16-bit sequence numbers as an SRTP receiver estimates its index (RFC 3711 §3.3.1).
struct SequenceExtender {
    private var highest: Int64?

    mutating func extend(_ sequence: UInt16) -> Int64 {
        guard let h = highest else {
            highest = Int64(sequence)
            return Int64(sequence)
        }
        let e = h + Int64(Int16(bitPattern: sequence &- UInt16(truncatingIfNeeded: h)))
        highest = max(h, e)
        return e
    }
}

/// Checks every copy as it is forwarded (keeping everything would take gigabytes): per receiver
/// stream, sequence numbers continue by one, and while a stream shows one source, that source's
/// packets arrive one after another with none missing.
final class ContinuitySink: VideoSink {
    struct StreamKey: Hashable { var receiver: Int; var ssrc: UInt32 }
    struct StreamState {
        var lastSequence: UInt16
        var source: UInt8
        var lastSerial: UInt32
        var packets = 0
        var switches = 0
    }
    private(set) var streams: [StreamKey: StreamState] = [:]
    private(set) var problems: [String] = []
    /// The last bytes sent per stream by sequence number (64 kept), to compare repairs with.
    private(set) var recent: [StreamKey: [UInt16: [UInt8]]] = [:]
    private(set) var resent: [(receiver: Int, bytes: [UInt8])] = []
    private let sent = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)

    deinit { sent.deallocate() }

    func forward(_ packet: UnsafeRawBufferPointer, codec: VideoCodec, to receiver: Int, ssrc: UInt32, sequenceNumber: UInt16,
                 timestamp: UInt32) -> UnsafeRawBufferPointer? {
        let source = packet[packet.count - 5]
        let serial = packet.loadUnaligned(fromByteOffset: packet.count - 4, as: UInt32.self).bigEndian
        let key = StreamKey(receiver: receiver, ssrc: ssrc)
        if var s = streams[key] {
            if sequenceNumber != s.lastSequence &+ 1, problems.count < 20 {
                problems.append("receiver \(receiver) ssrc \(ssrc): sequence \(sequenceNumber) after \(s.lastSequence)")
            }
            if source == s.source {
                if serial != s.lastSerial + 1, problems.count < 20 {
                    problems.append("receiver \(receiver) ssrc \(ssrc): packet \(serial) of site \(source) after \(s.lastSerial)")
                }
            } else {
                s.switches += 1
            }
            s.lastSequence = sequenceNumber
            s.source = source
            s.lastSerial = serial
            s.packets += 1
            streams[key] = s
        } else {
            streams[key] = StreamState(lastSequence: sequenceNumber, source: source, lastSerial: serial, packets: 1)
        }
        sent.copyMemory(from: packet)
        sent.storeBytes(of: sequenceNumber.bigEndian, toByteOffset: 2, as: UInt16.self)
        sent.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        sent.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        let copy = UnsafeRawBufferPointer(rebasing: sent[0..<packet.count])
        recent[key, default: [:]][sequenceNumber] = Array(copy)
        recent[key]![sequenceNumber &- 64] = nil
        return copy
    }

    func resend(_ protected: UnsafeRawBufferPointer, to receiver: Int) { resent.append((receiver, Array(protected))) }

    func requestKeyframe(from source: Int, fir: Bool) {}
}

/// Four sites: the host (0) and site 1 send video; sites 2 and 3 only receive. The floor moves
/// between the host and site 1.
final class LongMeeting {
    let router = VideoRouter(capacity: 8, host: 0, policy: VideoPolicy())
    var now: Int64 = 1_000_000_000
    var host = SerialSender(site: 0, firstSequence: 60_000)
    var guest = SerialSender(site: 1, firstSequence: 7)

    init() {
        for s in 0..<4 { router.add(site: s, presenterSSRC: presenterSSRC(s), speakerSSRC: speakerSSRC(s)) }
    }

    /// The host sends `packets` packets at 333 a second (a keyframe every 0.3 s), site 1 a tenth as
    /// many; the floor changes every `floorEvery` host packets; `between` runs after each.
    func run(packets: Int, floorEvery: Int, sink: any VideoSink, between: (Int) -> Void = { _ in }) {
        for i in 0..<packets {
            now += 3_000_000
            host.send(key: i % 100 == 0, router: router, now: now, sink: sink)
            if i % 10 == 0 { guest.send(key: (i / 10) % 10 == 0, router: router, now: now, sink: sink) }
            if i % 7 == 0 { router.tick(loudestTalker: 1, now: now, sink: sink) }
            if i % floorEvery == floorEvery / 2 {
                router.giveFloor(to: router.floor == nil ? 1 : nil, now: now, sink: sink)
            }
            between(i)
        }
    }
}

@Suite("Video over hours")
struct LongMeetingTests {
    @Test func streamsRunAcrossSequenceWrapsAndSwitchesWithNothingMissing() {
        let meeting = LongMeeting()
        let sink = ContinuitySink()
        meeting.run(packets: 210_000, floorEvery: 25_000, sink: sink)  // 10.5 minutes, 8 floor changes; the numbers wrap 3 times
        #expect(sink.problems.isEmpty, "\(sink.problems)")
        for r in [2, 3] {
            let presenter = sink.streams[.init(receiver: r, ssrc: presenterSSRC(r))]
            #expect((presenter?.switches ?? 0) >= 8)
            #expect((presenter?.packets ?? 0) > 100_000)
            // Still flowing at the end: the floor is back with the host, whose last packet arrived.
            #expect(meeting.router.floor == nil)
            #expect(presenter?.source == 0 && presenter?.lastSerial == meeting.host.serial - 1)
            #expect((sink.streams[.init(receiver: r, ssrc: speakerSSRC(r))]?.packets ?? 0) > 10_000)
        }
        #expect(meeting.router.statistics(of: 3)?.presenterSource == 0)
    }

    @Test func aNackAfterTheNumbersWrappedGetsTheSameBytesBack() throws {
        let meeting = LongMeeting()
        let sink = ContinuitySink()
        meeting.run(packets: 70_000, floorEvery: 1_000_000, sink: sink)
        let key = ContinuitySink.StreamKey(receiver: 3, ssrc: presenterSSRC(3))
        let last = try #require(sink.streams[key]).lastSequence
        let wanted = last &- 10
        let before = try #require(sink.recent[key]?[wanted])
        meeting.router.feedback(.nack(senderSSRC: 9, mediaSSRC: presenterSSRC(3), packetID: wanted, lostBitmask: 0b101),
                                from: 3, now: meeting.now, sink: sink)
        #expect(sink.resent.count == 3)
        #expect(sink.resent.first?.receiver == 3 && sink.resent.first?.bytes == before)
        #expect(sink.resent.last?.bytes == sink.recent[key]?[wanted &+ 3])
        #expect(meeting.router.statistics(of: 3)?.nacksAnswered == 3)
    }
}

/// Protects every copy with a real libsrtp2 session per receiver (AES-GCM, as the bridge does) and
/// records each (SSRC, index) with its ciphertext: an index must never carry two different ones.
final class SRTPRecordingSink: VideoSink {
    private var sessions: [Int: SRTPSession] = [:]
    private var indices: [UInt32: SequenceExtender] = [:]
    private var ciphertexts: [UInt64: [UInt8]] = [:]
    private(set) var reused: [String] = []
    private var forwardedIndices: [UInt32: SequenceExtender] = [:]
    private var forwarded: Set<UInt64> = []
    /// The newest sequence number sent per SSRC.
    private(set) var lastSequence: [UInt32: UInt16] = [:]
    private(set) var protected = 0
    private(set) var repeats = 0
    private let slot = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500 + SRTPSession.maxTrailerLength, alignment: 8)

    deinit { slot.deallocate() }

    func forward(_ packet: UnsafeRawBufferPointer, codec: VideoCodec, to receiver: Int, ssrc: UInt32, sequenceNumber: UInt16,
                 timestamp: UInt32) -> UnsafeRawBufferPointer? {
        if sessions[receiver] == nil {
            sessions[receiver] = try! SRTPSession(profile: .aeadAES128GCM, direction: .outbound,
                                                  keyingMaterial: (0..<28).map { _ in UInt8.random(in: 0...255) })
        }
        // The router must never ask for an index to be protected again (a NACK's answer is a resend of
        // the bytes, not a second forward): that is where a nonce would be reused, whatever libsrtp2 says.
        let index = forwardedIndices[ssrc, default: SequenceExtender()].extend(sequenceNumber)
        if !forwarded.insert(UInt64(ssrc) << 32 | UInt64(UInt32(truncatingIfNeeded: index))).inserted, reused.count < 20 {
            reused.append("SSRC \(ssrc) index \(index): forwarded twice")
        }
        slot.copyMemory(from: packet)
        slot.storeBytes(of: sequenceNumber.bigEndian, toByteOffset: 2, as: UInt16.self)
        slot.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        slot.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        guard let length = try? sessions[receiver]!.protectRTP(slot, length: packet.count) else { return nil }
        let sent = UnsafeRawBufferPointer(rebasing: slot[0..<length])
        lastSequence[ssrc] = sequenceNumber
        record(sent)
        protected += 1
        return sent
    }

    func resend(_ bytes: UnsafeRawBufferPointer, to receiver: Int) {
        record(bytes)
        repeats += 1
    }

    func requestKeyframe(from source: Int, fir: Bool) {}

    private func record(_ bytes: UnsafeRawBufferPointer) {
        let ssrc = bytes.loadUnaligned(fromByteOffset: 8, as: UInt32.self).bigEndian
        let sequence = bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self).bigEndian
        let index = indices[ssrc, default: SequenceExtender()].extend(sequence)
        let key = UInt64(ssrc) << 32 | UInt64(UInt32(truncatingIfNeeded: index))
        let ciphertext = Array(bytes)
        if let earlier = ciphertexts[key], earlier != ciphertext, reused.count < 20 {
            reused.append("SSRC \(ssrc) index \(index): two different ciphertexts")
        }
        ciphertexts[key] = ciphertext
    }
}

@Suite("SRTP indices are never reused")
struct NonceReuseTests {
    @Test func noIndexCarriesTwoCiphertextsThroughWrapsSwitchesAndANackStorm() {
        let meeting = LongMeeting()
        let sink = SRTPRecordingSink()
        var random = SystemRandomNumberGenerator()
        // 70,000 host packets: every receiver stream's numbers wrap; the floor moves every 10,000.
        // Every 25 packets sites 2 and 3 ask again for a burst of recent and older packets (a NACK storm:
        // some answerable, some long gone, some from before the last switch).
        meeting.run(packets: 70_000, floorEvery: 10_000, sink: sink) { i in
            guard i % 25 == 0 else { return }
            for r in [2, 3] {
                for ssrc in [presenterSSRC(r), speakerSSRC(r)] {
                    guard let newest = sink.lastSequence[ssrc] else { continue }
                    let back = UInt16.random(in: 1...400, using: &random)
                    meeting.router.feedback(.nack(senderSSRC: 9, mediaSSRC: ssrc, packetID: newest &- back,
                                                  lostBitmask: UInt16.random(in: 0...0xFFFF, using: &random)),
                                            from: r, now: meeting.now, sink: sink)
                }
            }
        }
        #expect(sink.reused.isEmpty, "\(sink.reused)")
        #expect(sink.protected > 150_000)
        #expect(sink.repeats > 1_000)  // the storm was answered, within the repair allowance
    }
}

@Suite("Source sequence numbers")
struct SequenceExtensionTests {
    @Test func aStepOfExactlyHalfTheSpaceCountsForwardAsSRTPEstimatesIt() {
        let source = SiteState(presenterSSRC: 1, speakerSSRC: 2)
        let first = source.extendSequence(100)
        #expect(source.extendSequence(100 &+ 32_768) == first + 32_768)
        #expect(source.extendSequence(100 &+ 32_769) == first + 32_769)  // and it goes on from there
        #expect(source.extendSequence(100 &+ 32_700) == first + 32_700)  // a late one stays behind
    }
}
