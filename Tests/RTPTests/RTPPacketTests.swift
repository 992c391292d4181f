import Testing
@testable import RTP

private func header(_ bytes: [UInt8]) throws(PacketError) -> RTPHeader {
    let result: Result<RTPHeader, PacketError> = bytes.withUnsafeBytes { raw in
        do throws(PacketError) { return .success(try RTPHeader(parsing: raw)) } catch { return .failure(error) }
    }
    return try result.get()
}

@Suite("RTP packets")
struct RTPPacketTests {
    static let twoByteElements: [(id: UInt8, data: [UInt8])] = [(1, []), (200, [UInt8](repeating: 7, count: 40))]
    static let twoByte = try! RTPHeaderExtension.twoByte(twoByteElements, appBits: 3)

    static let samples: [RTPPacket] = [
        RTPPacket(payloadType: 111, sequenceNumber: 1, timestamp: 960, ssrc: 0xDEAD_BEEF, payload: [1, 2, 3]),
        RTPPacket(marker: true, payloadType: 96, sequenceNumber: 65535, timestamp: 0xFFFF_FFFF, ssrc: 1,
                  csrcs: [10, 20, 30], payload: (0..<200).map { UInt8($0) }),
        RTPPacket(payloadType: 0, sequenceNumber: 7, timestamp: 8, ssrc: 9,
                  headerExtension: try! .oneByte([(1, [0x85]), (3, [1, 2, 3, 4, 5])]), payload: [9, 9]),
        RTPPacket(payloadType: 100, sequenceNumber: 7, timestamp: 8, ssrc: 9, csrcs: [77],
                  headerExtension: twoByte,
                  payload: [1], paddingLength: 3),
        RTPPacket(payloadType: 100, sequenceNumber: 7, timestamp: 8, ssrc: 9,
                  headerExtension: RTPHeaderExtension(profile: 0x1234, data: [1, 2, 3, 4]), payload: []),
        RTPPacket(payloadType: 127, sequenceNumber: 0, timestamp: 0, ssrc: 0, payload: [], paddingLength: 255),
    ]

    @Test("serialize then parse returns the same packet", arguments: samples)
    func roundTrip(packet: RTPPacket) throws {
        let bytes = try packet.serialized()
        #expect(try RTPPacket(parsing: bytes) == packet)
        #expect(try RTPPacket(parsing: bytes).serialized() == bytes)
    }

    @Test func headerFieldsAndRanges() throws {
        let packet = Self.samples[3]
        let bytes = try packet.serialized()
        let h = try header(bytes)
        #expect(h.payloadType == 100 && h.sequenceNumber == 7 && h.timestamp == 8 && h.ssrc == 9)
        #expect(h.csrcCount == 1 && !h.marker)
        #expect(h.extensionProfile == 0x1003)
        #expect(h.paddingLength == 3)
        #expect(Array(bytes[h.payloadRange]) == [1])
        bytes.withUnsafeBytes { raw in
            #expect(h.csrc(0, in: raw) == 77)
            let elements = Array(h.extensionElements(in: raw))
            #expect(elements.map(\.id) == [1, 200])
            #expect(elements[0].range.isEmpty)
            #expect(Array(raw[elements[1].range]) == Array(repeating: 7, count: 40))
        }
    }

    @Test func oneByteElementsSkipPaddingAndStopAtReservedID() throws {
        // Elements: id 2 (2 bytes), two padding bytes, id 4 (1 byte), id 15 then junk that must be ignored.
        let ext = RTPHeaderExtension(profile: 0xBEDE, data: [0x21, 0xAA, 0xBB, 0x00, 0x00, 0x40, 0xCC, 0xF0])
        let bytes = try RTPPacket(payloadType: 1, sequenceNumber: 1, timestamp: 1, ssrc: 1,
                                  headerExtension: ext, payload: [5]).serialized()
        let h = try header(bytes)
        bytes.withUnsafeBytes { raw in
            let elements = Array(h.extensionElements(in: raw))
            #expect(elements.map(\.id) == [2, 4])
            #expect(Array(raw[elements[0].range]) == [0xAA, 0xBB])
            #expect(h.extensionElement(id: 4, in: raw).map { Array(raw[$0]) } == [0xCC])
            #expect(h.extensionElement(id: 5, in: raw) == nil)
        }
    }

    @Test func audioLevelExtensionWrittenWithoutAllocationParsesBack() throws {
        var buffer = [UInt8](repeating: 0xFF, count: 64)
        let length = try buffer.withUnsafeMutableBytes { raw in
            try RTPHeader.write(into: raw, marker: true, payloadType: 111, sequenceNumber: 513, timestamp: 96_000,
                                ssrc: 42, audioLevel: (id: 1, level: AudioLevel(level: 30, voiceActivity: true)))
        }
        #expect(length == 20)
        let h = try header(Array(buffer[0..<(length + 3)]))
        #expect(h.marker && h.payloadType == 111 && h.sequenceNumber == 513 && h.timestamp == 96_000)
        #expect(h.payloadRange == 20..<23)
        buffer.withUnsafeBytes { raw in
            #expect(h.audioLevel(id: 1, in: raw) == AudioLevel(level: 30, voiceActivity: true))
            #expect(h.audioLevel(id: 2, in: raw) == nil)
        }
    }

