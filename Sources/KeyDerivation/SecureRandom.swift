#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
internal import CVCBShims

/// Random bytes from the kernel CSPRNG (getrandom(2)), for nonces, keys and SSRCs.
public enum SecureRandom {
    /// `count` random bytes.
    /// - Throws: ``KeyDerivationError/randomUnavailable`` if the kernel refuses.
    public static func bytes(_ count: Int) throws(KeyDerivationError) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = out.withUnsafeMutableBytes { buffer in
                vcb_getrandom(buffer.baseAddress! + filled, count - filled)
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw .randomUnavailable(errno)
            }
            filled += n
        }
        return out
    }

    /// A random 32-bit value (for example an SSRC).
    public static func uint32() throws(KeyDerivationError) -> UInt32 {
        let b = try bytes(4)
        return UInt32(b[0]) << 24 | UInt32(b[1]) << 16 | UInt32(b[2]) << 8 | UInt32(b[3])
    }
}
