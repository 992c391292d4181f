import RTP
import Testing
import VideoFormats
@testable import VideoRouter

/// Records what the router asks the media thread to do.
final class RecordingSink: VideoSink {
    struct Forwarded: Equatable {
        var receiver: Int
        var ssrc: UInt32
        var sequence: UInt16
        var timestamp: UInt32
        var payload: [UInt8]
    }
    var forwarded: [Forwarded] = []
    var requests: [(site: Int, fir: Bool)] = []
    /// The last copy "sent" (the packet with its header rewritten; this sink does not encrypt).
    private let sent = UnsafeMutableRawBufferPointer.allocate(byteCount: 1500, alignment: 8)

    deinit { sent.deallocate() }

    func forward(_ packet: UnsafeRawBufferPointer, codec: VideoCodec, to receiver: Int, ssrc: UInt32, sequenceNumber: UInt16,
                 timestamp: UInt32) -> UnsafeRawBufferPointer? {
        let header = try! RTPHeader(parsing: packet)
        forwarded.append(Forwarded(receiver: receiver, ssrc: ssrc, sequence: sequenceNumber, timestamp: timestamp,
                                   payload: Array(packet[header.payloadRange])))
        sent.copyMemory(from: packet)
        sent.storeBytes(of: sequenceNumber.bigEndian, toByteOffset: 2, as: UInt16.self)
        sent.storeBytes(of: timestamp.bigEndian, toByteOffset: 4, as: UInt32.self)
        sent.storeBytes(of: ssrc.bigEndian, toByteOffset: 8, as: UInt32.self)
        return UnsafeRawBufferPointer(rebasing: sent[0..<packet.count])
    }

    func resend(_ protected: UnsafeRawBufferPointer, to receiver: Int) {
        let header = try! RTPHeader(parsing: protected)
        forwarded.append(Forwarded(receiver: receiver, ssrc: header.ssrc, sequence: header.sequenceNumber,
                                   timestamp: header.timestamp, payload: Array(protected[header.payloadRange])))
    }

    func requestKeyframe(from source: Int, fir: Bool) { requests.append((source, fir)) }

    func to(_ receiver: Int, ssrc: UInt32) -> [Forwarded] { forwarded.filter { $0.receiver == receiver && $0.ssrc == ssrc } }
}

/// A site sending VP8: each frame is one or more packets; the payload's last two bytes name the
/// sending site and frame so a test can tell whose video arrived.
struct VideoSender {
    let site: Int
    var sequence: UInt16
    var timestamp: UInt32
    var frame = 0
    var payloadType: UInt8 = 96

    init(site: Int) {
        self.site = site
        sequence = UInt16(truncatingIfNeeded: 1000 * site + 65_000)
        timestamp = UInt32(truncatingIfNeeded: 123_456 * site)
    }

    /// The packets of one frame, each with its RTP header.
    mutating func nextFrame(key: Bool, packets: Int = 2, size: Int = 600) -> [[UInt8]] {
        var frameBytes = [UInt8](repeating: UInt8(truncatingIfNeeded: site), count: size * packets)
        frameBytes[0] = key ? 0x10 : 0x11
        let payloads = VP8.packetize(frame: frameBytes, pictureID: UInt16(frame), maximumPayload: size + 4)
        var result: [[UInt8]] = []
        for (i, payload) in payloads.enumerated() {
            let packet = RTPPacket(marker: i == payloads.count - 1, payloadType: payloadType, sequenceNumber: sequence,
                                   timestamp: timestamp, ssrc: UInt32(site + 1),
                                   payload: payload + [UInt8(site), UInt8(truncatingIfNeeded: frame)])
            result.append(try! packet.serialized())
            sequence &+= 1
        }
        timestamp &+= 3000
        frame += 1
        return result
    }
}

/// The payload types the native join announces.
let nativeCodecs: [UInt8: VideoCodec] = [96: .vp8, 97: .h264]

func presenterSSRC(_ site: Int) -> UInt32 { UInt32(0x1000 + site) }
func speakerSSRC(_ site: Int) -> UInt32 { UInt32(0x2000 + site) }

final class Meeting {
    let router: VideoRouter
    let sink = RecordingSink()
    var now: Int64 = 1_000_000_000

