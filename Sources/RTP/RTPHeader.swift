/// The parsed fixed header of an RTP packet (RFC 3550 §5.1), plus where its parts lie.
///
/// Parsing does not copy or allocate: CSRCs, header extension elements and the payload are
/// located by byte ranges into the buffer that was parsed, which the caller keeps.
public struct RTPHeader: Hashable, Sendable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    /// Number of CSRC identifiers (0-15); read them with ``csrc(_:in:)``.
    public var csrcCount: Int
    /// The header extension's 16-bit profile ("defined by profile"), if the X bit is set.
    public var extensionProfile: UInt16?
    /// The extension data (after its 4-byte header); empty when there is no extension.
    public var extensionRange: Range<Int>
    /// The payload, excluding padding.
    public var payloadRange: Range<Int>
    /// Padding bytes at the end (0 when the P bit is clear).
    public var paddingLength: Int

    /// Length of the fixed header, CSRC list and header extension.
    public var headerLength: Int { payloadRange.lowerBound }

    /// Parses and validates an RTP packet.
    ///
    /// The RFC 8285 elements of a one-byte or two-byte header extension are validated here too,
    /// so ``extensionElements(in:)`` cannot meet a malformed element later.
    /// - Throws: ``PacketError`` naming the first thing wrong; never traps on any input.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(PacketError) {
        self = try RTPHeader.parse(bytes)
    }

    static func parse(_ bytes: UnsafeRawBufferPointer) throws(PacketError) -> RTPHeader {
        let count = bytes.count
        guard count >= 12 else { throw .truncatedHeader }
        let b0 = bytes.u8(0)
        guard b0 >> 6 == 2 else { throw .unsupportedVersion }
        let hasPadding = b0 & 0x20 != 0
        let hasExtension = b0 & 0x10 != 0
        let csrcCount = Int(b0 & 0x0F)
        let b1 = bytes.u8(1)
        var offset = 12 + 4 * csrcCount
        guard offset <= count else { throw .csrcListPastEnd }

        var profile: UInt16? = nil
        var extensionRange = offset..<offset
        if hasExtension {
            guard offset + 4 <= count else { throw .extensionPastEnd }
            let p = bytes.u16(offset)
            let words = Int(bytes.u16(offset + 2))
            let start = offset + 4
            let end = start + 4 * words
            guard end <= count else { throw .extensionPastEnd }
            profile = p
            extensionRange = start..<end
            offset = end
        }

        var padding = 0
        if hasPadding {
            guard count > offset else { throw .paddingExceedsPacket }
            padding = Int(bytes.u8(count - 1))
            guard padding > 0 else { throw .zeroPaddingLength }
            guard padding <= count - offset else { throw .paddingExceedsPacket }
        }

        let header = RTPHeader(
            marker: b1 & 0x80 != 0,
            payloadType: b1 & 0x7F,
            sequenceNumber: bytes.u16(2),
            timestamp: bytes.u32(4),
            ssrc: bytes.u32(8),
            csrcCount: csrcCount,
            extensionProfile: profile,
            extensionRange: extensionRange,
            payloadRange: offset..<(count - padding),
            paddingLength: padding
        )
        if let profile {
            var elements = RTPHeaderExtensionElements(bytes: bytes, profile: profile, range: extensionRange)
            while try elements.nextValidated() != nil {}
        }
        return header
    }

    init(
        marker: Bool, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        csrcCount: Int, extensionProfile: UInt16?, extensionRange: Range<Int>, payloadRange: Range<Int>,
        paddingLength: Int
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcCount = csrcCount
        self.extensionProfile = extensionProfile
        self.extensionRange = extensionRange
        self.payloadRange = payloadRange
        self.paddingLength = paddingLength
    }

    /// The `index`-th CSRC, read from the buffer this header was parsed from.
    public func csrc(_ index: Int, in bytes: UnsafeRawBufferPointer) -> UInt32 {
        precondition(index >= 0 && index < csrcCount, "CSRC index out of range")
        return bytes.u32(12 + 4 * index)
    }

    /// The RFC 8285 elements of the header extension (none for other profiles).
    public func extensionElements(in bytes: UnsafeRawBufferPointer) -> RTPHeaderExtensionElements {
        RTPHeaderExtensionElements(bytes: bytes, profile: extensionProfile ?? 0, range: extensionRange)
    }

    /// The data of the first extension element with this id, if any.
    public func extensionElement(id: UInt8, in bytes: UnsafeRawBufferPointer) -> Range<Int>? {
        for element in extensionElements(in: bytes) where element.id == id { return element.range }
        return nil
    }

    /// The RFC 6464 client-to-mixer audio level carried under extension `id`, if present.
    public func audioLevel(id: UInt8, in bytes: UnsafeRawBufferPointer) -> AudioLevel? {
        guard let range = extensionElement(id: id, in: bytes), !range.isEmpty else { return nil }
        return AudioLevel(byte: bytes[range.lowerBound])
    }

    /// Writes a fixed RTP header (no CSRCs, no padding), with an optional RFC 6464 audio level
    /// in a one-byte header extension, at the start of `buffer`. Allocation-free.
    /// - Returns: the header length (12, or 20 with the audio level).
    public static func write(
        into buffer: UnsafeMutableRawBufferPointer,
        marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        audioLevel: (id: UInt8, level: AudioLevel)? = nil
    ) throws(PacketError) -> Int {
        guard payloadType < 128 else { throw .invalidField }
        let length = audioLevel == nil ? 12 : 20
        guard buffer.count >= length else { throw .bufferTooSmall }
        buffer.put(UInt8(audioLevel == nil ? 0x80 : 0x90), at: 0)
        buffer.put(UInt8((marker ? 0x80 : 0) | payloadType), at: 1)
        buffer.put(sequenceNumber, at: 2)
        buffer.put(timestamp, at: 4)
        buffer.put(ssrc, at: 8)
        if let (id, level) = audioLevel {
            guard id >= 1 && id <= 14 else { throw .invalidField }
            buffer.put(UInt16(0xBEDE), at: 12)
            buffer.put(UInt16(1), at: 14)
            buffer.put(UInt8(id << 4), at: 16)  // L = 0: one data byte
            buffer.put(level.byte, at: 17)
            buffer.put(UInt8(0), at: 18)
            buffer.put(UInt8(0), at: 19)
        }
        return length
    }
}

