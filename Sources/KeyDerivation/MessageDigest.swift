internal import CVCBShims

/// Why a ``MessageDigest`` could not be computed.
public struct MessageDigestError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The NSS/NSPR error code, or -1 for an argument NSS was not given (more than 2 GiB of input).
    public let status: Int32
    init(status: Int32) { self.status = status }
    public var description: String { "NSS message digest failed (NSS error \(status))" }
}

/// MD5 and SHA-256 computed by NSS (`PK11_HashBuf` with `SEC_OID_MD5` / `SEC_OID_SHA256`); for HTTP/SIP digest
/// authentication (RFC 7616, RFC 8760), where the algorithm is the peer's choice. MD5 is there only for older systems.
public enum MessageDigest {
    /// MD5 (16 bytes) of `data`.
    public static func md5(_ data: [UInt8]) throws(MessageDigestError) -> [UInt8] {
        try hash(Int32(VCB_HASH_MD5), 16, data)
    }

    /// SHA-256 (32 bytes) of `data`.
    public static func sha256(_ data: [UInt8]) throws(MessageDigestError) -> [UInt8] {
        try hash(Int32(VCB_HASH_SHA256), 32, data)
    }

    private static func hash(_ algorithm: Int32, _ length: Int, _ data: [UInt8]) throws(MessageDigestError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let status = data.withUnsafeBufferPointer { d in
            out.withUnsafeMutableBufferPointer { o in
                vcb_hash(algorithm, d.baseAddress, d.count, o.baseAddress, o.count)
            }
        }
        guard status == 0 else { throw MessageDigestError(status: status) }
        return out
    }
}
