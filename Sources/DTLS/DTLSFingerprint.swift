internal import CVCBShims

/// A certificate fingerprint as SDP carries it (RFC 8122 §5): `sha-256 AB:CD:...`.
///
/// Only SHA-256 is supported: it is what browsers and aiortc send and what the bridge announces.
public struct DTLSFingerprint: Hashable, Sendable, CustomStringConvertible {
    /// The 32 bytes of the SHA-256 digest of the certificate's DER encoding.
    public let bytes: [UInt8]

    /// The fingerprint of a DER-encoded certificate.
    /// - Throws: ``DTLSError`` if NSS cannot hash.
    public init(certificateDER der: [UInt8]) throws(DTLSError) {
        var digest = [UInt8](repeating: 0, count: 32)
        let status = der.withUnsafeBufferPointer { d in
            digest.withUnsafeMutableBufferPointer { vcb_dtls_sha256(d.baseAddress, d.count, $0.baseAddress) }
        }
        guard status == 0 else { throw DTLSError(code: status) }
        bytes = digest
    }

    /// Parses the value of an SDP `a=fingerprint:` attribute, e.g. `sha-256 AB:CD:...` (hash name and hex digits
    /// in any case).
    /// - Throws: ``DTLSError/unsupportedFingerprintAlgorithm`` for another hash function,
    ///   ``DTLSError/malformedFingerprint`` if it is not 32 colon-separated pairs of hex digits.
    public init(sdpValue: String) throws(DTLSError) {
        let parts = sdpValue.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2 else { throw .malformedFingerprint }
        guard parts[0].lowercased() == "sha-256" else {
            throw parts[0].count <= 16 && parts[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" })
                ? .unsupportedFingerprintAlgorithm : .malformedFingerprint
        }
        let groups = parts[1].split(separator: ":", omittingEmptySubsequences: false)
        guard groups.count == 32 else { throw .malformedFingerprint }
        var digest: [UInt8] = []
        digest.reserveCapacity(32)
        for group in groups {
            guard group.utf8.count == 2, group.allSatisfy(\.isHexDigit), let byte = UInt8(group, radix: 16) else {
                throw .malformedFingerprint
            }
            digest.append(byte)
        }
        bytes = digest
    }

    /// The SDP attribute value: `sha-256` and the digest in upper-case hex pairs separated by colons.
    public var sdpValue: String {
        "sha-256 " + bytes.map { byte in
            let hex = String(byte, radix: 16, uppercase: true)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }

    public var description: String { sdpValue }
}
