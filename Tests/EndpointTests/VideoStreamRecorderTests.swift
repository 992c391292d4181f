@testable import Endpoint
import RTP
import Testing
import VideoFormats

/// The reference endpoint's receiving side: which lost packets it asks for, when, and how often.
@Suite("Video stream recorder: loss repair")
struct VideoStreamRecorderTests {
    static let ms: Int64 = 1_000_000

    /// One single-packet VP8 frame per sequence number (a keyframe first).
    func insert(_ recorder: inout VideoStreamRecorder, _ sequence: UInt16, at time: Int64) throws -> [UInt16] {
        var bytes = [UInt8](repeating: 0, count: 40)
        let payload = [0x10, sequence == 1 ? 0x10 : 0x11, 0x9D, 0x01, 0x2A] + [UInt8](repeating: 0x5A, count: 20)
        try bytes.withUnsafeMutableBytes { raw in
            _ = try RTPHeader.write(into: raw, marker: true, payloadType: 96, sequenceNumber: sequence,
                                    timestamp: UInt32(sequence) * 3600, ssrc: 7)
        }
        let header = try bytes.withUnsafeBytes { try RTPHeader(parsing: $0) }
        return recorder.insert(header, payload: payload, arrival: time)
    }

    @Test func aMissingPacketIsAskedForAtOnceAndAgainWhileItsRepairCanStillCome() throws {
        var recorder = VideoStreamRecorder(codec: .vp8)
        #expect(try insert(&recorder, 1, at: 0) == [])
        #expect(try insert(&recorder, 3, at: 10 * Self.ms) == [2])  // 2 is missing: asked at once
        #expect(recorder.nacksDue(now: 10 * Self.ms + recorder.nackRetryInterval - Self.ms) == [])
        #expect(recorder.nacksDue(now: 10 * Self.ms + recorder.nackRetryInterval) == [2])
        // The next retry would come after the 250 ms the recorder waits for a repair: not asked again.
        #expect(recorder.nacksDue(now: 250 * Self.ms) == [])
        #expect(recorder.statistics.nacksSent == 2)
        _ = recorder.advance(now: 261 * Self.ms)
        #expect(recorder.statistics.packetsLost == 1)
        #expect(recorder.nacksDue(now: 400 * Self.ms) == [])
    }

    @Test func aRepairedPacketIsNotAskedForAgainAndQuickRepairsShortenTheRetryInterval() throws {
        var recorder = VideoStreamRecorder(codec: .vp8)
        #expect(recorder.nackRetryInterval == 150 * Self.ms)  // before any repair: 1.5 x 100 ms
        var now: Int64 = 0
        var sequence: UInt16 = 1
        #expect(try insert(&recorder, sequence, at: now) == [])
        for _ in 0..<30 {  // every other packet lost and repaired 20 ms after the NACK
            now += 40 * Self.ms
            let missing = sequence + 1
            #expect(try insert(&recorder, sequence + 2, at: now) == [missing])
            #expect(try insert(&recorder, missing, at: now + 20 * Self.ms) == [])
            #expect(recorder.nacksDue(now: now + 200 * Self.ms) == [])  // repaired: never asked again
            sequence += 2
        }
        #expect(recorder.statistics.packetsRecovered == 30)
        #expect(recorder.nackRetryInterval == 40 * Self.ms)  // 1.5 x about 20 ms, at the 40 ms floor
        // Now a lost packet is asked for three times within the repair wait, and no more.
        now += 40 * Self.ms
        #expect(try insert(&recorder, sequence + 2, at: now) == [sequence + 1])
        var asked = 1
        for step in 1...12 where !recorder.nacksDue(now: now + Int64(step) * 20 * Self.ms).isEmpty { asked += 1 }
        #expect(asked == VideoStreamRecorder.nacksPerPacket)
    }
}

@Suite("Video stream recorder: freezes")
struct VideoStreamRecorderFreezeTests {
    static let ms: Int64 = 1_000_000

    func frame(_ recorder: inout VideoStreamRecorder, _ sequence: UInt16, at time: Int64) throws {
        var bytes = [UInt8](repeating: 0, count: 12)
        let payload = [0x10, sequence == 1 ? 0x10 : 0x11, 0x9D, 0x01, 0x2A] + [UInt8](repeating: 0x5A, count: 20)
        try bytes.withUnsafeMutableBytes { raw in
            _ = try RTPHeader.write(into: raw, marker: true, payloadType: 96, sequenceNumber: sequence,
                                    timestamp: UInt32(sequence) * 3600, ssrc: 7)
        }
        let header = try bytes.withUnsafeBytes { try RTPHeader(parsing: $0) }
        _ = recorder.insert(header, payload: payload, arrival: time)
        _ = recorder.advance(now: time)
        recorder.watchForFreeze(now: time)
    }

    @Test func aStreamThatStopsForGoodIsAFreeze() throws {
        var recorder = VideoStreamRecorder(codec: .vp8)
        for s in 1...50 { try frame(&recorder, UInt16(s), at: Int64(s) * 40 * Self.ms) }  // 2 s at 25 frames/s
        let stopped = 50 * 40 * Self.ms
        recorder.watchForFreeze(now: stopped + 400 * Self.ms)
        #expect(recorder.statistics.freezes == 0)
        recorder.watchForFreeze(now: stopped + 600 * Self.ms)  // seen while it lasts, not only when it ends
        #expect(recorder.statistics.freezes == 1)
        recorder.watchForFreeze(now: stopped + 119_000 * Self.ms)  // the same freeze, still one
        recorder.finish(now: stopped + 120_000 * Self.ms)
        #expect(recorder.statistics.freezes == 1)
        #expect(abs(recorder.statistics.freezeSeconds - 120) < 0.01)
        #expect(recorder.statistics.frames == 50)
    }

    @Test func aStreamThatComesBackCountsOneFreezeWithItsLength() throws {
        var recorder = VideoStreamRecorder(codec: .vp8)
        for s in 1...10 { try frame(&recorder, UInt16(s), at: Int64(s) * 40 * Self.ms) }
        recorder.watchForFreeze(now: 1_000 * Self.ms)  // 600 ms without a frame: frozen
        #expect(recorder.statistics.freezes == 1)
        try frame(&recorder, 11, at: 1_400 * Self.ms)  // back after 1 s
        for s in 12...20 { try frame(&recorder, UInt16(s), at: 1_400 * Self.ms + Int64(s - 11) * 40 * Self.ms) }
        recorder.finish(now: 1_800 * Self.ms)
        #expect(recorder.statistics.freezes == 1)
        #expect(abs(recorder.statistics.freezeSeconds - 1.0) < 0.01)
        // A freeze noticed only when the next frame came (nobody watched meanwhile) counts too.
        try frame(&recorder, 21, at: 2_800 * Self.ms)
        #expect(recorder.statistics.freezes == 2)
    }
}
