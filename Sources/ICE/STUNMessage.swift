import Transport
import KeyDerivation

/// Whether a message's FINGERPRINT attribute is there and right.
public enum STUNFingerprintStatus: Sendable {
    case absent, valid, invalid
}

/// A STUN message parsed from outside bytes (RFC 5389), without copying them: fixed-size attributes are
/// decoded, variable ones (USERNAME, the ERROR-CODE reason) and MESSAGE-INTEGRITY are kept as positions, read
/// with methods that take the same bytes again. Parsing never traps and never allocates; FINGERPRINT is checked
/// while parsing. Unknown attributes are skipped, attributes after MESSAGE-INTEGRITY other than FINGERPRINT are
/// ignored (§15.4), and only the first of repeated attributes counts.
public struct STUNMessage: Sendable {
    public let type: STUNMessageType
    public let transactionID: STUNTransactionID
    /// Bytes of the whole message, header included.
    public let byteCount: Int
    /// PRIORITY (RFC 8445 §7.1.1).
    public let priority: UInt32?
    /// USE-CANDIDATE is present (RFC 8445 §7.1.2).
    public let useCandidate: Bool
    /// ICE-CONTROLLING's tie-breaker (RFC 8445 §7.1.3).
    public let iceControlling: UInt64?
    /// ICE-CONTROLLED's tie-breaker.
    public let iceControlled: UInt64?
    /// XOR-MAPPED-ADDRESS, decoded (RFC 5389 §15.2).
    public let xorMappedAddress: SocketAddress?
    /// ERROR-CODE's number, 300-699 (RFC 5389 §15.6).
    public let errorCode: Int?
    public let fingerprint: STUNFingerprintStatus
    /// Where USERNAME's value lies in the message.
    let usernameRange: Range<Int>?
    let errorReasonRange: Range<Int>?
    /// Offset of the MESSAGE-INTEGRITY attribute's header.
    let integrityOffset: Int?

    public var hasUsername: Bool { usernameRange != nil }
    public var hasMessageIntegrity: Bool { integrityOffset != nil }

    /// Parses one datagram as one STUN message.
    /// - Throws: ``STUNError`` naming what is wrong with the header or which attribute is malformed.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(STUNError) {
        let end = try Self.validateHeader(bytes)
        type = STUNMessageType(rawValue: bytes.u16(0))
        transactionID = STUNTransactionID(reading: bytes, at: 8)
        byteCount = end

        var priority: UInt32?
        var useCandidate = false
        var iceControlling: UInt64?
        var iceControlled: UInt64?
        var xorMappedAddress: SocketAddress?
        var errorCode: Int?
        var usernameRange: Range<Int>?
        var errorReasonRange: Range<Int>?
        var integrityOffset: Int?
        var fingerprint = STUNFingerprintStatus.absent

