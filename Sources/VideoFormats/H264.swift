/// H.264 RTP payload format (RFC 6184, packetization mode 1) and Annex B byte streams.
public enum H264 {
    /// NAL unit types the bridge looks at.
    public enum NALType {
        public static let slice: UInt8 = 1
        public static let idrSlice: UInt8 = 5
        public static let sei: UInt8 = 6
        public static let sequenceParameterSet: UInt8 = 7
        public static let pictureParameterSet: UInt8 = 8
        public static let accessUnitDelimiter: UInt8 = 9
        public static let stapA: UInt8 = 24
        public static let fuA: UInt8 = 28
    }

    static func isKeyNAL(_ type: UInt8) -> Bool { type == NALType.idrSlice || type == NALType.sequenceParameterSet }

    static func inspect(_ payload: UnsafeRawBufferPointer) throws(VideoFormatError) -> VideoPacketInfo {
        guard !payload.isEmpty else { throw .emptyPayload }
        let type = payload[0] & 0x1F
        switch type {
        case 1...23:
            return VideoPacketInfo(startsFrame: true, isKeyframe: isKeyNAL(type))
        case NALType.stapA:
            var offset = 1
            var key = false
            guard payload.count >= 3 else { throw .truncatedAggregate("STAP-A without a NAL unit") }
            while offset < payload.count {
                guard offset + 2 < payload.count else { throw .truncatedAggregate("STAP-A size at \(offset)") }
                let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
                guard size > 0, offset + 2 + size <= payload.count else { throw .truncatedAggregate("STAP-A unit of \(size) bytes at \(offset)") }
                if isKeyNAL(payload[offset + 2] & 0x1F) { key = true }
                offset += 2 + size
            }
            return VideoPacketInfo(startsFrame: true, isKeyframe: key)
        case NALType.fuA:
            guard payload.count >= 3 else { throw .truncatedAggregate("FU-A of \(payload.count) bytes") }
            let start = payload[1] & 0x80 != 0
            return VideoPacketInfo(startsFrame: start, isKeyframe: start && isKeyNAL(payload[1] & 0x1F))
        default:
            throw .unsupportedNALType(type)
        }
    }

    /// Splits an Annex B byte stream into NAL units (without start codes).
    public static func nalUnits(annexB bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var units: [ArraySlice<UInt8>] = []
        var i = 0
        var start = -1
        let n = bytes.count
        while i + 2 < n {
            if bytes[i] == 0 && bytes[i + 1] == 0 && bytes[i + 2] == 1 {
                if start >= 0 {
                    var end = i
                    while end > start && bytes[end - 1] == 0 { end -= 1 }  // trailing zero of a 4-byte start code
                    if end > start { units.append(bytes[start..<end]) }
                }
                i += 3
                start = i
            } else {
                i += 1
            }
        }
        if start >= 0 && start < n { units.append(bytes[start..<n]) }
        return units
    }

    /// Groups an Annex B stream's NAL units into access units (frames): a new one begins at an
    /// access unit delimiter, SEI, SPS or PPS after a slice, or at a slice whose first_mb_in_slice is 0.
    public static func accessUnits(annexB bytes: [UInt8]) -> [[ArraySlice<UInt8>]] {
        var frames: [[ArraySlice<UInt8>]] = []
        var current: [ArraySlice<UInt8>] = []
        var sawSlice = false
        for unit in nalUnits(annexB: bytes) {
            let type = unit[unit.startIndex] & 0x1F
            let isSlice = type >= 1 && type <= 5
            let firstMB = isSlice && unit.count > 1 && unit[unit.startIndex + 1] & 0x80 != 0
            let startsNew = sawSlice && ((isSlice && firstMB) || type == NALType.accessUnitDelimiter || type == NALType.sei
                || type == NALType.sequenceParameterSet || type == NALType.pictureParameterSet)
            if startsNew {
                frames.append(current)
                current = []
                sawSlice = false
            }
            current.append(unit)
            if isSlice { sawSlice = true }
        }
        if !current.isEmpty { frames.append(current) }
        return frames
    }

    /// Whether an access unit holds an IDR slice or a sequence parameter set.
    public static func isKeyframe(accessUnit: [ArraySlice<UInt8>]) -> Bool {
        accessUnit.contains { !$0.isEmpty && isKeyNAL($0[$0.startIndex] & 0x1F) }
    }

    /// Packetizes an access unit: a NAL unit that fits goes alone, a larger one as FU-A fragments.
    public static func packetize(accessUnit: [ArraySlice<UInt8>], maximumPayload: Int) -> [[UInt8]] {
        var payloads: [[UInt8]] = []
        for unit in accessUnit where !unit.isEmpty {
            if unit.count <= maximumPayload {
                payloads.append(Array(unit))
                continue
            }
            let header = unit[unit.startIndex]
            let indicator = (header & 0xE0) | NALType.fuA
            var offset = unit.startIndex + 1
            let room = max(1, maximumPayload - 2)
            while offset < unit.endIndex {
                let end = min(unit.endIndex, offset + room)
                var fu: UInt8 = header & 0x1F
                if offset == unit.startIndex + 1 { fu |= 0x80 }
                if end == unit.endIndex { fu |= 0x40 }
                payloads.append([indicator, fu] + unit[offset..<end])
                offset = end
            }
        }
        return payloads
    }

    /// Rebuilds an access unit in Annex B form (4-byte start codes) from the payloads of one RTP
    /// timestamp in sequence order (the caller checks that their sequence numbers are consecutive),
    /// or nil when a fragmented NAL unit lacks its start or end, or a payload is malformed.
    public static func assemble(_ payloads: [[UInt8]]) -> [UInt8]? {
        var out: [UInt8] = []
        var inFragment = false
        for payload in payloads {
            guard !payload.isEmpty else { return nil }
            let type = payload[0] & 0x1F
            switch type {
            case 1...23:
                guard !inFragment else { return nil }
                out += [0, 0, 0, 1] + payload
            case NALType.stapA:
                guard !inFragment else { return nil }
                var offset = 1
                while offset + 2 <= payload.count {
                    let size = Int(payload[offset]) << 8 | Int(payload[offset + 1])
                    guard size > 0, offset + 2 + size <= payload.count else { return nil }
                    out += [0, 0, 0, 1] + payload[(offset + 2)..<(offset + 2 + size)]
                    offset += 2 + size
                }
            case NALType.fuA:
                guard payload.count >= 3 else { return nil }
                let start = payload[1] & 0x80 != 0
                let end = payload[1] & 0x40 != 0
                if start {
                    guard !inFragment else { return nil }
                    out += [0, 0, 0, 1, (payload[0] & 0xE0) | (payload[1] & 0x1F)]
                    inFragment = true
                } else if !inFragment {
                    return nil
                }
                out += payload[2...]
                if end { inFragment = false }
            default:
                return nil
            }
        }
        return inFragment || out.isEmpty ? nil : out
    }
}
