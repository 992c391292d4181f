import KeyDerivation

/// What ``DigestChallenger/verify(authorization:method:requestURI:now:password:)`` decided.
public enum DigestVerdict: Sendable, Hashable {
    /// The request is from `username`.
    case accepted(username: String)
    /// The response was right but the nonce has expired: challenge again with `stale=true` (RFC 7616 §3.3).
    case stale
    /// Refused: challenge again (401) without `stale`.
    case refused(DigestRefusal)
}

/// Why an `Authorization` header was refused.
public enum DigestRefusal: String, Sendable, Hashable {
    case malformed = "malformed Authorization"
    case unsupportedAlgorithm = "unsupported algorithm"
    case unsupportedQop = "qop must be auth"
    case wrongRealm = "wrong realm"
    case badNonce = "nonce not issued by this server"
    case uriMismatch = "uri does not match the Request-URI"
    case unknownUser = "unknown username"
    case wrongResponse = "wrong response (password)"
    case replayed = "nonce count not increasing (replay)"
}

/// The server side of SIP digest authentication (RFC 3261 §22, RFC 7616, RFC 8760) with stateless nonces:
/// a nonce is its issue time and an HMAC-SHA-256 over it under the server's secret, so the server keeps no table of
/// nonces it issued. The only memory is the highest nonce count seen per nonce in use (bounded; a nonce pushed out
/// of it counts as expired, so a replay cannot slip through the eviction). Time is passed in (milliseconds).
public struct DigestChallenger: Sendable {
    public let realm: String
    private let secret: [UInt8]
    /// How long a nonce is good for (5 min by default).
    public let nonceLifetimeMs: Int64
    /// How many nonces' counts are remembered at most.
    public let maxTrackedNonces: Int

    private var counts: [String: (count: UInt32, issued: Int64)] = [:]
    private var order: [String] = []
    private var orderStart = 0
    /// Nonces issued at or before this were pushed out of `counts`: treated as expired.
    private var forgottenThrough: Int64 = .min

    public init(realm: String, secret: [UInt8], nonceLifetimeMs: Int64 = 300_000, maxTrackedNonces: Int = 4096) {
        self.realm = realm
        self.secret = secret
        self.nonceLifetimeMs = nonceLifetimeMs
        self.maxTrackedNonces = max(1, maxTrackedNonces)
    }

    /// A fresh nonce for `now`.
    public func nonce(now: Int64) throws(KeyDerivationError) -> String {
        var stamp = [UInt8](repeating: 0, count: 8)
        for index in 0..<8 { stamp[index] = UInt8(truncatingIfNeeded: UInt64(bitPattern: now) >> (56 - 8 * UInt64(index))) }
        return Base64URL.encode(stamp + (try tag(stamp)))
    }

    /// The challenges to put in a 401, SHA-256 first then MD5 (RFC 8760 §2.4), one header value each.
    public func challenges(now: Int64, stale: Bool = false) throws(KeyDerivationError) -> [String] {
        let nonce = try nonce(now: now)
        return DigestAlgorithm.allCases.map {
            DigestChallenge(realm: realm, nonce: nonce, algorithm: $0, stale: stale).headerValue
        }
    }