    init(sites: Int, host: Int = 0, policy: VideoPolicy = VideoPolicy()) {
        router = VideoRouter(capacity: 64, host: host, policy: policy)
        for s in 0..<sites { router.add(site: s, presenterSSRC: presenterSSRC(s), speakerSSRC: speakerSSRC(s)) }
    }

    func send(_ packets: [[UInt8]], from site: Int) {
        for packet in packets {
            packet.withUnsafeBytes { raw in
                let header = try! RTPHeader(parsing: raw)
                router.receive(raw, header: header, codec: nativeCodecs[header.payloadType], from: site, now: now, sink: sink)
            }
        }
    }

    func advance(milliseconds: Int64, loudest: Int? = nil) {
        for _ in 0..<(milliseconds / 20) {
            now += 20_000_000
            router.tick(loudestTalker: loudest, now: now, sink: sink)
        }
    }

    func feedback(_ f: RTCPFastPath.Feedback, from site: Int) { router.feedback(f, from: site, now: now, sink: sink) }
}

/// Sequence numbers continue by one and timestamps never go back.
func expectContinuous(_ packets: [RecordingSink.Forwarded], sourceLocation: SourceLocation = #_sourceLocation) {
    for (a, b) in zip(packets, packets.dropFirst()) {
        #expect(b.sequence == a.sequence &+ 1, sourceLocation: sourceLocation)
        #expect(Int32(bitPattern: b.timestamp &- a.timestamp) >= 0, sourceLocation: sourceLocation)
    }
}

@Suite struct PresenterTests {
    @Test func theHostsVideoReachesEveryOtherSiteUnchanged() {
        let m = Meeting(sites: 4)
        var host = VideoSender(site: 0)
        var sent: [[UInt8]] = []
        for i in 0..<10 {
            let frame = host.nextFrame(key: i == 0)
            sent += frame
            m.send(frame, from: 0)
            m.advance(milliseconds: 40)
        }
        #expect(m.sink.forwarded.filter { $0.receiver == 0 }.isEmpty)  // the host does not get its own video back
        for r in 1...3 {
            let got = m.sink.to(r, ssrc: presenterSSRC(r))
            #expect(got.map(\.payload) == sent.map { p in Array(p[12...]) })
            expectContinuous(got)
        }
        #expect(m.router.statistics(of: 0)?.framesIn == 10)
        #expect(m.router.statistics(of: 0)?.keyframesIn == 1)
        #expect(m.router.statistics(of: 2)?.presenterSource == 0)
    }

    @Test func streamsJoinOnlyOnAKeyframe() {
        let m = Meeting(sites: 3)
        var host = VideoSender(site: 0)
        m.send(host.nextFrame(key: false), from: 0)
        m.advance(milliseconds: 20)
        #expect(m.sink.forwarded.isEmpty)
        #expect(m.sink.requests.count == 1)  // one request for the source, though two streams want it
        m.send(host.nextFrame(key: false), from: 0)
        #expect(m.sink.forwarded.isEmpty)
        m.send(host.nextFrame(key: true), from: 0)
        #expect(m.sink.forwarded.count == 4)
    }

    @Test func theFloorMovesThePresenterStreamOnTheNewKeyframe() {
        let m = Meeting(sites: 4)
        var host = VideoSender(site: 0)
        var commune = VideoSender(site: 2)
        m.send(host.nextFrame(key: true), from: 0)
        m.send(commune.nextFrame(key: true), from: 2)
        m.router.giveFloor(to: 2, now: m.now, sink: m.sink)
        #expect(m.sink.requests.last?.site == 2)
        m.send(commune.nextFrame(key: false), from: 2)  // not a keyframe: the stream waits
        m.send(host.nextFrame(key: false), from: 0)
        m.send(commune.nextFrame(key: true), from: 2)
        let toOne = m.sink.to(1, ssrc: presenterSSRC(1))
        #expect(toOne.map { $0.payload[$0.payload.count - 2] } == [0, 0, 0, 0, 2, 2])
        expectContinuous(toOne)
        #expect(m.sink.to(2, ssrc: presenterSSRC(2)).count == 4)  // site 2 keeps the host until... it is the presenter
        #expect(m.router.statistics(of: 2)?.presenterSource == 0)
    }
}

