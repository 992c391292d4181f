import Testing
@testable import RTP

@Suite("RTCP packets")
struct RTCPTests {
    static let block = ReportBlock(ssrc: 0x1111_2222, fractionLost: 85, cumulativeLost: -5,
                                   extendedHighestSequence: 0x0001_0005, jitter: 37,
                                   lastSenderReport: 0x5678_9ABC, delaySinceLastSenderReport: 0x0001_8000)
    static let sr = RTCPPacket.senderReport(SenderReport(
        ssrc: 0xAAAA_0001, ntpTimestamp: NTPTimestamp(seconds: 0xE000_0000, fraction: 0x8000_0000),
        rtpTimestamp: 123_456, packetCount: 500, octetCount: 40_000, reports: [block, block]))
    static let rr = RTCPPacket.receiverReport(ReceiverReport(ssrc: 0xAAAA_0002, reports: [block]))

    static let compounds: [[RTCPPacket]] = [
        [sr],
        [rr],
        [RTCPPacket.receiverReport(ReceiverReport(ssrc: 5))],
        [sr, .sourceDescription(SourceDescription(ssrc: 0xAAAA_0001, cname: "08740.vinhphuc"))],
        [rr, .sourceDescription(SourceDescription(chunks: [
            .init(ssrc: 1, items: [.init(type: 1, value: Array("a".utf8)), .init(type: 2, value: Array("Xã Đạo Trù".utf8))]),
            .init(ssrc: 2, items: [.init(type: 1, value: Array("abc".utf8))]),
        ]))],
        [rr, .goodbye(Goodbye(sources: [1, 2, 3], reason: "meeting ended"))],
        [rr, .goodbye(Goodbye(sources: [9]))],
        [rr, .application(ApplicationDefined(subtype: 3, ssrc: 4, name: "VCBR", data: [1, 2, 3, 4]))],
        [rr, .nack(GenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [100, 101, 103, 116, 117, 200]))],
        [rr, .pictureLossIndication(PictureLossIndication(senderSSRC: 1, mediaSSRC: 2))],
        [rr, .fullIntraRequest(FullIntraRequest(senderSSRC: 1, entries: [.init(ssrc: 2, sequenceNumber: 7),
                                                                         .init(ssrc: 3, sequenceNumber: 255)]))],
        [sr, .other(packetType: 207, countOrFormat: 0, body: [0, 0, 0, 1, 4, 0, 0, 2, 0, 0, 0, 0])],
    ]

    @Test("serialize then parse returns the same packets", arguments: compounds)
    func roundTrip(packets: [RTCPPacket]) throws {
        let bytes = try RTCPCompound.serialize(packets)
        #expect(bytes.count % 4 == 0)
        #expect(try RTCPCompound.parse(bytes) == packets)
    }

    @Test func knownWireBytesOfAPLI() throws {
        let bytes = try RTCPCompound.serialize([.pictureLossIndication(PictureLossIndication(senderSSRC: 1, mediaSSRC: 2))])
        #expect(bytes == [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2])
    }

    @Test func nackPacksSequenceNumbersIntoBitmasks() {
        let nack = GenericNACK(senderSSRC: 1, mediaSSRC: 2, lost: [100, 101, 103, 116, 117, 65535, 0])
        #expect(nack.entries == [.init(packetID: 100, lostBitmask: 0b1000_0000_0000_0000 | 0b101),
                                 .init(packetID: 117, lostBitmask: 0),
                                 .init(packetID: 65535, lostBitmask: 1)])
        #expect(nack.lostSequenceNumbers == [100, 101, 103, 116, 117, 65535, 0])
    }

    @Test func cumulativeLossIs24BitSigned() throws {
        var b = Self.block
        for value: Int32 in [-0x80_0000, -1, 0, 0x7F_FFFF] {
            b.cumulativeLost = value
            let bytes = try RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: 1, reports: [b]))])
            guard case .receiverReport(let rr) = try RTCPCompound.parse(bytes)[0] else { Issue.record(); return }
            #expect(rr.reports[0].cumulativeLost == value)
        }
        b.cumulativeLost = 0x80_0000
        #expect(throws: PacketError.invalidField) {
            try RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: 1, reports: [b]))])
        }
    }

    @Test func sdesCNameAndByeReasonAreReadable() throws {
        let bytes = try RTCPCompound.serialize([Self.rr, .sourceDescription(SourceDescription(ssrc: 7, cname: "Phường Trưng Nhị")),
                                                .goodbye(Goodbye(sources: [7], reason: "rời phòng"))])
        let packets = try RTCPCompound.parse(bytes)
        guard case .sourceDescription(let sdes) = packets[1], case .goodbye(let bye) = packets[2] else {
            Issue.record("wrong packet types \(packets)")
            return
        }
        #expect(sdes.chunks[0].cname == "Phường Trưng Nhị")
        #expect(bye.reasonText == "rời phòng")
    }

    @Test func paddingOnTheLastPacketIsAccepted() throws {
        var bytes = try RTCPCompound.serialize([Self.rr])
        bytes[0] |= 0x20
        bytes += [0, 0, 0, 4]
        let words = UInt16((bytes.count / 4) - 1)
        bytes[2] = UInt8(words >> 8); bytes[3] = UInt8(words & 0xFF)
        #expect(try RTCPCompound.parse(bytes) == [Self.rr])
    }

    static let rrBytes = try! RTCPCompound.serialize([rr])
    static let pliBytes = try! RTCPCompound.serialize([.pictureLossIndication(PictureLossIndication(senderSSRC: 1, mediaSSRC: 2))])

    static var malformedCases: [([UInt8], PacketError)] {
        var longer = rrBytes
        longer[3] += 1  // length says one word more than there is
        var shorter = rrBytes
        shorter[3] -= 1  // length says one word less: the report block no longer fits
        let stray = rrBytes + [0x80, 0]  // 2 stray bytes
        var paddedFirst = rrBytes + pliBytes
        paddedFirst[0] |= 0x20
        var badVersion = rrBytes
        badVersion[0] = (badVersion[0] & 0x3F) | 0x40
        let srTooShort: [UInt8] = [0x80, 200, 0, 3, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
        var countPastEnd = try! RTCPCompound.serialize([.receiverReport(ReceiverReport(ssrc: 1))])
        countPastEnd[0] |= 2  // claims 2 report blocks, has none
        let sdesItemPastEnd = rrBytes + [0x81, 202, 0, 2, 0, 0, 0, 1, 1, 9, 0x61, 0x62]
        let byeReasonPastEnd = rrBytes + [0x81, 203, 0, 2, 0, 0, 0, 1, 20, 0x61, 0x62, 0x63]
        let nackEmpty = rrBytes + [0x81, 205, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]
        var paddingTooLong = rrBytes
        paddingTooLong[0] |= 0x20
        paddingTooLong[paddingTooLong.count - 1] = 200
        return [
            ([], .rtcpEmptyCompound),
            ([0x80, 201], .rtcpLengthMismatch),
            (longer, .rtcpLengthMismatch),
            (shorter, .rtcpReportCountPastEnd),
            (stray, .rtcpLengthMismatch),
            (pliBytes, .rtcpCompoundMustStartWithReport),
            (pliBytes + rrBytes, .rtcpCompoundMustStartWithReport),
            (paddedFirst, .rtcpPaddingNotLast),
            (badVersion, .unsupportedVersion),
            (srTooShort, .rtcpTruncated),
            (countPastEnd, .rtcpReportCountPastEnd),
            (sdesItemPastEnd, .rtcpMalformedItem),
            (byeReasonPastEnd, .rtcpMalformedItem),
            (nackEmpty, .rtcpMalformedItem),
            (paddingTooLong, .paddingExceedsPacket),
        ]
    }

    @Test("malformed compounds give their named error", arguments: malformedCases)
    func malformed(bytes: [UInt8], error: PacketError) {
        #expect(throws: error) { try RTCPCompound.parse(bytes) }
    }
}

