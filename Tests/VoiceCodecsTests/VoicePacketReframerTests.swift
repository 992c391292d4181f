import Testing
import VoiceCodecs

/// Room systems' 10-60 ms packets cut into the bridge's 20 ms frames.
@Suite("Voice packet reframing")
struct VoicePacketReframerTests {
    /// A stream of `seconds` of bytes numbered by their position (byte i is i mod 251), cut into packets of
    /// `milliseconds`, starting at `firstTimestamp`.
    static func packets(milliseconds: Int, count: Int, firstTimestamp: UInt32) -> [(timestamp: UInt32, payload: [UInt8])] {
        let bytes = milliseconds * 8
        return (0..<count).map { k in
            (firstTimestamp &+ UInt32(k * bytes), (0..<bytes).map { UInt8((k * bytes + $0) % 251) })
        }
    }

    typealias Frame = (sequence: UInt16, timestamp: UInt32, payload: [UInt8])

    static func run(_ reframer: VoicePacketReframer, _ packets: [(timestamp: UInt32, payload: [UInt8])]) throws -> [Frame] {
        var frames: [Frame] = []
        for packet in packets {
            try packet.payload.withUnsafeBytes { payload in
                _ = try reframer.reframe(timestamp: packet.timestamp, payload: payload) { sequence, timestamp, frame in
                    frames.append((sequence, timestamp, Array(frame)))
                }
            }
        }
        return frames
    }

    /// Frame n of the numbered stream: 160 bytes from byte 160 n.
    static func expected(_ n: Int) -> [UInt8] { (0..<160).map { UInt8((n * 160 + $0) % 251) } }

    @Test(arguments: [10, 30, 40, 50, 60])
    func everyPacketTimeBecomesWholeFramesInOrder(milliseconds: Int) throws {
        // Across the 32-bit timestamp wrap.
        let packets = Self.packets(milliseconds: milliseconds, count: 60, firstTimestamp: 0xFFFF_F000)
        let frames = try Self.run(VoicePacketReframer(), packets)
        #expect(frames.count == 60 * milliseconds / 20)
        for (n, frame) in frames.enumerated() {
            #expect(frame.payload == Self.expected(n), "frame \(n)")
            #expect(frame.timestamp == 0xFFFF_F000 &+ UInt32(n * 160))
            #expect(frame.sequence == UInt16(n))
        }
    }

    @Test func aSplitFrameIsAssembledWhicheverHalfComesFirstAndALostPacketLeavesAGap() throws {
        var packets = Self.packets(milliseconds: 30, count: 8, firstTimestamp: 1000)
        packets.swapAt(2, 3)  // reordered: frame 4's second half before its first
        packets.remove(at: 5)  // lost: frames 7 (half) and 8 (half of the next pair's first) cannot be completed
        let reframer = VoicePacketReframer()
        let frames = try Self.run(reframer, packets)
        let numbers = frames.map { Int($0.sequence) }.sorted()
        #expect(numbers == [0, 1, 2, 3, 4, 5, 6, 9, 10, 11])
        for frame in frames { #expect(frame.payload == Self.expected(Int(frame.sequence))) }
    }

    @Test func lengthsThatAreNotWholeTenMillisecondsAreRefused() throws {
        let reframer = VoicePacketReframer()
        for bytes in [0, 79, 100, 161, 560] {
            let payload = [UInt8](repeating: 0, count: max(bytes, 1))
            #expect(throws: VoiceCodecError.self) {
                try payload.withUnsafeBytes { p in
                    try reframer.reframe(timestamp: 0, payload: UnsafeRawBufferPointer(rebasing: p[0..<bytes])) { _, _, _ in }
                }
            }
        }
        #expect(VoicePacketReframer.accepts(payloadBytes: 480) && !VoicePacketReframer.accepts(payloadBytes: 560))
    }
}