    @Test func writeRefusesSmallBufferAndBadFields() {
        var small = [UInt8](repeating: 0, count: 11)
        #expect(throws: PacketError.bufferTooSmall) {
            try small.withUnsafeMutableBytes { try RTPHeader.write(into: $0, payloadType: 1, sequenceNumber: 0, timestamp: 0, ssrc: 0) }
        }
        var big = [UInt8](repeating: 0, count: 40)
        #expect(throws: PacketError.invalidField) {
            try big.withUnsafeMutableBytes { try RTPHeader.write(into: $0, payloadType: 128, sequenceNumber: 0, timestamp: 0, ssrc: 0) }
        }
        #expect(throws: PacketError.invalidField) {
            try RTPPacket(payloadType: 1, sequenceNumber: 0, timestamp: 0, ssrc: 0, csrcs: Array(repeating: 1, count: 16), payload: []).serialized()
        }
        #expect(throws: PacketError.invalidField) { try RTPHeaderExtension.oneByte([(15, [1])]) }
    }

    static let valid: [UInt8] = [0x80, 111, 0, 1, 0, 0, 3, 0xC0, 0, 0, 0, 42, 0xAA, 0xBB]

    static let malformedCases: [([UInt8], PacketError)] = [
        (Array(valid[0..<11]), PacketError.truncatedHeader),
        ([], PacketError.truncatedHeader),
        ([0x40] + Array(valid[1...]), PacketError.unsupportedVersion),
        ([0xC0] + Array(valid[1...]), PacketError.unsupportedVersion),
        // Padding bit, last byte says 200 bytes of padding.
        ([0xA0] + Array(valid[1..<13]) + [200], PacketError.paddingExceedsPacket),
        ([0xA0] + Array(valid[1..<13]) + [0], PacketError.zeroPaddingLength),
        // Padding bit on a packet that is only a header.
        ([0xA0] + Array(valid[1..<12]), PacketError.paddingExceedsPacket),
        // CSRC count 3 but only 2 bytes after the header.
        ([0x83] + Array(valid[1...]), PacketError.csrcListPastEnd),
        // Extension bit with only 2 bytes after the header.
        ([0x90] + Array(valid[1...]), PacketError.extensionPastEnd),
        // Extension claims 2 words, has 1.
        ([0x90] + Array(valid[1..<12]) + [0xBE, 0xDE, 0, 2, 0x10, 0, 0, 0], PacketError.extensionPastEnd),
        // One-byte element of 4 bytes in a 4-byte block (header byte + 4 > 4).
        ([0x90] + Array(valid[1..<12]) + [0xBE, 0xDE, 0, 1, 0x13, 0, 0, 0], PacketError.extensionElementPastEnd),
        // Two-byte element claiming 9 bytes in a 4-byte block.
        ([0x90] + Array(valid[1..<12]) + [0x10, 0x00, 0, 1, 0x05, 9, 0, 0], PacketError.extensionElementPastEnd),
    ]

    @Test("malformed packets give their named error", arguments: malformedCases)
    func malformed(bytes: [UInt8], error: PacketError) {
        #expect(throws: error) { try header(bytes) }
        #expect(throws: error) { try RTPPacket(parsing: bytes) }
    }

    @Test func errorsDescribeWhatIsWrong() {
        #expect(PacketError.csrcListPastEnd.description == "CSRC count runs past the end of the packet")
        #expect(PacketError.rtcpLengthMismatch("x").description.hasSuffix(": x"))
    }
}

@Suite("Parsers never trap")
struct FuzzTests {
    /// A small deterministic generator (SplitMix64), so a failure reproduces.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    @Test func randomAndMutatedBytes() throws {
        var rng = SplitMix(state: 2026)
        let seeds: [[UInt8]] = try RTPPacketTests.samples.map { try $0.serialized() } + [
            try RTCPCompound.serialize([
                .senderReport(SenderReport(ssrc: 1, ntpTimestamp: .init(seconds: 1, fraction: 2), rtpTimestamp: 3,
                                           packetCount: 4, octetCount: 5,
                                           reports: [ReportBlock(ssrc: 2, fractionLost: 1, cumulativeLost: -3,
                                                                 extendedHighestSequence: 4, jitter: 5,
                                                                 lastSenderReport: 6, delaySinceLastSenderReport: 7)])),
                .sourceDescription(SourceDescription(ssrc: 1, cname: "site")),
                .nack(GenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [1, 3, 40])),
                .fullIntraRequest(FullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 2, sequenceNumber: 3)])),
                .goodbye(Goodbye(sources: [1], reason: "bye")),
            ]),
        ]
        var parsed = 0
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int.random(in: 0..<80, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            } else {
                bytes = seeds[Int.random(in: 0..<seeds.count, using: &rng)]
                for _ in 0..<Int.random(in: 1...4, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
                if Bool.random(using: &rng) { bytes.removeLast(Int.random(in: 0...min(8, bytes.count), using: &rng)) }
            }
            if (try? header(bytes)) != nil { parsed += 1 }
            if let packet = try? RTPPacket(parsing: bytes) {
                bytes.withUnsafeBytes { raw in
                    if let h = try? RTPHeader(parsing: raw) { _ = Array(h.extensionElements(in: raw)) }
                }
                _ = try? packet.serialized()
            }
            _ = try? RTCPCompound.parse(bytes)
        }
        #expect(parsed > 0)
    }
}