@Suite("Allocation-free RTCP")
struct RTCPFastPathTests {
    static let block = ReportBlock(ssrc: 0xBEEF, fractionLost: 12, cumulativeLost: -3, extendedHighestSequence: 70_000,
                                   jitter: 99, lastSenderReport: 0x1234_5678, delaySinceLastSenderReport: 0x0001_0000)

    @Test("written compounds parse back with the general parser", arguments: [true, false])
    func writeThenParse(goodbye: Bool) throws {
        var buffer = [UInt8](repeating: 0xEE, count: 200)
        let ntp = NTPTimestamp(seconds: 0xE000_0001, fraction: 0x4000_0000)
        let length = try buffer.withUnsafeMutableBytes { raw in
            try RTCPFastPath.writeReport(into: raw, ssrc: 42, ntp: ntp, rtpTimestamp: 960, packetCount: 5, octetCount: 500,
                                         block: Self.block, cname: "vcbridge", goodbye: goodbye)
        }
        let packets = try RTCPCompound.parse(Array(buffer[0..<length]))
        var expected: [RTCPPacket] = [
            .senderReport(SenderReport(ssrc: 42, ntpTimestamp: ntp, rtpTimestamp: 960, packetCount: 5, octetCount: 500,
                                       reports: [Self.block])),
            .sourceDescription(SourceDescription(ssrc: 42, cname: "vcbridge")),
        ]
        if goodbye { expected.append(.goodbye(Goodbye(sources: [42]))) }
        #expect(packets == expected)
        // And the fast reader finds the SR time and the block.
        let reading = try buffer.withUnsafeBytes { try RTCPFastPath.read(UnsafeRawBufferPointer(rebasing: $0[0..<length]), blockAbout: 0xBEEF) }
        #expect(reading.senderReportNTP == ntp.compact)
        #expect(reading.block == Self.block)
    }

