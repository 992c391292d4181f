import Foundation
import KeyDerivation

/// The join exchange between an endpoint (a site) and the bridge; see docs/PROTOCOL.md.
///
/// Both sides hold the site's pre-shared secret. Each contributes a fresh 32-byte nonce; an
/// authentication key and one SRTP master key + salt per direction are derived with HKDF-SHA-256
/// over the secret, salted with both nonces, so no master key is ever used for two sessions
/// (RFC 3711 §9.1). Each side proves it holds the secret with an HMAC over the whole exchange.
public enum JoinProtocol {
    public static let version = 1
    public static let nonceLength = 32
    static let label = "vcbridge-join-v1"

    /// What a successful exchange yields.
    public struct SessionKeys: Sendable, Equatable {
        public let authentication: [UInt8]
        /// SRTP keying material (master key then salt) for packets from the site to the bridge.
        public let siteToBridge: [UInt8]
        /// ... and from the bridge to the site.
        public let bridgeToSite: [UInt8]
    }

    /// Who a proof is from, or (`floor`) what a WebRTC session's site asks with it.
    public enum Role: String, Sendable { case site, bridge, floor }

    /// Derives the session's keys. `keyingMaterialLength` is the SRTP profile's (30 or 28).
    public static func deriveKeys(
        secret: [UInt8], site: String, siteNonce: [UInt8], bridgeNonce: [UInt8], keyingMaterialLength: Int
    ) throws(KeyDerivationError) -> SessionKeys {
        let salt = siteNonce + bridgeNonce
        let prk = try HKDF.extract(salt: salt, inputKeyMaterial: secret)
        func expand(_ purpose: String, _ length: Int) throws(KeyDerivationError) -> [UInt8] {
            try HKDF.expand(pseudoRandomKey: prk, info: Array("\(label) \(purpose) \(site)".utf8), length: length)
        }
        return SessionKeys(
            authentication: try expand("auth", 32),
            siteToBridge: try expand("srtp site-to-bridge", keyingMaterialLength),
            bridgeToSite: try expand("srtp bridge-to-site", keyingMaterialLength))
    }

    /// The proof `role` sends: HMAC-SHA-256 under the authentication key over the exchange.
    public static func proof(
        _ role: Role, keys: SessionKeys, site: String, siteNonce: [UInt8], bridgeNonce: [UInt8]
    ) throws(KeyDerivationError) -> [UInt8] {
        let transcript = Array("\(label)|\(role.rawValue)|\(site)|".utf8) + siteNonce + bridgeNonce
        return try HMACSHA256.authenticationCode(key: keys.authentication, data: transcript)
    }

    // MARK: Messages: one JSON object per line.

    public static func encode(_ message: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: message, options: [.sortedKeys])) ?? Data("{}".utf8)
        return String(decoding: data, as: UTF8.self)
    }

    /// Parses a line; nil for anything that is not a JSON object with a string "type".
    public static func decode(_ line: String) -> [String: Any]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              object["type"] is String
        else { return nil }
        return object
    }

    public static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    public static func bytes(hex: Any?, length: Int) -> [UInt8]? {
        guard let text = hex as? String, text.count == 2 * length, let bytes = SiteKey.bytes(hex: text) else { return nil }
        return bytes
    }
}

/// Why the bridge refused a join (sent to the endpoint as `reason`).
public enum JoinRefusal: String, Sendable {
    case unknownSite = "unknown-site"
    case authenticationFailed = "authentication-failed"
    case notBooked = "not-booked"
    case malformed = "malformed"
    case bridgeFull = "bridge-full"
}
