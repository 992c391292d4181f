internal import CVCBShims

/// NSS is initialised once per process (without a certificate database).
private let nssStatus: Int32 = vcb_nss_init()

/// HMAC-SHA-256 (RFC 2104) computed by NSS.
public enum HMACSHA256 {
    public static let outputLength = 32

    /// The 32-byte HMAC-SHA-256 of `data` under `key`.
    /// - Throws: ``KeyDerivationError`` if NSS fails.
    public static func authenticationCode(key: [UInt8], data: [UInt8]) throws(KeyDerivationError) -> [UInt8] {
        guard nssStatus == 0 else { throw .nssInitialization(nssStatus) }
        // HMAC pads the key with zeros to the block size, so an empty key is the same as a single
        // zero byte; NSS refuses zero-length keys, so give it that equivalent.
        let effectiveKey = key.isEmpty ? [0] : key
        var out = [UInt8](repeating: 0, count: outputLength)
        let status = effectiveKey.withUnsafeBufferPointer { k in
            data.withUnsafeBufferPointer { d in
                out.withUnsafeMutableBufferPointer { o in
                    vcb_hmac_sha256(k.baseAddress, k.count, d.baseAddress, d.count, o.baseAddress)
                }
            }
        }
        guard status == 0 else { throw .nssOperation(status) }
        return out
    }

    /// Compares two MACs in time independent of where they differ: when the lengths match, every
    /// byte of both is read once, in order, whatever the contents; the result is computed only after
    /// the last one. A MAC's length is public, so differing lengths return `false` at once without
    /// reading any byte.
    ///
    /// Generic so a test can count the element reads; callers pass `[UInt8]`.
    public static func constantTimeEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ b: B) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
