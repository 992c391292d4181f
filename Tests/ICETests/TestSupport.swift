@testable import ICE
import KeyDerivation
import Transport

/// Bytes from hex text; spaces and newlines ignored.
func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.filter { !$0.isWhitespace }
    var out: [UInt8] = []
    var index = digits.startIndex
    while index < digits.endIndex {
        let next = digits.index(index, offsetBy: 2)
        out.append(UInt8(digits[index..<next], radix: 16)!)
        index = next
    }
    return out
}

func parse(_ bytes: [UInt8]) throws -> STUNMessage {
    try bytes.withUnsafeBytes { b in try STUNMessage(parsing: b) }
}

/// Builds a message with the writer into a fresh 1500-byte buffer; returns exactly its bytes.
func buildMessage(
    type: STUNMessageType = .bindingRequest, transactionID: STUNTransactionID,
    _ body: (inout STUNMessageWriter) throws -> Void
) throws -> [UInt8] {
    var buffer = [UInt8](repeating: 0xEE, count: 1500)
    let count = try buffer.withUnsafeMutableBytes { raw -> Int in
        var writer = try STUNMessageWriter(into: raw, type: type, transactionID: transactionID)
        try body(&writer)
        return writer.byteCount
    }
    return Array(buffer[0..<count])
}

/// What a browser sends: USERNAME, ICE-CONTROLLING, PRIORITY, optionally USE-CANDIDATE, MESSAGE-INTEGRITY
/// under `password`, FINGERPRINT.
func checkRequest(
    username: String, password: String, useCandidate: Bool = false, priority: UInt32? = 1_853_817_087,
    integrity: Bool = true, fingerprint: Bool = true, transactionID: STUNTransactionID = randomTransactionID()
) throws -> [UInt8] {
    try buildMessage(transactionID: transactionID) { w in
        try w.appendUsername(username)
        try w.appendICEControlling(tieBreaker: 0x1122_3344_5566_7788)
        if let priority { try w.appendPriority(priority) }
        if useCandidate { try w.appendUseCandidate() }
        if integrity { try w.appendMessageIntegrity(key: Array(password.utf8)) }
        if fingerprint { try w.appendFingerprint() }
    }
}

func randomTransactionID() -> STUNTransactionID {
    STUNTransactionID(try! SecureRandom.bytes(12))
}

/// A session with known credentials (RFC 5769's, so the RFC's request is a valid check for it).
func rfcSession(now: Int64 = 0) throws -> ICELiteSession {
    try ICELiteSession(
        local: ICECredentials(ufrag: "evtj", password: "VOkJxbRl1RmTxUk/WvJxBt"), remoteUfrag: "h6vY", now: now)
}

extension ICELiteSession {
    /// Handles `request` from `source`; returns the result and exactly the response bytes (empty when refused).
    mutating func check(_ request: [UInt8], from source: SocketAddress, now: Int64) -> (ICECheckResult, [UInt8]) {
        var out = [UInt8](repeating: 0, count: 1500)
        let result = request.withUnsafeBytes { r in
            out.withUnsafeMutableBytes { o in handle(r, from: source, now: now, response: o) }
        }
        if case .respond(let response) = result { return (result, Array(out[0..<response.byteCount])) }
        return (result, [])
    }
}

// MARK: - An independent reading of a STUN message, written from the RFC text without the module's parser,
// CRC table or writer: a bit-by-bit CRC-32 and HMAC over a copied, length-patched prefix.

struct IndependentAttribute {
    let type: UInt16
    let value: [UInt8]
    /// Offset of the attribute's header in the message.
    let offset: Int
}

func be16(_ b: [UInt8], _ i: Int) -> UInt16 { UInt16(b[i]) << 8 | UInt16(b[i + 1]) }
func be32(_ b: [UInt8], _ i: Int) -> UInt32 { UInt32(be16(b, i)) << 16 | UInt32(be16(b, i + 2)) }

func independentAttributes(_ message: [UInt8]) -> [IndependentAttribute]? {
    guard message.count >= 20, Int(be16(message, 2)) + 20 == message.count else { return nil }
    var out: [IndependentAttribute] = []
    var i = 20
    while i + 4 <= message.count {
        let length = Int(be16(message, i + 2))
        guard i + 4 + length <= message.count else { return nil }
        out.append(IndependentAttribute(type: be16(message, i), value: Array(message[(i + 4)..<(i + 4 + length)]), offset: i))
        i += 4 + (length + 3) / 4 * 4
    }
    return i == message.count ? out : nil
}

func bitwiseCRC32(_ bytes: some Sequence<UInt8>) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
    }
    return ~crc
}

func independentFingerprintOK(_ message: [UInt8]) -> Bool {
    guard let last = independentAttributes(message)?.last, last.type == 0x8028, last.value.count == 4 else { return false }
    return be32(last.value, 0) == bitwiseCRC32(message[0..<last.offset]) ^ 0x5354_554E
}

func independentIntegrityOK(_ message: [UInt8], password: String) throws -> Bool {
    guard let mi = independentAttributes(message)?.first(where: { $0.type == 0x0008 }), mi.value.count == 20 else { return false }
    var prefix = Array(message[0..<mi.offset])
    let adjusted = mi.offset + 24 - 20
    prefix[2] = UInt8(adjusted >> 8)
    prefix[3] = UInt8(adjusted & 0xFF)
    return try HMACSHA1.authenticationCode(key: Array(password.utf8), data: prefix) == mi.value
}

func username(of message: STUNMessage, in bytes: [UInt8]) -> String? {
    bytes.withUnsafeBytes { message.username(in: $0) }
}

func errorReason(of message: STUNMessage, in bytes: [UInt8]) -> String? {
    bytes.withUnsafeBytes { message.errorReason(in: $0) }
}

func integrityValid(_ message: STUNMessage, in bytes: [UInt8], password: String) throws -> Bool {
    try bytes.withUnsafeBytes { try message.isIntegrityValid(in: $0, key: Array(password.utf8)) }
}