    @Test func theFastReaderRejectsWhatTheParserRejects() {
        // The fast reader also takes reduced-size feedback (RFC 5506), which may come first.
        for (bytes, error) in RTCPTests.malformedCases where error != .rtcpMalformedItem && error != .rtcpCompoundMustStartWithReport {
            #expect(throws: PacketError.self) {
                try bytes.withUnsafeBytes { try RTCPFastPath.read($0, blockAbout: 1) }
            }
        }
        #expect(throws: PacketError.bufferTooSmall) {
            var small = [UInt8](repeating: 0, count: 20)
            _ = try small.withUnsafeMutableBytes {
                try RTCPFastPath.writeReport(into: $0, ssrc: 1, ntp: .init(seconds: 0, fraction: 0), rtpTimestamp: 0,
                                             packetCount: 0, octetCount: 0, block: nil, cname: "x", goodbye: false)
            }
        }
    }

    @Test func feedbackIsDeliveredRequestByRequest() throws {
        let compound = try RTCPCompound.serialize([
            .receiverReport(ReceiverReport(ssrc: 9)),
            .nack(GenericNACK(senderSSRC: 9, mediaSSRC: 77, lost: [100, 101, 105, 300])),
            .pictureLossIndication(PictureLossIndication(senderSSRC: 9, mediaSSRC: 78)),
            .fullIntraRequest(FullIntraRequest(senderSSRC: 9, entries: [.init(ssrc: 79, sequenceNumber: 4)])),
        ])
        var seen: [RTCPFastPath.Feedback] = []
        _ = try compound.withUnsafeBytes { try RTCPFastPath.read($0, blockAbout: 1) { seen.append($0) } }
        #expect(seen == [
            .nack(senderSSRC: 9, mediaSSRC: 77, packetID: 100, lostBitmask: 0b1_0001),
            .nack(senderSSRC: 9, mediaSSRC: 77, packetID: 300, lostBitmask: 0),
            .pictureLoss(senderSSRC: 9, mediaSSRC: 78),
            .fullIntraRequest(senderSSRC: 9, mediaSSRC: 79, sequenceNumber: 4),
        ])
    }

    @Test func aMalformedCompoundDeliversNoFeedback() throws {
        var compound = try RTCPCompound.serialize([
            .receiverReport(ReceiverReport(ssrc: 9)),
            .pictureLossIndication(PictureLossIndication(senderSSRC: 9, mediaSSRC: 78)),
        ])
        compound += [0x80, 200, 0, 9]  // an SR claiming 40 bytes after the PLI
        var seen = 0
        #expect(throws: PacketError.rtcpLengthMismatch) {
            try compound.withUnsafeBytes { try RTCPFastPath.read($0, blockAbout: 1) { _ in seen += 1 } }
        }
        #expect(seen == 0)
    }

    @Test func everyReportBlockIsDeliveredWhateverItIsAbout() throws {
        // A browser's RR about the bridge's audio and its two video streams, then an SR with one more block.
        func block(_ ssrc: UInt32, lost: UInt8) -> ReportBlock {
            ReportBlock(ssrc: ssrc, fractionLost: lost, cumulativeLost: Int32(lost), extendedHighestSequence: 9,
                        jitter: 1, lastSenderReport: 0, delaySinceLastSenderReport: 0)
        }
        let blocks = [block(1, lost: 0), block(70, lost: 51), block(71, lost: 3)]
        let compound = try RTCPCompound.serialize([
            .receiverReport(ReceiverReport(ssrc: 9, reports: blocks)),
            .pictureLossIndication(PictureLossIndication(senderSSRC: 9, mediaSSRC: 70)),
        ])
        var seen: [ReportBlock] = []
        var requests = 0
        let reading = try compound.withUnsafeBytes {
            try RTCPFastPath.read($0, blockAbout: 1, feedback: { _ in requests += 1 }, reportBlock: { seen.append($0) })
        }
        #expect(seen == blocks)
        #expect(reading.block == blocks[0])
        #expect(requests == 1)
        // A malformed compound delivers no block either.
        var broken = compound
        broken += [0x80, 200, 0, 9]
        seen = []
        #expect(throws: PacketError.rtcpLengthMismatch) {
            try broken.withUnsafeBytes { try RTCPFastPath.read($0, blockAbout: 1, reportBlock: { seen.append($0) }) }
        }
        #expect(seen.isEmpty)
    }

    @Test("keyframe requests parse with the general parser", arguments: [nil, UInt8(7)])
    func keyframeRequests(fir: UInt8?) throws {
        var buffer = [UInt8](repeating: 0, count: 64)
        let length = try buffer.withUnsafeMutableBytes {
            try RTCPFastPath.writeKeyframeRequest(into: $0, senderSSRC: 5, mediaSSRC: 6, firSequence: fir)
        }
        let packets = try RTCPCompound.parse(Array(buffer[0..<length]))
        #expect(packets.first == .receiverReport(ReceiverReport(ssrc: 5)))
        if let fir {
            #expect(packets.last == .fullIntraRequest(FullIntraRequest(senderSSRC: 5, entries: [.init(ssrc: 6, sequenceNumber: fir)])))
        } else {
            #expect(packets.last == .pictureLossIndication(PictureLossIndication(senderSSRC: 5, mediaSSRC: 6)))
        }
    }
}

