import KeyDerivation

/// A site's SIP digest credentials, derived from its secret so nothing more is stored: the username is the site's
/// id, the password the first 16 bytes of HKDF-SHA-256(secret, info "vcbridge sip digest v1" | site) as 22 base64url
/// characters, short enough for a hall's technician to type into a room system.
public enum SIPDigestPassword {
    public static let label = "vcbridge sip digest v1"

    /// The username and password a room system of `key`'s site authenticates with.
    public static func credentials(for key: SiteKey) throws(KeyDerivationError) -> (username: String, password: String) {
        (key.site, try password(site: key.site, secret: key.secret))
    }

    /// The password for a site's secret.
    public static func password(site: String, secret: [UInt8]) throws(KeyDerivationError) -> String {
        let bytes = try HKDF.deriveKey(inputKeyMaterial: secret, salt: [], info: Array((label + " " + site).utf8), length: 16)
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        var value: UInt32 = 0
        var bits = 0
        for byte in bytes {
            value = value << 8 | UInt32(byte)
            bits += 8
            while bits >= 6 {
                bits -= 6
                out.append(alphabet[Int(value >> UInt32(bits) & 0x3F)])
            }
        }
        if bits > 0 { out.append(alphabet[Int(value << UInt32(6 - bits) & 0x3F)]) }
        return String(decoding: out, as: UTF8.self)
    }
}