        var offset = STUNWire.headerLength
        while offset < end {  // each pass moves offset forward by at least 4: bounded by the message length
            guard end - offset >= 4 else { throw .truncatedAttribute(0, at: offset) }
            let attributeType = bytes.u16(offset)
            let length = Int(bytes.u16(offset + 2))
            let value = offset + 4
            guard length <= end - value else { throw .truncatedAttribute(attributeType, at: offset) }
            if fingerprint != .absent { throw .attributeAfterFingerprint(attributeType, at: offset) }
            let malformed = STUNError.malformedAttribute(attributeType, at: offset)

            if attributeType == STUNAttribute.fingerprint {
                guard length == 4 else { throw malformed }
                let expected = CRC32.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<offset])) ^ STUNWire.fingerprintXor
                fingerprint = bytes.u32(value) == expected ? .valid : .invalid
            } else if integrityOffset != nil {
                // RFC 5389 §15.4: everything after MESSAGE-INTEGRITY but FINGERPRINT is ignored.
            } else {
                switch attributeType {
                case STUNAttribute.username:
                    guard length <= STUNWire.maximumUsernameLength else { throw malformed }
                    if usernameRange == nil { usernameRange = value..<(value + length) }
                case STUNAttribute.messageIntegrity:
                    guard length == STUNWire.integrityLength else { throw malformed }
                    integrityOffset = offset
                case STUNAttribute.priority:
                    guard length == 4 else { throw malformed }
                    if priority == nil { priority = bytes.u32(value) }
                case STUNAttribute.useCandidate:
                    guard length == 0 else { throw malformed }
                    useCandidate = true
                case STUNAttribute.iceControlling:
                    guard length == 8 else { throw malformed }
                    if iceControlling == nil { iceControlling = bytes.u64(value) }
                case STUNAttribute.iceControlled:
                    guard length == 8 else { throw malformed }
                    if iceControlled == nil { iceControlled = bytes.u64(value) }
                case STUNAttribute.xorMappedAddress:
                    guard let address = Self.xorAddress(bytes, value: value, length: length) else { throw malformed }
                    if xorMappedAddress == nil { xorMappedAddress = address }
                case STUNAttribute.errorCode:
                    guard length >= 4, length - 4 <= STUNWire.maximumReasonLength else { throw malformed }
                    let errorClass = Int(bytes[value + 2] & 0x07)
                    let number = Int(bytes[value + 3])
                    guard (3...6).contains(errorClass), number < 100 else { throw malformed }
                    if errorCode == nil {
                        errorCode = errorClass * 100 + number
                        errorReasonRange = (value + 4)..<(value + length)
                    }
                default:
                    break  // unknown or not needed here (SOFTWARE, ...)
                }
            }
            offset = value + STUNWire.padded(length)  // the padding fits: end - offset is a multiple of 4
        }

        self.priority = priority
        self.useCandidate = useCandidate
        self.iceControlling = iceControlling
        self.iceControlled = iceControlled
        self.xorMappedAddress = xorMappedAddress
        self.errorCode = errorCode
        self.usernameRange = usernameRange
        self.errorReasonRange = errorReasonRange
        self.integrityOffset = integrityOffset
        self.fingerprint = fingerprint
    }

    /// Checks the 20-byte header against the datagram; returns the message's size.
    static func validateHeader(_ bytes: UnsafeRawBufferPointer) throws(STUNError) -> Int {
        guard bytes.count >= STUNWire.headerLength else { throw .truncatedHeader }
        guard bytes[0] & 0xC0 == 0 else { throw .notSTUN }
        guard bytes.u32(4) == STUNWire.magicCookie else { throw .badMagicCookie }
        let length = Int(bytes.u16(2))
        guard length % 4 == 0 else { throw .lengthNotMultipleOfFour }
        guard STUNWire.headerLength + length == bytes.count else { throw .lengthMismatch }
        return bytes.count
    }

    /// XOR-MAPPED-ADDRESS's value: reserved byte, family (1 IPv4, 2 IPv6), port ^ 0x2112, address ^ (cookie | id).
    private static func xorAddress(_ bytes: UnsafeRawBufferPointer, value: Int, length: Int) -> SocketAddress? {
        guard length >= 4 else { return nil }
        let family = bytes[value + 1]
        let port = bytes.u16(value + 2) ^ UInt16(STUNWire.magicCookie >> 16)
        switch (family, length) {
        case (1, 8):
            let address = (bytes.u32(value + 4) ^ STUNWire.magicCookie).bigEndian
            return withUnsafeBytes(of: address) { SocketAddress(addressBytes: $0, port: port) }
        case (2, 20):
            // The mask is the 16 bytes from the magic cookie on: cookie and transaction id.
            var address: (UInt64, UInt64) = (0, 0)
            withUnsafeMutableBytes(of: &address) { out in
                for i in 0..<16 { out[i] = bytes[value + 4 + i] ^ bytes[4 + i] }
            }
            return withUnsafeBytes(of: address) { SocketAddress(addressBytes: $0, port: port) }
        default:
            return nil
        }
    }

    /// True when `bytes` is (by size) the message this was parsed from; methods taking bytes check it.
    private func matches(_ bytes: UnsafeRawBufferPointer) -> Bool { bytes.count == byteCount }

    /// USERNAME as text (invalid UTF-8 repaired), or nil when absent.
    /// - Parameter bytes: the bytes this message was parsed from.
    public func username(in bytes: UnsafeRawBufferPointer) -> String? {
        guard matches(bytes), let range = usernameRange else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Whether USERNAME is exactly `expected`, without allocating.
    func usernameEquals(_ expected: [UInt8], in bytes: UnsafeRawBufferPointer) -> Bool {
        guard matches(bytes), let range = usernameRange, range.count == expected.count else { return false }
        return expected.withUnsafeBytes { e in memcmpEqual(UnsafeRawBufferPointer(rebasing: bytes[range]), e) }
    }

    /// ERROR-CODE's reason phrase, or nil when absent.
    public func errorReason(in bytes: UnsafeRawBufferPointer) -> String? {
        guard matches(bytes), let range = errorReasonRange else { return nil }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[range]), as: UTF8.self)
    }

    /// Whether MESSAGE-INTEGRITY is there and is the HMAC-SHA-1 under `key` of the message up to it, with the
    /// header's length counting up to and including MESSAGE-INTEGRITY (RFC 5389 §15.4). For ICE's short-term
    /// credentials the key is the password's bytes. No allocation in Swift (NSS allocates inside the HMAC); the
    /// comparison takes the same time wherever the codes differ.
    /// - Parameter bytes: the bytes this message was parsed from.
    /// - Throws: ``STUNError/integrityUnavailable`` if NSS fails.
    public func isIntegrityValid(in bytes: UnsafeRawBufferPointer, key: [UInt8]) throws(STUNError) -> Bool {
        guard matches(bytes), let miOffset = integrityOffset else { return false }
        // A copy of the header with the length adjusted, on the stack; the rest is hashed where it lies.
        var header: (UInt64, UInt64, UInt32) = (0, 0, 0)
        var code: (UInt64, UInt64, UInt32) = (0, 0, 0)
        let ok: Bool = withUnsafeMutableBytes(of: &header) { header in
            header.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[0..<STUNWire.headerLength]))
            header.put(UInt16(miOffset + 4 + STUNWire.integrityLength - STUNWire.headerLength), at: 2)
            return withUnsafeMutableBytes(of: &code) { code in
                key.withUnsafeBytes { key in
                    do {
                        try HMACSHA1.authenticationCode(
                            key: key, first: UnsafeRawBufferPointer(header),
                            second: UnsafeRawBufferPointer(rebasing: bytes[STUNWire.headerLength..<miOffset]), into: code)
                        return true
                    } catch {
                        return false
                    }
                }
            }
        }
        guard ok else { throw .integrityUnavailable }
        return withUnsafeBytes(of: &code) { code in
            constantTimeEqual(UnsafeRawBufferPointer(rebasing: code[0..<STUNWire.integrityLength]),
                              UnsafeRawBufferPointer(rebasing: bytes[(miOffset + 4)..<(miOffset + 4 + STUNWire.integrityLength)]))
        }
    }
}

private func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    for i in 0..<a.count where a[i] != b[i] { return false }
    return true
}

/// Compares in time independent of where the bytes differ.
func constantTimeEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}
