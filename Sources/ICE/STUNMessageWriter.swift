import KeyDerivation
import Transport

/// Writes a STUN message into a caller's buffer, attribute by attribute, keeping the header's length current;
/// MESSAGE-INTEGRITY and FINGERPRINT are computed over what is written before them. No allocation in Swift (the
/// media thread answers checks with it; NSS allocates inside the HMAC), and never writes past the buffer: an attribute that does not fit throws
/// ``STUNError/bufferTooSmall`` and leaves the message as it was.
///
/// The buffer must stay valid while the writer is used (create the writer inside `withUnsafeMutableBytes`).
public struct STUNMessageWriter {
    private let buffer: UnsafeMutableRawBufferPointer
    /// Bytes written so far, header included: the message's size once it is finished.
    public private(set) var byteCount: Int

    /// Starts a message with its header.
    /// - Throws: ``STUNError/bufferTooSmall`` below 20 bytes.
    public init(
        into buffer: UnsafeMutableRawBufferPointer, type: STUNMessageType, transactionID: STUNTransactionID
    ) throws(STUNError) {
        guard buffer.count >= STUNWire.headerLength else { throw .bufferTooSmall }
        self.buffer = buffer
        buffer.put(type.rawValue, at: 0)
        buffer.put(UInt16(0), at: 2)
        buffer.put(STUNWire.magicCookie, at: 4)
        transactionID.write(to: buffer, at: 8)
        byteCount = STUNWire.headerLength
    }

    /// Reserves an attribute of `length` value bytes (zeroed padding), writes its header and the message
    /// length, and returns the value's offset.
    private mutating func begin(_ type: UInt16, length: Int, padding: UInt8 = 0) throws(STUNError) -> Int {
        let total = 4 + STUNWire.padded(length)
        guard length <= 0xFFFF, buffer.count - byteCount >= total, byteCount + total - STUNWire.headerLength <= 0xFFFF else {
            throw .bufferTooSmall
        }
        buffer.put(type, at: byteCount)
        buffer.put(UInt16(length), at: byteCount + 2)
        for i in (byteCount + 4 + length)..<(byteCount + total) { buffer[i] = padding }
        let value = byteCount + 4
        byteCount += total
        buffer.put(UInt16(byteCount - STUNWire.headerLength), at: 2)
        return value
    }

    /// Any attribute with raw value bytes (for tests and attributes without their own method); padded with
    /// `padding` (RFC 5389 lets the sender choose it, RFC 5769's vectors use spaces).
    mutating func append(attribute type: UInt16, value: UnsafeRawBufferPointer, padding: UInt8 = 0) throws(STUNError) {
        let at = try begin(type, length: value.count, padding: padding)
        if !value.isEmpty { UnsafeMutableRawBufferPointer(rebasing: buffer[at..<(at + value.count)]).copyMemory(from: value) }
    }

    /// USERNAME (at most 513 bytes of UTF-8).
    public mutating func appendUsername(_ username: String) throws(STUNError) {
        let length = username.utf8.count
        guard length <= STUNWire.maximumUsernameLength else { throw .valueTooLong(STUNAttribute.username) }
        var at = try begin(STUNAttribute.username, length: length)
        for byte in username.utf8 { buffer[at] = byte; at += 1 }
    }

    /// PRIORITY.
    public mutating func appendPriority(_ priority: UInt32) throws(STUNError) {
        buffer.put(priority, at: try begin(STUNAttribute.priority, length: 4))
    }

    /// USE-CANDIDATE (no value).
    public mutating func appendUseCandidate() throws(STUNError) {
        _ = try begin(STUNAttribute.useCandidate, length: 0)
    }

    /// ICE-CONTROLLING with its tie-breaker.
    public mutating func appendICEControlling(tieBreaker: UInt64) throws(STUNError) {
        buffer.put(tieBreaker, at: try begin(STUNAttribute.iceControlling, length: 8))
    }

    /// ICE-CONTROLLED with its tie-breaker.
    public mutating func appendICEControlled(tieBreaker: UInt64) throws(STUNError) {
        buffer.put(tieBreaker, at: try begin(STUNAttribute.iceControlled, length: 8))
    }

    /// XOR-MAPPED-ADDRESS of `address` (IPv4 or IPv6), masked with the cookie and, for IPv6, the transaction id.
    public mutating func appendXORMappedAddress(_ address: SocketAddress) throws(STUNError) {
        let v6 = address.isIPv6
        let at = try begin(STUNAttribute.xorMappedAddress, length: v6 ? 20 : 8)
        buffer[at] = 0
        buffer[at + 1] = v6 ? 2 : 1
        buffer.put(address.port ^ UInt16(STUNWire.magicCookie >> 16), at: at + 2)
        let buffer = self.buffer
        address.withAddressBytes { ip in
            // The mask is the 16 bytes from the magic cookie on (cookie, then transaction id).
            for i in 0..<ip.count { buffer[at + 4 + i] = ip[i] ^ buffer[4 + i] }
        }
    }

    /// ERROR-CODE: `code` 300-699 and a reason phrase (at most 763 bytes).
    /// - Precondition: `code` is in 300...699.
    public mutating func appendErrorCode(_ code: Int, reason: String) throws(STUNError) {
        precondition((300...699).contains(code), "STUN error codes are 300-699")
        let reasonLength = reason.utf8.count
        guard reasonLength <= STUNWire.maximumReasonLength else { throw .valueTooLong(STUNAttribute.errorCode) }
        var at = try begin(STUNAttribute.errorCode, length: 4 + reasonLength)
        buffer.put(UInt16(0), at: at)
        buffer[at + 2] = UInt8(code / 100)
        buffer[at + 3] = UInt8(code % 100)
        at += 4
        for byte in reason.utf8 { buffer[at] = byte; at += 1 }
    }

    /// MESSAGE-INTEGRITY: HMAC-SHA-1 under `key` (for ICE, the password's bytes) of everything written so far,
    /// with the header's length already counting this attribute (RFC 5389 §15.4).
    /// - Throws: ``STUNError/bufferTooSmall``, or ``STUNError/integrityUnavailable`` if NSS fails.
    public mutating func appendMessageIntegrity(key: [UInt8]) throws(STUNError) {
        let before = byteCount
        let at = try begin(STUNAttribute.messageIntegrity, length: STUNWire.integrityLength)
        let buffer = self.buffer
        let ok: Bool = key.withUnsafeBytes { key in
            do {
                try HMACSHA1.authenticationCode(
                    key: key, first: UnsafeRawBufferPointer(rebasing: buffer[0..<before]),
                    second: UnsafeRawBufferPointer(start: nil, count: 0),
                    into: UnsafeMutableRawBufferPointer(rebasing: buffer[at..<(at + STUNWire.integrityLength)]))
                return true
            } catch {
                return false
            }
        }
        guard ok else {
            byteCount = before
            buffer.put(UInt16(byteCount - STUNWire.headerLength), at: 2)
            throw .integrityUnavailable
        }
    }

    /// FINGERPRINT: CRC-32 of everything written so far xor 0x5354554E (RFC 5389 §15.5); it must be last.
    /// - Returns: the message's size.
    @discardableResult
    public mutating func appendFingerprint() throws(STUNError) -> Int {
        let before = byteCount
        let at = try begin(STUNAttribute.fingerprint, length: 4)
        let crc = CRC32.checksum(UnsafeRawBufferPointer(rebasing: buffer[0..<before]))
        buffer.put(crc ^ STUNWire.fingerprintXor, at: at)
        return byteCount
    }
}
