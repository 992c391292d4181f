/// Parsing and serializing RTCP compound packets.
public enum RTCPCompound {
    /// Parses a compound packet with the validity checks of RFC 3550 §6.1 / A.2: every part is
    /// version 2, the length fields add up to the datagram exactly, only the last part may be
    /// padded, and the first part is an SR or RR.
    /// - Throws: ``PacketError`` naming the first thing wrong; never traps on any input.
    public static func parse(_ data: [UInt8]) throws(PacketError) -> [RTCPPacket] {
        let result: Result<[RTCPPacket], PacketError> = data.withUnsafeBytes { bytes in
            do throws(PacketError) { return .success(try parse(bytes)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(PacketError) -> [RTCPPacket] {
        guard !bytes.isEmpty else { throw .rtcpEmptyCompound }
        var packets: [RTCPPacket] = []
        var offset = 0
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else {
                throw .rtcpLengthMismatch("\(bytes.count - offset) stray bytes after the last packet")
            }
            let b0 = bytes.u8(offset)
            guard b0 >> 6 == 2 else { throw .unsupportedVersion("RTCP packet \(packets.count + 1)") }
            let count = b0 & 0x1F
            let packetType = bytes.u8(offset + 1)
            let length = (Int(bytes.u16(offset + 2)) + 1) * 4
            guard length <= bytes.count - offset else {
                throw .rtcpLengthMismatch(
                    "packet \(packets.count + 1) claims \(length) bytes, \(bytes.count - offset) remain")
            }
            var padding = 0
            if b0 & 0x20 != 0 {
                guard offset + length == bytes.count else { throw .rtcpPaddingNotLast }
                padding = Int(bytes.u8(offset + length - 1))
                guard padding > 0 else { throw .zeroPaddingLength }
                guard padding <= length - 4 else { throw .paddingExceedsPacket }
            }
            let body = UnsafeRawBufferPointer(rebasing: bytes[(offset + 4)..<(offset + length - padding)])
            if packets.isEmpty && packetType != RTCPPacketType.senderReport
                && packetType != RTCPPacketType.receiverReport
            {
                throw .rtcpCompoundMustStartWithReport
            }
            packets.append(try parsePacket(type: packetType, count: count, body: body))
            offset += length
        }
        return packets
    }

    private static func parseReportBlocks(
        _ body: UnsafeRawBufferPointer, at start: Int, count: Int
    ) throws(PacketError) -> (blocks: [ReportBlock], end: Int) {
        let end = start + 24 * count
        guard end <= body.count else { throw .rtcpReportCountPastEnd }
        var blocks: [ReportBlock] = []
        blocks.reserveCapacity(count)
        for i in 0..<count {
            let o = start + 24 * i
            let lostWord = body.u32(o + 4)
            // 24-bit two's complement cumulative loss.
            let cumulative = Int32(bitPattern: (lostWord & 0x00FF_FFFF) << 8) >> 8
            blocks.append(ReportBlock(
                ssrc: body.u32(o), fractionLost: UInt8(lostWord >> 24), cumulativeLost: cumulative,
                extendedHighestSequence: body.u32(o + 8), jitter: body.u32(o + 12),
                lastSenderReport: body.u32(o + 16), delaySinceLastSenderReport: body.u32(o + 20)))
        }
        return (blocks, end)
    }

    private static func parsePacket(
        type: UInt8, count: UInt8, body: UnsafeRawBufferPointer
    ) throws(PacketError) -> RTCPPacket {
        let n = Int(count)
        switch type {
        case RTCPPacketType.senderReport:
            guard body.count >= 24 else { throw .rtcpTruncated("sender report needs 24 bytes after its header") }
            let (blocks, end) = try parseReportBlocks(body, at: 24, count: n)
            return .senderReport(SenderReport(
                ssrc: body.u32(0), ntpTimestamp: NTPTimestamp(seconds: body.u32(4), fraction: body.u32(8)),
                rtpTimestamp: body.u32(12), packetCount: body.u32(16), octetCount: body.u32(20),
                reports: blocks, profileExtension: Array(body[end...])))

        case RTCPPacketType.receiverReport:
            guard body.count >= 4 else { throw .rtcpTruncated("receiver report needs its SSRC") }
            let (blocks, end) = try parseReportBlocks(body, at: 4, count: n)
            return .receiverReport(ReceiverReport(
                ssrc: body.u32(0), reports: blocks, profileExtension: Array(body[end...])))

        case RTCPPacketType.sourceDescription:
            var chunks: [SourceDescription.Chunk] = []
            var o = 0
            for _ in 0..<n {
                guard o + 4 <= body.count else { throw .rtcpReportCountPastEnd }
                let ssrc = body.u32(o)
                o += 4
                var items: [SourceDescription.Item] = []
                while true {
                    guard o < body.count else { throw .rtcpMalformedItem("SDES chunk has no end item") }
                    let itemType = body.u8(o)
                    if itemType == 0 {
                        o += 1
                        o = (o + 3) & ~3  // chunks end on a 32-bit boundary
                        guard o <= body.count else { throw .rtcpMalformedItem("SDES chunk padding past the end") }
                        break
                    }
                    guard o + 2 <= body.count else { throw .rtcpMalformedItem("SDES item header past the end") }
                    let itemLength = Int(body.u8(o + 1))
                    guard o + 2 + itemLength <= body.count else {
                        throw .rtcpMalformedItem("SDES item of \(itemLength) bytes runs past the end")
                    }
                    items.append(.init(type: itemType, value: Array(body[(o + 2)..<(o + 2 + itemLength)])))
                    o += 2 + itemLength
                }
                chunks.append(.init(ssrc: ssrc, items: items))
            }
            return .sourceDescription(SourceDescription(chunks: chunks))

        case RTCPPacketType.goodbye:
            guard 4 * n <= body.count else { throw .rtcpReportCountPastEnd }
            let sources = (0..<n).map { body.u32(4 * $0) }
            var reason: [UInt8]? = nil
            let o = 4 * n
            if o < body.count {
                let reasonLength = Int(body.u8(o))
                guard o + 1 + reasonLength <= body.count else {
                    throw .rtcpMalformedItem("BYE reason of \(reasonLength) bytes runs past the end")
                }
                reason = Array(body[(o + 1)..<(o + 1 + reasonLength)])
            }
            var bye = Goodbye(sources: sources)
            bye.reason = reason
            return .goodbye(bye)

        case RTCPPacketType.application:
            guard body.count >= 8 else { throw .rtcpTruncated("APP needs an SSRC and a name") }
            var app = ApplicationDefined(subtype: count, ssrc: body.u32(0), name: "", data: Array(body[8...]))
            app.name = Array(body[4..<8])
            return .application(app)

        case RTCPPacketType.transportFeedback where count == 1:
            guard body.count >= 8 else { throw .rtcpTruncated("feedback needs sender and media SSRCs") }
            guard (body.count - 8) % 4 == 0 else { throw .rtcpMalformedItem("NACK entries are 4 bytes each") }
            let entries = stride(from: 8, to: body.count, by: 4).map {
                GenericNACK.Entry(packetID: body.u16($0), lostBitmask: body.u16($0 + 2))
            }
            guard !entries.isEmpty else { throw .rtcpMalformedItem("NACK with no entry") }
            return .nack(GenericNACK(senderSSRC: body.u32(0), mediaSSRC: body.u32(4), entries: entries))

        case RTCPPacketType.payloadFeedback where count == 1:
            guard body.count >= 8 else { throw .rtcpTruncated("feedback needs sender and media SSRCs") }
            return .pictureLossIndication(PictureLossIndication(senderSSRC: body.u32(0), mediaSSRC: body.u32(4)))

        case RTCPPacketType.payloadFeedback where count == 4:
            guard body.count >= 8 else { throw .rtcpTruncated("feedback needs sender and media SSRCs") }
            guard (body.count - 8) % 8 == 0 else { throw .rtcpMalformedItem("FIR entries are 8 bytes each") }
            let entries = stride(from: 8, to: body.count, by: 8).map {
                FullIntraRequest.Entry(ssrc: body.u32($0), sequenceNumber: body.u8($0 + 4))
            }
            guard !entries.isEmpty else { throw .rtcpMalformedItem("FIR with no entry") }
            return .fullIntraRequest(FullIntraRequest(senderSSRC: body.u32(0), entries: entries))

        case RTCPPacketType.transportFeedback, RTCPPacketType.payloadFeedback:
            // Every RFC 4585 feedback message has them, whatever its format (as RTCPFastPath requires too).
            guard body.count >= 8 else { throw .rtcpTruncated("feedback needs sender and media SSRCs") }
            return .other(packetType: type, countOrFormat: count, body: Array(body))

        default:
            return .other(packetType: type, countOrFormat: count, body: Array(body))
        }
    }

    /// Serializes packets into one compound datagram (no validity rule is imposed on the order,
    /// so a caller can build deliberately odd compounds; the bridge always starts with SR or RR).
    /// - Throws: ``PacketError/invalidField`` when a count or length does not fit its field.
    public static func serialize(_ packets: [RTCPPacket]) throws(PacketError) -> [UInt8] {
        var w = ByteWriter()
        for packet in packets {
            try append(packet, to: &w)
        }
        return w.bytes
    }

    private static func append(_ packet: RTCPPacket, to w: inout ByteWriter) throws(PacketError) {
        let start = w.bytes.count
        func header(_ count: Int, _ type: UInt8) throws(PacketError) {
            guard count >= 0 && count < 32 else { throw .invalidField("RTCP count \(count) over 31") }
            w.u8(0x80 | UInt8(count))
            w.u8(type)
            w.u16(0)  // length, filled in below
        }
        func blocks(_ reports: [ReportBlock]) throws(PacketError) {
            for r in reports {
                guard r.cumulativeLost >= -0x80_0000 && r.cumulativeLost <= 0x7F_FFFF else {
                    throw .invalidField("cumulative loss \(r.cumulativeLost) does not fit 24 bits")
                }
                w.u32(r.ssrc)
                w.u32(UInt32(r.fractionLost) << 24 | (UInt32(bitPattern: r.cumulativeLost) & 0x00FF_FFFF))
                w.u32(r.extendedHighestSequence)
                w.u32(r.jitter)
                w.u32(r.lastSenderReport)
                w.u32(r.delaySinceLastSenderReport)
            }
        }
        func wholeWords(_ data: [UInt8], _ what: String) throws(PacketError) {
            guard data.count % 4 == 0 else { throw .invalidField("\(what) not a whole number of 32-bit words") }
            w.append(data)
        }

        switch packet {
        case .senderReport(let sr):
            try header(sr.reports.count, RTCPPacketType.senderReport)
            w.u32(sr.ssrc)
            w.u32(sr.ntpTimestamp.seconds)
            w.u32(sr.ntpTimestamp.fraction)
            w.u32(sr.rtpTimestamp)
            w.u32(sr.packetCount)
            w.u32(sr.octetCount)
            try blocks(sr.reports)
            try wholeWords(sr.profileExtension, "SR profile extension")
        case .receiverReport(let rr):
            try header(rr.reports.count, RTCPPacketType.receiverReport)
            w.u32(rr.ssrc)
            try blocks(rr.reports)
            try wholeWords(rr.profileExtension, "RR profile extension")
        case .sourceDescription(let sdes):
            try header(sdes.chunks.count, RTCPPacketType.sourceDescription)
            for chunk in sdes.chunks {
                w.u32(chunk.ssrc)
                for item in chunk.items {
                    guard item.type != 0, item.value.count <= 255 else {
                        throw .invalidField("SDES item type 0 or value over 255 bytes")
                    }
                    w.u8(item.type)
                    w.u8(UInt8(item.value.count))
                    w.append(item.value)
                }
                w.u8(0)
                w.padTo32Bits()
            }
        case .goodbye(let bye):
            try header(bye.sources.count, RTCPPacketType.goodbye)
            for s in bye.sources { w.u32(s) }
            if let reason = bye.reason {
                guard reason.count <= 255 else { throw .invalidField("BYE reason over 255 bytes") }
                w.u8(UInt8(reason.count))
                w.append(reason)
                w.padTo32Bits()
            }
        case .application(let app):
            guard app.name.count == 4 else { throw .invalidField("APP name must be 4 bytes") }
            try header(Int(app.subtype), RTCPPacketType.application)
            w.u32(app.ssrc)
            w.append(app.name)
            try wholeWords(app.data, "APP data")
        case .nack(let nack):
            try header(1, RTCPPacketType.transportFeedback)
            w.u32(nack.senderSSRC)
            w.u32(nack.mediaSSRC)
            for e in nack.entries {
                w.u16(e.packetID)
                w.u16(e.lostBitmask)
            }
        case .pictureLossIndication(let pli):
            try header(1, RTCPPacketType.payloadFeedback)
            w.u32(pli.senderSSRC)
            w.u32(pli.mediaSSRC)
        case .fullIntraRequest(let fir):
            try header(4, RTCPPacketType.payloadFeedback)
            w.u32(fir.senderSSRC)
            w.u32(0)  // media source SSRC is unused in FIR (RFC 5104 §4.3.1.2)
            for e in fir.entries {
                w.u32(e.ssrc)
                w.u8(e.sequenceNumber)
                w.u8(0); w.u8(0); w.u8(0)
            }
        case .other(let type, let count, let body):
            try header(Int(count), type)
            try wholeWords(body, "RTCP body")
        }
        let words = (w.bytes.count - start) / 4 - 1
        guard words <= 0xFFFF else { throw .invalidField("RTCP packet over 262140 bytes") }
        w.set16(UInt16(words), at: start + 2)
    }
}

/// Allocation-free RTCP for the media thread: writes the bridge's usual compound (SR with at most
/// one report block, SDES CNAME, optional BYE) straight into a buffer, and reads the parts of a
/// received compound the bridge uses (a sender report's NTP time, report blocks) without building
/// values. ``RTCPCompound`` stays the general, allocating parser and serializer.
public enum RTCPFastPath {
    /// Writes SR (+ one report block if given) + SDES CNAME (+ BYE) into `buffer`.
    /// - Returns: the compound's length.
    public static func writeReport(
        into buffer: UnsafeMutableRawBufferPointer, ssrc: UInt32, ntp: NTPTimestamp, rtpTimestamp: UInt32,
        packetCount: UInt32, octetCount: UInt32, block: ReportBlock?, cname: StaticString, goodbye: Bool
    ) throws(PacketError) -> Int {
        let cnameLength = cname.utf8CodeUnitCount
        guard cnameLength <= 255 else { throw .invalidField }
        let srLength = 28 + (block == nil ? 0 : 24)
        let sdesLength = (4 + 4 + 2 + cnameLength + 1 + 3) & ~3
        let byeLength = goodbye ? 8 : 0
        guard buffer.count >= srLength + sdesLength + byeLength else { throw .bufferTooSmall }
        var o = 0
        buffer.put(UInt8(0x80 | (block == nil ? 0 : 1)), at: 0)
        buffer.put(RTCPPacketType.senderReport, at: 1)
        buffer.put(UInt16(srLength / 4 - 1), at: 2)
        buffer.put(ssrc, at: 4)
        buffer.put(ntp.seconds, at: 8)
        buffer.put(ntp.fraction, at: 12)
        buffer.put(rtpTimestamp, at: 16)
        buffer.put(packetCount, at: 20)
        buffer.put(octetCount, at: 24)
        if let b = block {
            guard b.cumulativeLost >= -0x80_0000 && b.cumulativeLost <= 0x7F_FFFF else { throw .invalidField }
            buffer.put(b.ssrc, at: 28)
            buffer.put(UInt32(b.fractionLost) << 24 | (UInt32(bitPattern: b.cumulativeLost) & 0x00FF_FFFF), at: 32)
            buffer.put(b.extendedHighestSequence, at: 36)
            buffer.put(b.jitter, at: 40)
            buffer.put(b.lastSenderReport, at: 44)
            buffer.put(b.delaySinceLastSenderReport, at: 48)
        }
        o = srLength
        buffer.put(UInt8(0x81), at: o)
        buffer.put(RTCPPacketType.sourceDescription, at: o + 1)
        buffer.put(UInt16(sdesLength / 4 - 1), at: o + 2)
        buffer.put(ssrc, at: o + 4)
        buffer.put(SourceDescription.Item.cname, at: o + 8)
        buffer.put(UInt8(cnameLength), at: o + 9)
        cname.withUTF8Buffer { text in
            for i in 0..<cnameLength { buffer[o + 10 + i] = text[i] }
        }
        for i in (o + 10 + cnameLength)..<(o + sdesLength) { buffer[i] = 0 }
        o += sdesLength
        if goodbye {
            buffer.put(UInt8(0x81), at: o)
            buffer.put(RTCPPacketType.goodbye, at: o + 1)
            buffer.put(UInt16(1), at: o + 2)
            buffer.put(ssrc, at: o + 4)
            o += 8
        }
        return o
    }

    /// Writes an empty receiver report followed by a keyframe request about `mediaSSRC`: a PLI
    /// (RFC 4585 §6.3.1), or a FIR (RFC 5104 §4.3.1) when `firSequence` is given.
    /// - Returns: the compound's length (20 bytes with a PLI, 28 with a FIR).
    public static func writeKeyframeRequest(
        into buffer: UnsafeMutableRawBufferPointer, senderSSRC: UInt32, mediaSSRC: UInt32, firSequence: UInt8? = nil
    ) throws(PacketError) -> Int {
        let length = firSequence == nil ? 20 : 28
        guard buffer.count >= length else { throw .bufferTooSmall }
        buffer.put(UInt8(0x80), at: 0)
        buffer.put(RTCPPacketType.receiverReport, at: 1)
        buffer.put(UInt16(1), at: 2)
        buffer.put(senderSSRC, at: 4)
        buffer.put(UInt8(0x80 | (firSequence == nil ? 1 : 4)), at: 8)
        buffer.put(RTCPPacketType.payloadFeedback, at: 9)
        buffer.put(UInt16(length / 4 - 3), at: 10)
        buffer.put(senderSSRC, at: 12)
        if let firSequence {
            buffer.put(UInt32(0), at: 16)
            buffer.put(mediaSSRC, at: 20)
            buffer.put(UInt32(firSequence) << 24, at: 24)
        } else {
            buffer.put(mediaSSRC, at: 16)
        }
        return length
    }

    /// An RR without blocks followed by a receiver estimated maximum bitrate (REMB: payload-specific
    /// feedback, FMT 15, draft-alvestrand-rmcat-remb) asking the sender of `mediaSSRC` to keep its
    /// video under `bitsPerSecond` (written as an 18-bit mantissa and a 6-bit exponent, rounded down).
    /// - Returns: the compound's length (32 bytes).
    public static func writeEstimatedMaximumBitrate(
        into buffer: UnsafeMutableRawBufferPointer, senderSSRC: UInt32, mediaSSRC: UInt32, bitsPerSecond: UInt64
    ) throws(PacketError) -> Int {
        guard buffer.count >= 32 else { throw .bufferTooSmall }
        var exponent: UInt32 = 0
        while exponent < 63 && bitsPerSecond >> UInt64(exponent) >= 1 << 18 { exponent += 1 }
        let mantissa = UInt32(truncatingIfNeeded: bitsPerSecond >> UInt64(exponent)) & 0x3FFFF
        buffer.put(UInt8(0x80), at: 0)
        buffer.put(RTCPPacketType.receiverReport, at: 1)
        buffer.put(UInt16(1), at: 2)
        buffer.put(senderSSRC, at: 4)
        buffer.put(UInt8(0x80 | 15), at: 8)
        buffer.put(RTCPPacketType.payloadFeedback, at: 9)
        buffer.put(UInt16(24 / 4 - 1), at: 10)
        buffer.put(senderSSRC, at: 12)
        buffer.put(UInt32(0), at: 16)  // the media source is named in the SSRC list instead
        buffer.put(UInt32(0x5245_4D42), at: 20)  // "REMB"
        buffer.put(UInt32(1) << 24 | exponent << 18 | mantissa, at: 24)
        buffer.put(mediaSSRC, at: 28)
        return 32
    }

    /// What the bridge reads from a received compound.
    public struct Reading {
        /// The middle 32 bits of a sender report's NTP time, if the compound has an SR.
        public var senderReportNTP: UInt32?
        /// The report block about `ssrc`, if any.
        public var block: ReportBlock?
    }

    /// Validates a compound (as ``RTCPCompound/parse(_:)`` does) and picks out the SR time and the
    /// report block about `ssrc`, without allocating.
    ///
    /// Feedback messages (RFC 4585 generic NACK and PLI, RFC 5104 FIR) are handed to `feedback` one
    /// request at a time; a compound may then start with feedback (reduced-size RTCP, RFC 5506).
    /// Every report block (about any SSRC) is handed to `reportBlock`, in order. The whole compound
    /// is validated before `feedback` or `reportBlock` sees any of it.
    public static func read(
        _ bytes: UnsafeRawBufferPointer, blockAbout ssrc: UInt32, feedback: (Feedback) -> Void = { _ in },
        reportBlock: (ReportBlock) -> Void = { _ in }
    ) throws(PacketError) -> Reading {
        let reading = try scan(bytes, blockAbout: ssrc, deliver: false, feedback: feedback, reportBlock: reportBlock)
        _ = try scan(bytes, blockAbout: ssrc, deliver: true, feedback: feedback, reportBlock: reportBlock)
        return reading
    }

    /// One request carried by a feedback message.
    public enum Feedback: Equatable, Sendable {
        /// Picture loss indication about `mediaSSRC`.
        case pictureLoss(senderSSRC: UInt32, mediaSSRC: UInt32)
        /// Full intra request for `mediaSSRC` with the requester's command sequence number.
        case fullIntraRequest(senderSSRC: UInt32, mediaSSRC: UInt32, sequenceNumber: UInt8)
        /// Generic NACK entry: `packetID` and each following packet whose bit is set are lost.
        case nack(senderSSRC: UInt32, mediaSSRC: UInt32, packetID: UInt16, lostBitmask: UInt16)
    }

    private static func scan(
        _ bytes: UnsafeRawBufferPointer, blockAbout ssrc: UInt32, deliver: Bool, feedback: (Feedback) -> Void,
        reportBlock: (ReportBlock) -> Void
    ) throws(PacketError) -> Reading {
        guard !bytes.isEmpty else { throw .rtcpEmptyCompound }
        var reading = Reading()
        var offset = 0
        var first = true
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw .rtcpLengthMismatch }
            let b0 = bytes.u8(offset)
            guard b0 >> 6 == 2 else { throw .unsupportedVersion }
            let count = Int(b0 & 0x1F)
            let type = bytes.u8(offset + 1)
            let length = (Int(bytes.u16(offset + 2)) + 1) * 4
            guard length <= bytes.count - offset else { throw .rtcpLengthMismatch }
            if b0 & 0x20 != 0 {
                guard offset + length == bytes.count else { throw .rtcpPaddingNotLast }
                let padding = Int(bytes.u8(offset + length - 1))
                guard padding > 0 else { throw .zeroPaddingLength }
                guard padding <= length - 4 else { throw .paddingExceedsPacket }
            }
            if first && type != RTCPPacketType.senderReport && type != RTCPPacketType.receiverReport
                && type != RTCPPacketType.transportFeedback && type != RTCPPacketType.payloadFeedback {
                throw .rtcpCompoundMustStartWithReport
            }
            first = false
            if type == RTCPPacketType.transportFeedback || type == RTCPPacketType.payloadFeedback {
                guard length >= 12 else { throw .rtcpTruncated }
                let sender = bytes.u32(offset + 4)
                let media = bytes.u32(offset + 8)
                let fci = offset + 12
                let fciLength = length - 12 - (b0 & 0x20 != 0 ? Int(bytes.u8(offset + length - 1)) : 0)
                switch (type, count) {
                case (RTCPPacketType.transportFeedback, 1):
                    guard fciLength >= 4 && fciLength % 4 == 0 else { throw .rtcpMalformedItem }
                    if deliver {
                        for o in stride(from: fci, to: fci + fciLength, by: 4) {
                            feedback(.nack(senderSSRC: sender, mediaSSRC: media, packetID: bytes.u16(o), lostBitmask: bytes.u16(o + 2)))
                        }
                    }
                case (RTCPPacketType.payloadFeedback, 1):
                    if deliver { feedback(.pictureLoss(senderSSRC: sender, mediaSSRC: media)) }
                case (RTCPPacketType.payloadFeedback, 4):
                    guard fciLength >= 8 && fciLength % 8 == 0 else { throw .rtcpMalformedItem }
                    if deliver {
                        for o in stride(from: fci, to: fci + fciLength, by: 8) {
                            feedback(.fullIntraRequest(senderSSRC: sender, mediaSSRC: bytes.u32(o), sequenceNumber: bytes.u8(o + 4)))
                        }
                    }
                default:
                    break  // other feedback (REMB, TWCC, ...) is not used by the bridge
                }
                offset += length
                continue
            }
            var blocksAt = -1
            if type == RTCPPacketType.senderReport {
                guard length >= 28 else { throw .rtcpTruncated }
                reading.senderReportNTP = (bytes.u32(offset + 8) << 16) | (bytes.u32(offset + 12) >> 16)
                blocksAt = offset + 28
            } else if type == RTCPPacketType.receiverReport {
                guard length >= 8 else { throw .rtcpTruncated }
                blocksAt = offset + 8
            }
            if blocksAt >= 0 {
                guard blocksAt + 24 * count <= offset + length else { throw .rtcpReportCountPastEnd }
                for i in 0..<count {
                    let o = blocksAt + 24 * i
                    let about = bytes.u32(o)
                    guard about == ssrc || deliver else { continue }
                    let lostWord = bytes.u32(o + 4)
                    let block = ReportBlock(
                        ssrc: about, fractionLost: UInt8(lostWord >> 24),
                        cumulativeLost: Int32(bitPattern: (lostWord & 0x00FF_FFFF) << 8) >> 8,
                        extendedHighestSequence: bytes.u32(o + 8), jitter: bytes.u32(o + 12),
                        lastSenderReport: bytes.u32(o + 16), delaySinceLastSenderReport: bytes.u32(o + 20))
                    if about == ssrc { reading.block = block }
                    if deliver { reportBlock(block) }
                }
            }
            offset += length
        }
        return reading
    }
}
