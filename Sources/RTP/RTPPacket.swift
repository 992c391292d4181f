/// An RTP packet as owned values: for building, inspecting and tests (it allocates).
/// The media path uses ``RTPHeader`` over its own buffers instead.
public struct RTPPacket: Hashable, Sendable {
    public var marker: Bool
    public var payloadType: UInt8
    public var sequenceNumber: UInt16
    public var timestamp: UInt32
    public var ssrc: UInt32
    public var csrcs: [UInt32]
    public var headerExtension: RTPHeaderExtension?
    public var payload: [UInt8]
    /// Number of padding bytes to append (0 for none; at most 255).
    public var paddingLength: Int

    public init(
        marker: Bool = false, payloadType: UInt8, sequenceNumber: UInt16, timestamp: UInt32, ssrc: UInt32,
        csrcs: [UInt32] = [], headerExtension: RTPHeaderExtension? = nil, payload: [UInt8], paddingLength: Int = 0
    ) {
        self.marker = marker
        self.payloadType = payloadType
        self.sequenceNumber = sequenceNumber
        self.timestamp = timestamp
        self.ssrc = ssrc
        self.csrcs = csrcs
        self.headerExtension = headerExtension
        self.payload = payload
        self.paddingLength = paddingLength
    }

    /// Parses a packet; see ``RTPHeader/init(parsing:)`` for the checks made.
    public init(parsing data: [UInt8]) throws(PacketError) {
        let result: Result<RTPPacket, PacketError> = data.withUnsafeBytes { bytes in
            do throws(PacketError) {
                let header = try RTPHeader(parsing: bytes)
                return .success(RTPPacket(
                    marker: header.marker, payloadType: header.payloadType,
                    sequenceNumber: header.sequenceNumber, timestamp: header.timestamp, ssrc: header.ssrc,
                    csrcs: (0..<header.csrcCount).map { header.csrc($0, in: bytes) },
                    headerExtension: header.extensionProfile.map {
                        RTPHeaderExtension(profile: $0, data: Array(bytes[header.extensionRange]))
                    },
                    payload: Array(bytes[header.payloadRange]),
                    paddingLength: header.paddingLength))
            } catch {
                return .failure(error)
            }
        }
        self = try result.get()
    }

    /// The packet's wire form.
    /// - Throws: ``PacketError/invalidField`` when a field does not fit its wire size.
    public func serialized() throws(PacketError) -> [UInt8] {
        guard payloadType < 128 else { throw .invalidField("payload type over 127") }
        guard csrcs.count <= 15 else { throw .invalidField("more than 15 CSRCs") }
        guard paddingLength >= 0 && paddingLength <= 255 else { throw .invalidField("padding over 255 bytes") }
        var w = ByteWriter()
        var b0 = UInt8(0x80) | UInt8(csrcs.count)
        if paddingLength > 0 { b0 |= 0x20 }
        if headerExtension != nil { b0 |= 0x10 }
        w.u8(b0)
        w.u8((marker ? 0x80 : 0) | payloadType)
        w.u16(sequenceNumber)
        w.u32(timestamp)
        w.u32(ssrc)
        for csrc in csrcs { w.u32(csrc) }
        if let ext = headerExtension {
            guard ext.data.count % 4 == 0, ext.data.count / 4 <= 0xFFFF else {
                throw .invalidField("header extension not a whole number of 32-bit words")
            }
            w.u16(ext.profile)
            w.u16(UInt16(ext.data.count / 4))
            w.append(ext.data)
        }
        w.append(payload)
        if paddingLength > 0 {
            w.append(repeatElement(0, count: paddingLength - 1))
            w.u8(UInt8(paddingLength))
        }
        return w.bytes
    }
}

/// A header extension block: its profile and its data (a whole number of 32-bit words).
public struct RTPHeaderExtension: Hashable, Sendable {
    public var profile: UInt16
    public var data: [UInt8]

    public init(profile: UInt16, data: [UInt8]) {
        self.profile = profile
        self.data = data
    }

    /// Builds an RFC 8285 one-byte-form block (ids 1-14, 1-16 data bytes each), padded to 32 bits.
    public static func oneByte(_ elements: [(id: UInt8, data: [UInt8])]) throws(PacketError) -> RTPHeaderExtension {
        var w = ByteWriter()
        for (id, data) in elements {
            guard id >= 1 && id <= 14 else { throw .invalidField("one-byte extension id must be 1-14") }
            guard data.count >= 1 && data.count <= 16 else {
                throw .invalidField("one-byte extension data must be 1-16 bytes")
            }
            w.u8(id << 4 | UInt8(data.count - 1))
            w.append(data)
        }
        w.padTo32Bits()
        return RTPHeaderExtension(profile: RTPHeaderExtensionElements.oneByteProfile, data: w.bytes)
    }

    /// Builds an RFC 8285 two-byte-form block (ids 1-255, 0-255 data bytes each), padded to 32 bits.
    public static func twoByte(
        _ elements: [(id: UInt8, data: [UInt8])], appBits: UInt8 = 0
    ) throws(PacketError) -> RTPHeaderExtension {
        guard appBits < 16 else { throw .invalidField("two-byte extension app bits must be 0-15") }
        var w = ByteWriter()
        for (id, data) in elements {
            guard id >= 1 else { throw .invalidField("two-byte extension id must be 1-255") }
            guard data.count <= 255 else { throw .invalidField("two-byte extension data over 255 bytes") }
            w.u8(id)
            w.u8(UInt8(data.count))
            w.append(data)
        }
        w.padTo32Bits()
        return RTPHeaderExtension(profile: RTPHeaderExtensionElements.twoByteProfile | UInt16(appBits), data: w.bytes)
    }
}
