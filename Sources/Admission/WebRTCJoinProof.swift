import Foundation
public import KeyDerivation

/// The proof a WebRTC join carries (`docs/PROTOCOL.md`, "Joining from a browser"): the site proves its secret over a
/// fresh nonce, the time and its offer's DTLS fingerprint; the bridge answers with a proof over both fingerprints.
/// The bridge checks it and the load generator (or any client written in Swift) makes it.
public enum WebRTCJoinProof {
    public static let label = "vcbridge-webrtc-v1"

    /// What the `Authorization` header carries.
    public struct Credentials: Sendable, Equatable {
        public var site: String
        public var nonce: [UInt8]
        /// Unix seconds when the request was made.
        public var time: Int64
        public var proof: [UInt8]

        /// The latest `time` a header may carry (2^40 s).
        public static let latestTime: Int64 = 1 << 40

        public init(site: String, nonce: [UInt8], time: Int64, proof: [UInt8]) {
            self.site = site
            self.nonce = nonce
            self.time = time
            self.proof = proof
        }

        /// `VCBridge site="…", nonce="<64 hex>", time="<unix seconds>", proof="<64 hex>"`.
        public var authorization: String {
            #"VCBridge site="\#(site)", nonce="\#(JoinProtocol.hex(nonce))", time="\#(time)", proof="\#(JoinProtocol.hex(proof))""#
        }

        /// Reads an `Authorization` header; nil unless it has exactly the four fields, well formed.
        public init?(authorization header: String) {
            guard header.hasPrefix("VCBridge ") else { return nil }
            var fields: [String: String] = [:]
            for part in header.dropFirst("VCBridge ".count).split(separator: ",") {
                let pair = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                guard pair.count == 2, pair[1].count >= 2, pair[1].hasPrefix("\""), pair[1].hasSuffix("\""),
                      fields[String(pair[0])] == nil else { return nil }
                fields[String(pair[0])] = String(pair[1].dropFirst().dropLast())
            }
            guard fields.count == 4, let site = fields["site"], !site.isEmpty,
                  let nonce = JoinProtocol.bytes(hex: fields["nonce"], length: JoinProtocol.nonceLength),
                  // Unix seconds from 1970 to about year 36,800: nothing outside can make the bridge's arithmetic overflow.
                  let timeText = fields["time"], let time = Int64(timeText), (0...Self.latestTime).contains(time),
                  let proof = JoinProtocol.bytes(hex: fields["proof"], length: HMACSHA256.outputLength)
            else { return nil }
            self.init(site: site, nonce: nonce, time: time, proof: proof)
        }
    }

    /// A = HKDF-Expand(HKDF-Extract(salt = nonce, IKM = secret), "<label> auth <site>", 32).
    public static func authenticationKey(secret: [UInt8], site: String, nonce: [UInt8]) throws(KeyDerivationError) -> [UInt8] {
        let prk = try HKDF.extract(salt: nonce, inputKeyMaterial: secret)
        return try HKDF.expand(pseudoRandomKey: prk, info: Array("\(label) auth \(site)".utf8), length: 32)
    }

    /// HMAC-SHA-256(A, "<label>|<role>|<site>|<time>|" || nonce || fingerprints...): the site's proof names its own
    /// fingerprint, the bridge's names the site's and its own.
    public static func proof(_ role: JoinProtocol.Role, key: [UInt8], site: String, time: Int64, nonce: [UInt8],
                             fingerprints: [[UInt8]]) throws(KeyDerivationError) -> [UInt8] {
        try HMACSHA256.authenticationCode(key: key, data: Array("\(label)|\(role.rawValue)|\(site)|\(time)|".utf8) + nonce
                                              + fingerprints.flatMap { $0 })
    }
}
