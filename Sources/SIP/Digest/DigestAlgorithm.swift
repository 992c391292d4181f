import KeyDerivation

/// A digest algorithm of RFC 7616 §3.3 as SIP uses it (RFC 8760): SHA-256 preferred, MD5 for older systems.
/// The `-sess` variants are not offered or accepted.
public enum DigestAlgorithm: String, Sendable, Hashable, CaseIterable {
    case sha256 = "SHA-256"
    case md5 = "MD5"

    /// The token as written in a header (case-insensitive on input).
    init?(token: String) {
        switch token.uppercased() {
        case "SHA-256": self = .sha256
        case "MD5": self = .md5
        default: return nil
        }
    }

    /// Lower-case hex of the digest of `text` (RFC 7616's H()).
    func hex(_ text: String) throws(MessageDigestError) -> String {
        let digest = switch self {
        case .sha256: try MessageDigest.sha256(Array(text.utf8))
        case .md5: try MessageDigest.md5(Array(text.utf8))
        }
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(digest.count * 2)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The `response` of RFC 7616 §3.4.1 with qop=auth: H(H(user:realm:password):nonce:nc:cnonce:auth:H(method:uri)).
    func response(username: String, realm: String, password: String, method: String, uri: String, nonce: String,
                  nc: String, cnonce: String) throws(MessageDigestError) -> String {
        let ha1 = try hex("\(username):\(realm):\(password)")
        let ha2 = try hex("\(method):\(uri)")
        return try hex("\(ha1):\(nonce):\(nc):\(cnonce):auth:\(ha2)")
    }
}

extension DigestAlgorithm {
    /// The RFC 2069 `response` without qop: H(H(user:realm:password):nonce:H(method:uri)); only the client uses it.
    func legacyResponse(username: String, realm: String, password: String, method: String, uri: String,
                        nonce: String) throws(MessageDigestError) -> String {
        let ha1 = try hex("\(username):\(realm):\(password)")
        let ha2 = try hex("\(method):\(uri)")
        return try hex("\(ha1):\(nonce):\(ha2)")
    }
}

/// `Digest name=value, name="value", ...` (RFC 7616 §3.3-3.4, RFC 7235's auth-param), names lower-cased, values
/// unquoted; nil if it is not a Digest header or is malformed. At most 32 parameters.
func parseDigestParameters(_ header: String) -> [String: String]? {
    let trimmed = header.trimmingSpaces
    guard trimmed.utf8.count <= 4096, trimmed.count > 7, trimmed.prefix(6).lowercased() == "digest",
          trimmed.dropFirst(6).first == " " || trimmed.dropFirst(6).first == "\t"
    else { return nil }
    var parameters: [String: String] = [:]
    let items = splitOutsideQuotes(trimmed.dropFirst(7), separator: ",")
    guard items.count <= 32 else { return nil }
    for item in items {
        let pair = item.trimmingSpaces
        guard !pair.isEmpty else { continue }
        guard let equals = pair.firstIndex(of: "=") else { return nil }
        let name = pair[..<equals].trimmingSpaces.lowercased()
        let raw = pair[pair.index(after: equals)...].trimmingSpaces
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte), parameters[name] == nil else { return nil }
        if raw.first == "\"" {
            guard raw.count >= 2, raw.last == "\"" else { return nil }
        } else {
            guard !raw.isEmpty, raw.utf8.allSatisfy(isTokenByte) else { return nil }
        }
        parameters[name] = unquoted(raw)
    }
    return parameters
}
