/// HKDF with SHA-256 (RFC 5869), built on ``HMACSHA256``.
public enum HKDF {
    /// HKDF-Extract: PRK = HMAC(salt, IKM). An empty salt means 32 zero bytes.
    public static func extract(salt: [UInt8], inputKeyMaterial: [UInt8]) throws(KeyDerivationError) -> [UInt8] {
        let effectiveSalt = salt.isEmpty ? [UInt8](repeating: 0, count: HMACSHA256.outputLength) : salt
        return try HMACSHA256.authenticationCode(key: effectiveSalt, data: inputKeyMaterial)
    }

    /// HKDF-Expand: the first `length` bytes of T(1) | T(2) | ..., T(i) = HMAC(PRK, T(i-1) | info | i).
    /// - Throws: ``KeyDerivationError/outputTooLong`` above 255 * 32 bytes.
    public static func expand(
        pseudoRandomKey: [UInt8], info: [UInt8], length: Int
    ) throws(KeyDerivationError) -> [UInt8] {
        guard length >= 0, length <= 255 * HMACSHA256.outputLength else { throw .outputTooLong }
        var output: [UInt8] = []
        output.reserveCapacity(length)
        var previous: [UInt8] = []
        var counter: UInt8 = 1
        while output.count < length {
            previous = try HMACSHA256.authenticationCode(key: pseudoRandomKey, data: previous + info + [counter])
            output.append(contentsOf: previous.prefix(length - output.count))
            counter &+= 1
        }
        return output
    }

    /// Extract then expand.
    public static func deriveKey(
        inputKeyMaterial: [UInt8], salt: [UInt8], info: [UInt8], length: Int
    ) throws(KeyDerivationError) -> [UInt8] {
        let prk = try extract(salt: salt, inputKeyMaterial: inputKeyMaterial)
        return try expand(pseudoRandomKey: prk, info: info, length: length)
    }
}
