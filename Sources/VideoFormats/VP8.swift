/// VP8 RTP payload format (RFC 7741): the payload descriptor, packetization and frame assembly.
public enum VP8 {
    /// The parsed payload descriptor of one packet.
    public struct Descriptor: Sendable, Hashable {
        /// S: the packet starts a VP8 partition.
        public var startOfPartition: Bool
        /// PID: the partition index.
        public var partitionIndex: UInt8
        /// 7- or 15-bit picture ID, when present.
        public var pictureID: UInt16?
        /// Bytes before the VP8 payload itself.
        public var length: Int
    }

    /// Parses the payload descriptor at the start of `payload`.
    public static func descriptor(_ payload: UnsafeRawBufferPointer) throws(VideoFormatError) -> Descriptor {
        guard !payload.isEmpty else { throw .emptyPayload }
        let first = payload[0]
        var offset = 1
        var pictureID: UInt16? = nil
        if first & 0x80 != 0 {  // X: extension byte follows
            guard payload.count > offset else { throw .truncatedDescriptor("X set but no extension byte") }
            let x = payload[offset]
            offset += 1
            if x & 0x80 != 0 {  // I: picture ID
                guard payload.count > offset else { throw .truncatedDescriptor("picture ID") }
                if payload[offset] & 0x80 != 0 {
                    guard payload.count > offset + 1 else { throw .truncatedDescriptor("15-bit picture ID") }
                    pictureID = UInt16(payload[offset] & 0x7F) << 8 | UInt16(payload[offset + 1])
                    offset += 2
                } else {
                    pictureID = UInt16(payload[offset])
                    offset += 1
                }
            }
            if x & 0x40 != 0 { offset += 1 }  // L: TL0PICIDX
            if x & 0x30 != 0 { offset += 1 }  // T or K: TID/Y/KEYIDX
        }
        guard payload.count > offset else { throw .truncatedDescriptor("no VP8 payload after \(offset) descriptor bytes") }
        return Descriptor(startOfPartition: first & 0x10 != 0, partitionIndex: first & 0x07, pictureID: pictureID, length: offset)
    }

    static func inspect(_ payload: UnsafeRawBufferPointer) throws(VideoFormatError) -> VideoPacketInfo {
        let d = try descriptor(payload)
        let starts = d.startOfPartition && d.partitionIndex == 0
        // The VP8 payload header's P bit (the lowest bit of its first byte) is 0 for a key frame.
        return VideoPacketInfo(startsFrame: starts, isKeyframe: starts && payload[d.length] & 0x01 == 0)
    }

    /// Whether a whole VP8 frame (as stored in IVF) is a key frame.
    public static func isKeyframe(frame: [UInt8]) -> Bool { !frame.isEmpty && frame[0] & 0x01 == 0 }

    /// Splits one frame into RTP payloads of at most `maximumPayload` bytes, each with a 4-byte
    /// descriptor carrying a 15-bit picture ID (so a receiver can tell frames apart after loss).
    public static func packetize(frame: [UInt8], pictureID: UInt16, maximumPayload: Int) -> [[UInt8]] {
        let room = max(1, maximumPayload - 4)
        var payloads: [[UInt8]] = []
        var offset = 0
        repeat {
            let end = min(frame.count, offset + room)
            var p: [UInt8] = [0x80 | (offset == 0 ? 0x10 : 0), 0x80, 0x80 | UInt8((pictureID >> 8) & 0x7F), UInt8(pictureID & 0xFF)]
            p.append(contentsOf: frame[offset..<end])
            payloads.append(p)
            offset = end
        } while offset < frame.count
        return payloads
    }

    /// Rebuilds a frame from the payloads of one RTP timestamp in sequence order, or nil when a
    /// packet is missing (the first must start partition 0).
    public static func assemble(_ payloads: [[UInt8]]) -> [UInt8]? {
        var frame: [UInt8] = []
        for (i, payload) in payloads.enumerated() {
            let d: Descriptor? = payload.withUnsafeBytes { try? descriptor($0) }
            guard let d else { return nil }
            if i == 0 && !(d.startOfPartition && d.partitionIndex == 0) { return nil }
            frame.append(contentsOf: payload[d.length...])
        }
        return frame.isEmpty ? nil : frame
    }
}
