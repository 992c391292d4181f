import KeyDerivation

/// A `WWW-Authenticate` / `Proxy-Authenticate` Digest challenge (RFC 7616 §3.3) as received by a client.
public struct DigestChallenge: Sendable, Hashable {
    public var realm: String
    public var nonce: String
    public var algorithm: DigestAlgorithm
    public var opaque: String?
    public var stale: Bool
    /// Whether `qop` offers `auth`. Without qop (RFC 2069, still sent by some older MCUs) the client answers in that
    /// older form; a qop without `auth` (auth-int only) cannot be answered.
    public var qopAuth: Bool

    public init(realm: String, nonce: String, algorithm: DigestAlgorithm, opaque: String? = nil, stale: Bool = false) {
        self.realm = realm
        self.nonce = nonce
        self.algorithm = algorithm
        self.opaque = opaque
        self.stale = stale
        self.qopAuth = true
    }

    /// Nil if the header is not a Digest challenge we can answer (unknown algorithm, no qop=auth, no realm or nonce).
    public init?(parsing header: String) {
        guard let parameters = parseDigestParameters(header), let realm = parameters["realm"],
              let nonce = parameters["nonce"], !nonce.isEmpty
        else { return nil }
        guard let algorithm = DigestAlgorithm(token: parameters["algorithm"] ?? "MD5") else { return nil }
        if let qop = parameters["qop"] {
            guard qop.split(separator: ",").contains(where: { $0.trimmingSpaces.lowercased() == "auth" }) else { return nil }
            self.qopAuth = true
        } else {
            self.qopAuth = false
        }
        self.realm = realm
        self.nonce = nonce
        self.algorithm = algorithm
        self.opaque = parameters["opaque"]
        self.stale = parameters["stale"]?.lowercased() == "true"
    }

    /// The header value.
    public var headerValue: String {
        var text = "Digest realm=\(quoted(realm)), nonce=\(quoted(nonce)), algorithm=\(algorithm.rawValue)"
        if qopAuth { text += ", qop=\"auth\"" }
        if let opaque { text += ", opaque=\(quoted(opaque))" }
        if stale { text += ", stale=true" }
        return text
    }
}

/// A client's username and password for answering challenges, as when the bridge dials an MCU that asks.
public struct DigestCredentials: Sendable, Hashable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// The `Authorization` (or `Proxy-Authorization`) value answering `challenge` for a request.
    /// - Parameters:
    ///   - uri: the Request-URI exactly as the request carries it.
    ///   - cnonce: the client's nonce (random, e.g. from `SecureRandom`).
    ///   - nc: how many requests this client has sent with this nonce, from 1.
    /// - Throws: ``MessageDigestError`` if NSS fails.
    public func authorization(for challenge: DigestChallenge, method: String, uri: String, cnonce: String,
                              nc: UInt32) throws(MessageDigestError) -> String {
        var text = "Digest username=\(quoted(username)), realm=\(quoted(challenge.realm)), uri=\(quoted(uri)), "
            + "algorithm=\(challenge.algorithm.rawValue), nonce=\(quoted(challenge.nonce)), "
        if challenge.qopAuth {
            let hex = String(nc, radix: 16)
            let ncText = String(repeating: "0", count: max(0, 8 - hex.count)) + hex
            let response = try challenge.algorithm.response(
                username: username, realm: challenge.realm, password: password, method: method, uri: uri,
                nonce: challenge.nonce, nc: ncText, cnonce: cnonce)
            text += "nc=\(ncText), cnonce=\(quoted(cnonce)), qop=auth, response=\(quoted(response))"
        } else {
            let response = try challenge.algorithm.legacyResponse(
                username: username, realm: challenge.realm, password: password, method: method, uri: uri,
                nonce: challenge.nonce)
            text += "response=\(quoted(response))"
        }
        if let opaque = challenge.opaque { text += ", opaque=\(quoted(opaque))" }
        return text
    }
}