    /// Checks an `Authorization` header value for a request.
    /// - Parameters:
    ///   - requestURI: the Request-URI as the request carries it; the header's `uri` must be the same.
    ///   - password: the password of a username, nil if unknown.
    public mutating func verify(authorization: String, method: String, requestURI: String, now: Int64,
                                password: (String) -> String?) -> DigestVerdict {
        guard let parameters = parseDigestParameters(authorization), let username = parameters["username"],
              let nonce = parameters["nonce"], let uri = parameters["uri"], let response = parameters["response"],
              let realm = parameters["realm"]
        else { return .refused(.malformed) }
        guard let algorithm = DigestAlgorithm(token: parameters["algorithm"] ?? "MD5") else {
            return .refused(.unsupportedAlgorithm)
        }
        guard parameters["qop"]?.lowercased() == "auth", let ncText = parameters["nc"], let cnonce = parameters["cnonce"],
              !cnonce.isEmpty
        else { return .refused(.unsupportedQop) }
        guard ncText.utf8.count == 8, ncText.utf8.allSatisfy(isHexDigit), let nc = UInt32(ncText, radix: 16), nc > 0 else {
            return .refused(.malformed)
        }
        guard realm == self.realm else { return .refused(.wrongRealm) }
        guard let issued = issueTime(of: nonce) else { return .refused(.badNonce) }
        guard uri == requestURI || Self.sameURI(uri, requestURI) else { return .refused(.uriMismatch) }
        guard let secretPassword = password(username) else { return .refused(.unknownUser) }
        guard let expected = try? algorithm.response(
            username: username, realm: realm, password: secretPassword, method: method, uri: uri, nonce: nonce,
            nc: ncText, cnonce: cnonce)
        else { return .refused(.wrongResponse) }
        guard HMACSHA256.constantTimeEqual(Array(expected.utf8), Array(response.lowercased().utf8)) else {
            return .refused(.wrongResponse)
        }
        prune(now: now)
        // Expired, from the future, or forgotten: the client knows the password; ask again with a fresh nonce.
        if issued > now + 5_000 || now - issued > nonceLifetimeMs || issued <= forgottenThrough { return .stale }
        if let seen = counts[nonce] {
            guard nc > seen.count else { return .refused(.replayed) }
            counts[nonce] = (nc, seen.issued)
        } else {
            remember(nonce, count: nc, issued: issued)
        }
        return .accepted(username: username)
    }

    /// The issue time of a nonce this server made, or nil.
    private func issueTime(of nonce: String) -> Int64? {
        guard nonce.utf8.count == 32, let raw = Base64URL.decode(nonce), raw.count == 24,
              let expected = try? tag(Array(raw[0..<8])),
              HMACSHA256.constantTimeEqual(expected, raw[8..<24])
        else { return nil }
        var value: UInt64 = 0
        for byte in raw[0..<8] { value = value << 8 | UInt64(byte) }
        return Int64(bitPattern: value)
    }

    private func tag(_ stamp: [UInt8]) throws(KeyDerivationError) -> [UInt8] {
        Array(try HMACSHA256.authenticationCode(key: secret, data: Array("vcbridge sip nonce v1 \(realm)".utf8) + stamp)
            .prefix(16))
    }

    private mutating func remember(_ nonce: String, count: UInt32, issued: Int64) {
        if counts.count >= maxTrackedNonces {
            while orderStart < order.count {
                let oldest = order[orderStart]
                orderStart += 1
                if let entry = counts.removeValue(forKey: oldest) {
                    forgottenThrough = max(forgottenThrough, entry.issued)
                    break
                }
            }
        }
        counts[nonce] = (count, issued)
        order.append(nonce)
        compactOrder()
    }

    private mutating func prune(now: Int64) {
        while orderStart < order.count {
            let nonce = order[orderStart]
            guard let entry = counts[nonce] else { orderStart += 1; continue }
            guard now - entry.issued > nonceLifetimeMs else { break }
            counts[nonce] = nil
            orderStart += 1
        }
        compactOrder()
    }

    private mutating func compactOrder() {
        if orderStart > 64 && orderStart * 2 > order.count {
            order.removeFirst(orderStart)
            orderStart = 0
        }
    }

    /// Tracked nonces (for tests of the bound).
    var trackedNonces: Int { counts.count }

    static func sameURI(_ a: String, _ b: String) -> Bool {
        guard let x = try? SIPURI(parsing: a), let y = try? SIPURI(parsing: b) else { return false }
        return x.secure == y.secure && x.user == y.user && x.host.lowercased() == y.host.lowercased() && x.port == y.port
    }
}

/// Base64url without padding (RFC 4648 §5).
enum Base64URL {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)

    static func encode(_ bytes: [UInt8]) -> String {
        var out: [UInt8] = []
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value: UInt32 = 0
            for (offset, byte) in chunk.enumerated() { value |= UInt32(byte) << (16 - 8 * UInt32(offset)) }
            for position in 0...chunk.count { out.append(alphabet[Int(value >> (18 - 6 * UInt32(position)) & 0x3F)]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var value: UInt32 = 0
        var bits = 0
        for character in text.utf8 {
            guard let digit = alphabet.firstIndex(of: character) else { return nil }
            value = value << 6 | UInt32(digit)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: value >> UInt32(bits)))
            }
        }
        return out
    }
}
