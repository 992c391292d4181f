/// The class of a STUN message (RFC 5389 §6).
public enum STUNMessageClass: UInt8, Sendable {
    case request = 0, indication = 1, successResponse = 2, errorResponse = 3
}

/// A STUN message type: a 12-bit method and a class, interleaved in 14 bits on the wire (RFC 5389 §6).
public struct STUNMessageType: Hashable, Sendable, CustomStringConvertible {
    /// The method (Binding is 1).
    public let method: UInt16
    public let messageClass: STUNMessageClass

    public static let bindingMethod: UInt16 = 0x001
    public static let bindingRequest = STUNMessageType(method: bindingMethod, messageClass: .request)
    public static let bindingSuccessResponse = STUNMessageType(method: bindingMethod, messageClass: .successResponse)
    public static let bindingErrorResponse = STUNMessageType(method: bindingMethod, messageClass: .errorResponse)
    public static let bindingIndication = STUNMessageType(method: bindingMethod, messageClass: .indication)

    /// - Precondition: `method` fits in 12 bits.
    public init(method: UInt16, messageClass: STUNMessageClass) {
        precondition(method <= 0xFFF, "STUN methods have 12 bits")
        self.method = method
        self.messageClass = messageClass
    }

    /// Decodes the 14-bit field (the two bits above it must have been checked to be zero).
    init(rawValue: UInt16) {
        method = (rawValue & 0x000F) | ((rawValue >> 1) & 0x0070) | ((rawValue >> 2) & 0x0F80)
        messageClass = STUNMessageClass(rawValue: UInt8(((rawValue >> 4) & 1) | ((rawValue >> 7) & 2)))!
    }

    /// The 14-bit wire form.
    var rawValue: UInt16 {
        let c = UInt16(messageClass.rawValue)
        return (method & 0x000F) | ((method & 0x0070) << 1) | ((method & 0x0F80) << 2) | ((c & 1) << 4) | ((c & 2) << 7)
    }

    public var description: String { "method \(method) \(messageClass)" }
}

/// The 96-bit transaction id of a STUN message, as three big-endian words.
public struct STUNTransactionID: Hashable, Sendable {
    let word0: UInt32, word1: UInt32, word2: UInt32

    /// - Precondition: `bytes` has 12 elements.
    public init(_ bytes: [UInt8]) {
        precondition(bytes.count == 12, "a STUN transaction id has 12 bytes")
        self = bytes.withUnsafeBytes { STUNTransactionID(reading: $0, at: 0) }
    }

    init(reading buffer: UnsafeRawBufferPointer, at offset: Int) {
        word0 = buffer.u32(offset)
        word1 = buffer.u32(offset + 4)
        word2 = buffer.u32(offset + 8)
    }

    func write(to buffer: UnsafeMutableRawBufferPointer, at offset: Int) {
        buffer.put(word0, at: offset)
        buffer.put(word1, at: offset + 4)
        buffer.put(word2, at: offset + 8)
    }

    /// The 12 bytes.
    public var bytes: [UInt8] {
        var out = [UInt8](repeating: 0, count: 12)
        out.withUnsafeMutableBytes { write(to: $0, at: 0) }
        return out
    }
}

/// Attribute types this module reads or writes (RFC 5389 §18.2, RFC 8445 §16.1).
enum STUNAttribute {
    static let mappedAddress: UInt16 = 0x0001
    static let username: UInt16 = 0x0006
    static let messageIntegrity: UInt16 = 0x0008
    static let errorCode: UInt16 = 0x0009
    static let xorMappedAddress: UInt16 = 0x0020
    static let priority: UInt16 = 0x0024
    static let useCandidate: UInt16 = 0x0025
    static let software: UInt16 = 0x8022
    static let fingerprint: UInt16 = 0x8028
    static let iceControlled: UInt16 = 0x8029
    static let iceControlling: UInt16 = 0x802A

    static func name(of type: UInt16) -> String {
        switch type {
        case mappedAddress: "MAPPED-ADDRESS"
        case username: "USERNAME"
        case messageIntegrity: "MESSAGE-INTEGRITY"
        case errorCode: "ERROR-CODE"
        case xorMappedAddress: "XOR-MAPPED-ADDRESS"
        case priority: "PRIORITY"
        case useCandidate: "USE-CANDIDATE"
        case software: "SOFTWARE"
        case fingerprint: "FINGERPRINT"
        case iceControlled: "ICE-CONTROLLED"
        case iceControlling: "ICE-CONTROLLING"
        default: "0x" + String(type, radix: 16)
        }
    }
}

/// Fixed numbers of the STUN wire format.
enum STUNWire {
    static let headerLength = 20
    static let magicCookie: UInt32 = 0x2112_A442
    /// FINGERPRINT is the CRC-32 xor this value (RFC 5389 §15.5).
    static let fingerprintXor: UInt32 = 0x5354_554E
    static let integrityLength = 20
    /// RFC 5389 §15.3: USERNAME is less than 513 bytes.
    static let maximumUsernameLength = 513
    /// RFC 5389 §15.6: the reason phrase is at most 763 bytes.
    static let maximumReasonLength = 763

    static func padded(_ length: Int) -> Int { (length + 3) & ~3 }
}

// Big-endian reads and writes; callers check bounds first. No allocation.
extension UnsafeRawBufferPointer {
    @inline(__always) func u16(_ offset: Int) -> UInt16 {
        UInt16(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }
    @inline(__always) func u32(_ offset: Int) -> UInt32 {
        UInt32(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }
    @inline(__always) func u64(_ offset: Int) -> UInt64 {
        UInt64(bigEndian: loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always) func put(_ value: UInt16, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt16.self)
    }
    @inline(__always) func put(_ value: UInt32, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt32.self)
    }
    @inline(__always) func put(_ value: UInt64, at offset: Int) {
        storeBytes(of: value.bigEndian, toByteOffset: offset, as: UInt64.self)
    }
}