@Suite struct SpeakerTests {
    @Test func speakerStreamFollowsTheTalkerOnItsKeyframe() {
        let m = Meeting(sites: 5)
        var senders = (0..<5).map { VideoSender(site: $0) }
        func everyoneSends(key: Bool) {
            for s in 1..<5 { m.send(senders[s].nextFrame(key: key), from: s) }
        }
        everyoneSends(key: true)
        m.advance(milliseconds: 20, loudest: 1)
        m.sink.requests.removeAll()
        everyoneSends(key: true)
        // Site 1 talks: everyone else's speaker stream shows 1; site 1 itself has no previous speaker yet.
        for r in [2, 3, 4] { #expect(m.router.statistics(of: r)?.speakerSource == 1) }
        #expect(m.router.statistics(of: 1)?.speakerSource == nil)
        // Site 3 becomes the loudest: the switch waits for the hold time.
        m.advance(milliseconds: 500, loudest: 3)
        #expect(m.router.speaker == 1)
        m.advance(milliseconds: 600, loudest: 3)
        #expect(m.router.speaker == 3)
        #expect(m.sink.requests.map(\.site) == [3])  // asked once for a keyframe, for all receivers together
        everyoneSends(key: false)  // no keyframe yet: still site 1
        #expect(m.router.statistics(of: 2)?.speakerSource == 1)
        everyoneSends(key: true)
        for r in [1, 2, 4] { #expect(m.router.statistics(of: r)?.speakerSource == 3) }
        // Site 3 never sees itself: it keeps the previous speaker.
        #expect(m.router.statistics(of: 3)?.speakerSource == 1)
        for r in 1..<5 {
            let got = m.sink.to(r, ssrc: speakerSSRC(r))
            expectContinuous(got)
            #expect(!got.contains { $0.payload[$0.payload.count - 2] == UInt8(r) }, "site \(r) got its own video")
        }
        let toTwo = m.sink.to(2, ssrc: speakerSSRC(2)).map { $0.payload[$0.payload.count - 2] }
        #expect(toTwo == [1, 1, 1, 1, 1, 1, 3, 3])
    }

    @Test func aSwitchThatGetsNoKeyframeKeepsTheOldSourceAndAsksAgain() {
        let m = Meeting(sites: 4)
        var one = VideoSender(site: 1)
        var two = VideoSender(site: 2)
        m.send(one.nextFrame(key: true), from: 1)
        m.send(two.nextFrame(key: true), from: 2)
        m.advance(milliseconds: 20, loudest: 1)
        m.send(one.nextFrame(key: true), from: 1)
        #expect(m.router.statistics(of: 3)?.speakerSource == 1)
        m.advance(milliseconds: 1100, loudest: 2)
        #expect(m.router.speaker == 2)
        for _ in 0..<60 {  // 2.4 s of delta frames only
            m.send(one.nextFrame(key: false), from: 1)
            m.send(two.nextFrame(key: false), from: 2)
            m.advance(milliseconds: 40, loudest: 2)
        }
        #expect(m.router.statistics(of: 3)?.speakerSource == 1)
        #expect(m.router.statistics(of: 3)!.switchTimeouts >= 1)
        #expect(m.sink.requests.filter { $0.site == 2 }.count == 2)  // the first ask, and the retry after 2 s
        expectContinuous(m.sink.to(3, ssrc: speakerSSRC(3)))
    }
}

@Suite struct KeyframeRequestTests {
    @Test func fiftyReceiversAskingAtOnceMakeOneRequest() {
        let m = Meeting(sites: 51)
        var host = VideoSender(site: 0)
        m.send(host.nextFrame(key: true), from: 0)
        m.advance(milliseconds: 20)
        m.sink.requests.removeAll()
        m.advance(milliseconds: 1000)  // the throttle is open again
        for r in 1...50 {
            m.feedback(r % 2 == 0 ? .pictureLoss(senderSSRC: 9, mediaSSRC: presenterSSRC(r))
                                  : .fullIntraRequest(senderSSRC: 9, mediaSSRC: presenterSSRC(r), sequenceNumber: 1), from: r)
            m.now += 2_000_000
        }
        #expect(m.sink.requests.count == 1)
        m.send(host.nextFrame(key: true), from: 0)  // the source answers
        m.advance(milliseconds: 3000)
        #expect(m.sink.requests.count == 1)
        #expect(m.router.statistics(of: 0)?.keyframeRequestsSent == 1)
        #expect(m.router.statistics(of: 7)?.keyframeRequestsReceived == 1)
    }

    @Test func aRequestAfterTheAnsweringKeyframeGoesOutWhenTheIntervalEnds() {
        let m = Meeting(sites: 3)
        var host = VideoSender(site: 0)
        m.send(host.nextFrame(key: true), from: 0)
        m.advance(milliseconds: 1020)
        m.sink.requests.removeAll()
        m.feedback(.pictureLoss(senderSSRC: 9, mediaSSRC: presenterSSRC(1)), from: 1)
        m.advance(milliseconds: 100)
        m.feedback(.pictureLoss(senderSSRC: 9, mediaSSRC: presenterSSRC(1)), from: 1)  // covered by the first
        #expect(m.sink.requests.count == 1)
        m.send(host.nextFrame(key: true), from: 0)  // the answer
        m.advance(milliseconds: 100)
        m.feedback(.pictureLoss(senderSSRC: 9, mediaSSRC: presenterSSRC(2)), from: 2)  // sent before it saw the answer
        #expect(m.sink.requests.count == 1)
        m.advance(milliseconds: 200)
        m.feedback(.fullIntraRequest(senderSSRC: 9, mediaSSRC: presenterSSRC(2), sequenceNumber: 3), from: 2)  // lost again
        m.feedback(.pictureLoss(senderSSRC: 9, mediaSSRC: presenterSSRC(1)), from: 1)
        #expect(m.sink.requests.count == 1)
        m.advance(milliseconds: 1000)
        #expect(m.sink.requests.count == 2)
        #expect(m.sink.requests.last?.fir == true)  // one of the coalesced requests was a FIR
        m.advance(milliseconds: 2000)
        #expect(m.sink.requests.count == 2)
    }
}

@Suite struct RepairTests {
    @Test func aNackForACachedPacketIsAnsweredFromTheCache() throws {
        let m = Meeting(sites: 2)
        var host = VideoSender(site: 0)
        for i in 0..<5 { m.send(host.nextFrame(key: i == 0), from: 0) }
        let delivered = m.sink.to(1, ssrc: presenterSSRC(1))
        let lost = delivered[6]
        m.sink.forwarded.removeAll()
        m.sink.requests.removeAll()
        m.feedback(.nack(senderSSRC: 9, mediaSSRC: presenterSSRC(1), packetID: lost.sequence, lostBitmask: 0b10), from: 1)
        #expect(m.sink.forwarded == [lost, delivered[8]])
        #expect(m.sink.requests.isEmpty)  // the sender is not bothered
        #expect(m.router.statistics(of: 1)?.nacksReceived == 2)
        #expect(m.router.statistics(of: 1)?.nacksAnswered == 2)
    }

    @Test func aReceiverCannotMakeTheBridgeResendWithoutBound() {
        var policy = VideoPolicy()
        policy.maximumRepairsPerSecond = 50
        let m = Meeting(sites: 3, policy: policy)
        var host = VideoSender(site: 0)
        for i in 0..<20 { m.send(host.nextFrame(key: i == 0), from: 0) }  // 40 packets, all in the cache
        let first = m.sink.to(1, ssrc: presenterSSRC(1))[0].sequence
        let firstOfSite2 = m.sink.to(2, ssrc: presenterSSRC(2))[0].sequence
        m.sink.forwarded.removeAll()
        m.sink.requests.removeAll()
        // Site 1 asks for the whole cache five times over in one go (200 packets): 50 are sent again.
        for _ in 0..<5 {
            for (entry, bitmask) in [(0, 0xFFFF), (17, 0xFFFF), (34, 0b11111)] as [(UInt16, UInt16)] {
                m.feedback(.nack(senderSSRC: 9, mediaSSRC: presenterSSRC(1), packetID: first &+ entry, lostBitmask: bitmask), from: 1)
            }
        }
        #expect(m.sink.forwarded.count == 50)
        #expect(m.sink.requests.isEmpty)  // answerable, only over the allowance: the sender is not bothered
        let stats = m.router.statistics(of: 1)
        #expect(stats?.nacksAnswered == 50 && stats?.nacksOverLimit == 150)
        // Site 2 has its own allowance; and site 1's refills with time.
        m.feedback(.nack(senderSSRC: 9, mediaSSRC: presenterSSRC(2), packetID: firstOfSite2, lostBitmask: 0), from: 2)
        m.now += 100_000_000
        m.feedback(.nack(senderSSRC: 9, mediaSSRC: presenterSSRC(1), packetID: first, lostBitmask: 0xFFFF), from: 1)
        #expect(m.router.statistics(of: 2)?.nacksAnswered == 1)
        #expect(m.router.statistics(of: 1)?.nacksAnswered == 55)
    }

    @Test func aNackForAnEvictedPacketBecomesAThrottledKeyframeRequest() {
        let m = Meeting(sites: 3)
        var host = VideoSender(site: 0)
        m.send(host.nextFrame(key: true), from: 0)
        let old = m.sink.to(1, ssrc: presenterSSRC(1))[0]
        m.advance(milliseconds: 1200)
        for _ in 0..<20 {
            m.send(host.nextFrame(key: false), from: 0)
            m.advance(milliseconds: 40)
        }
        m.sink.forwarded.removeAll()
        m.sink.requests.removeAll()
        m.feedback(.nack(senderSSRC: 9, mediaSSRC: presenterSSRC(1), packetID: old.sequence, lostBitmask: 0), from: 1)
        m.feedback(.nack(senderSSRC: 9, mediaSSRC: presenterSSRC(2), packetID: old.sequence, lostBitmask: 0), from: 2)
        #expect(m.sink.forwarded.isEmpty)
        #expect(m.sink.requests.map(\.site) == [0])
        #expect(m.router.statistics(of: 1)?.nacksAnswered == 0)
    }
}

@Suite struct LimitTests {
    @Test func aSiteSendingTenTimesItsAllowanceIsCutWhileOthersAreUnaffected() {
        var policy = VideoPolicy()
        policy.maximumBitsPerSecond = 400_000
        policy.maximumPacketsPerSecond = 1000
        let m = Meeting(sites: 4, policy: policy)
        m.router.giveFloor(to: 1, now: m.now, sink: m.sink)
        var loud = VideoSender(site: 2)  // 4 Mb/s: 10 x its allowance
        var host = VideoSender(site: 0)
        var presenter = VideoSender(site: 1)  // 240 kb/s, within it
        var presenterSent = 0
        for i in 0..<250 {  // 5 s
            m.send(loud.nextFrame(key: i % 50 == 0, packets: 4, size: 1221), from: 2)
            let frame = presenter.nextFrame(key: i % 50 == 0, packets: 1, size: 586)
            presenterSent += frame.count
            m.send(frame, from: 1)
            m.send(host.nextFrame(key: i % 50 == 0, packets: 1, size: 586), from: 0)
            m.advance(milliseconds: 20, loudest: 2)
        }
        let loudStats = m.router.statistics(of: 2)!
        #expect(loudStats.droppedOverRate > 750)
        #expect(loudStats.packetsIn + loudStats.droppedOverRate == 1000)
        let accepted = Double(loudStats.bytesIn) * 8 / 5
        #expect(accepted < 400_000 * 1.25)
        #expect(m.router.statistics(of: 1)?.dropped == 0)
        #expect(m.router.statistics(of: 0)?.dropped == 0)
        #expect(m.sink.to(3, ssrc: presenterSSRC(3)).count == presenterSent)
    }

    @Test func wrongTypesOversizeAndUnauthorisedSendersAreDroppedAndCounted() {
        var policy = VideoPolicy()
        policy.senders = .presenters
        let m = Meeting(sites: 3, policy: policy)
        var host = VideoSender(site: 0)
        var other = VideoSender(site: 2)
        m.send(host.nextFrame(key: true, packets: 1, size: 1400), from: 0)
        host.payloadType = 100
        m.send(host.nextFrame(key: true), from: 0)
        m.send(other.nextFrame(key: true), from: 2)
        m.send([[0x80, 96, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0x80]], from: 0)  // a VP8 descriptor cut short
        let host0 = m.router.statistics(of: 0)!
        #expect(host0.droppedOversize == 1)
        #expect(host0.droppedPayloadType == 2)
        #expect(host0.droppedMalformed == 1)
        #expect(m.router.statistics(of: 2)?.droppedNotAllowed == 2)
        #expect(m.sink.forwarded.isEmpty)
    }
}