/// One RFC 8285 header extension element: its id and where its data lies in the packet.
public struct RTPHeaderExtensionElement: Hashable, Sendable {
    public var id: UInt8
    public var range: Range<Int>
}

/// Iterates the elements of a one-byte (0xBEDE) or two-byte (0x100x) header extension.
/// Valid only while the parsed buffer is.
public struct RTPHeaderExtensionElements: IteratorProtocol, Sequence {
    public static let oneByteProfile: UInt16 = 0xBEDE
    public static let twoByteProfileMask: UInt16 = 0xFFF0
    public static let twoByteProfile: UInt16 = 0x1000

    private let bytes: UnsafeRawBufferPointer
    private let form: Int  // 1, 2, or 0 for a profile without RFC 8285 elements
    private var offset: Int
    private let end: Int

    init(bytes: UnsafeRawBufferPointer, profile: UInt16, range: Range<Int>) {
        self.bytes = bytes
        if profile == Self.oneByteProfile {
            form = 1
        } else if profile & Self.twoByteProfileMask == Self.twoByteProfile {
            form = 2
        } else {
            form = 0
        }
        offset = range.lowerBound
        end = range.upperBound
    }

    public mutating func next() -> RTPHeaderExtensionElement? {
        // The header parser validated the block, so a malformed element cannot occur here;
        // if it somehow did, iteration simply ends.
        (try? nextValidated()) ?? nil
    }

    mutating func nextValidated() throws(PacketError) -> RTPHeaderExtensionElement? {
        while offset < end {
            let b = bytes.u8(offset)
            if form == 1 {
                if b == 0 { offset += 1; continue }  // padding
                let id = b >> 4
                if id == 15 { offset = end; return nil }  // reserved: stop processing
                let length = Int(b & 0x0F) + 1
                let start = offset + 1
                guard start + length <= end else { throw .extensionElementPastEnd }
                offset = start + length
                return RTPHeaderExtensionElement(id: id, range: start..<(start + length))
            } else if form == 2 {
                if b == 0 { offset += 1; continue }  // padding
                guard offset + 2 <= end else { throw .extensionElementPastEnd }
                let length = Int(bytes.u8(offset + 1))
                let start = offset + 2
                guard start + length <= end else { throw .extensionElementPastEnd }
                offset = start + length
                return RTPHeaderExtensionElement(id: b, range: start..<(start + length))
            } else {
                return nil
            }
        }
        return nil
    }
}

/// RFC 6464 client-to-mixer audio level: the level in -dBov (0 loudest, 127 silence) and the V flag.
public struct AudioLevel: Hashable, Sendable {
    /// Attenuation below the overload point, 0...127 dB.
    public var level: UInt8
    public var voiceActivity: Bool

    public init(level: UInt8, voiceActivity: Bool) {
        self.level = min(level, 127)
        self.voiceActivity = voiceActivity
    }

    public init(byte: UInt8) {
        level = byte & 0x7F
        voiceActivity = byte & 0x80 != 0
    }

    public var byte: UInt8 { (voiceActivity ? 0x80 : 0) | level }
}
