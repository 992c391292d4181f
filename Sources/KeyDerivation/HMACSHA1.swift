internal import CVCBShims

/// NSS is initialised once per process (without a certificate database); `vcb_nss_init` is idempotent.
private let nssStatus: Int32 = vcb_nss_init()

/// HMAC-SHA-1 (RFC 2104, tested with RFC 2202) computed by NSS (`CKM_SHA_1_HMAC`).
/// For STUN's MESSAGE-INTEGRITY (RFC 5389 §15.4); use ``HMACSHA256`` for anything new.
public enum HMACSHA1 {
    public static let outputLength = 20

    /// The 20-byte HMAC-SHA-1 of `data` under `key`.
    /// - Throws: ``KeyDerivationError`` if NSS fails.
    public static func authenticationCode(key: [UInt8], data: [UInt8]) throws(KeyDerivationError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: outputLength)
        var failure: KeyDerivationError?
        key.withUnsafeBytes { k in
            data.withUnsafeBytes { d in
                out.withUnsafeMutableBytes { o in
                    do throws(KeyDerivationError) {
                        try authenticationCode(key: k, first: d, second: UnsafeRawBufferPointer(start: nil, count: 0), into: o)
                    } catch {
                        failure = error
                    }
                }
            }
        }
        if let failure { throw failure }
        return out
    }

    /// The HMAC-SHA-1 of `first | second` under `key`, written to the first 20 bytes of `out`, without
    /// allocating in Swift (for the media thread). Two parts let a caller cover a modified copy of a header
    /// followed by the rest of a packet where it lies.
    /// - Precondition: `out` has at least ``outputLength`` bytes.
    /// - Throws: ``KeyDerivationError`` if NSS fails.
    public static func authenticationCode(
        key: UnsafeRawBufferPointer, first: UnsafeRawBufferPointer, second: UnsafeRawBufferPointer,
        into out: UnsafeMutableRawBufferPointer
    ) throws(KeyDerivationError) {
        precondition(out.count >= outputLength, "HMAC-SHA-1 needs 20 bytes of output room")
        guard nssStatus == 0 else { throw .nssInitialization(nssStatus) }
        // HMAC pads the key with zeros to the block size, so an empty key is the same as a single
        // zero byte; NSS refuses zero-length keys, so give it that equivalent.
        var zero: UInt8 = 0
        let status: Int32 = withUnsafeBytes(of: &zero) { zeroKey in
            let k = key.isEmpty ? zeroKey : key
            return vcb_hmac_sha1(
                k.baseAddress!.assumingMemoryBound(to: UInt8.self), k.count,
                first.baseAddress?.assumingMemoryBound(to: UInt8.self), first.count,
                second.baseAddress?.assumingMemoryBound(to: UInt8.self), second.count,
                out.baseAddress!.assumingMemoryBound(to: UInt8.self))
        }
        guard status == 0 else { throw .nssOperation(status) }
    }
}