@Suite("REMB")
struct REMBTests {
    @Test func aREMBForThreeHundredKilobitsIsLaidOutAsTheDraftSays() throws {
        var bytes = [UInt8](repeating: 0, count: 40)
        let length = try bytes.withUnsafeMutableBytes {
            try RTCPFastPath.writeEstimatedMaximumBitrate(into: $0, senderSSRC: 0x0102_0304, mediaSSRC: 0xA0B0_C0D0, bitsPerSecond: 300_000)
        }
        #expect(length == 32)
        #expect(Array(bytes[0..<8]) == [0x80, 201, 0, 1, 1, 2, 3, 4])  // an empty RR first: a compound starts with a report
        #expect(Array(bytes[8..<12]) == [0x8F, 206, 0, 5])  // PSFB, FMT 15, six words
        #expect(Array(bytes[12..<24]) == [1, 2, 3, 4, 0, 0, 0, 0] + Array("REMB".utf8))
        // One SSRC; 300,000 = 150,000 x 2^1: exponent 1, mantissa 150,000 (0x249F0).
        #expect(Array(bytes[24..<28]) == [1, 0x06, 0x49, 0xF0])
        #expect(Array(bytes[28..<32]) == [0xA0, 0xB0, 0xC0, 0xD0])
        // Any rate survives the 18-bit mantissa within one part in 2^17.
        for rate: UInt64 in [0, 1, 262_143, 262_144, 2_500_000, 1 << 40] {
            _ = try bytes.withUnsafeMutableBytes {
                try RTCPFastPath.writeEstimatedMaximumBitrate(into: $0, senderSSRC: 1, mediaSSRC: 2, bitsPerSecond: rate)
            }
            let word = UInt32(bytes[24]) << 24 | UInt32(bytes[25]) << 16 | UInt32(bytes[26]) << 8 | UInt32(bytes[27])
            let decoded = UInt64(word & 0x3FFFF) << UInt64((word >> 18) & 0x3F)
            #expect(decoded <= rate && rate - decoded <= rate >> 17, "\(rate) -> \(decoded)")
        }
    }
}
