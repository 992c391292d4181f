import KeyDerivation

/// Why ICE credentials or a session could not be made.
public struct ICEError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable { case invalidUfrag, invalidPassword }
    private let kind: Kind
    private init(_ kind: Kind) { self.kind = kind }

    /// A ufrag must be 4 to 256 ice-chars (ALPHA / DIGIT / "+" / "/", RFC 8839 §5.4).
    public static var invalidUfrag: Self { .init(.invalidUfrag) }
    /// A password must be 22 to 256 ice-chars (RFC 8839 §5.4).
    public static var invalidPassword: Self { .init(.invalidPassword) }

    public var description: String {
        switch kind {
        case .invalidUfrag: "ICE ufrag must be 4 to 256 characters of A-Z a-z 0-9 + /"
        case .invalidPassword: "ICE password must be 22 to 256 characters of A-Z a-z 0-9 + /"
        }
    }
}

/// One side's ICE username fragment and password (`a=ice-ufrag`, `a=ice-pwd`).
public struct ICECredentials: Hashable, Sendable {
    public let ufrag: String
    public let password: String

    /// Checks both against RFC 8839 §5.4 (ice-chars; ufrag 4-256, password 22-256).
    /// - Throws: ``ICEError/invalidUfrag`` or ``ICEError/invalidPassword``.
    public init(ufrag: String, password: String) throws(ICEError) {
        guard Self.isICEChars(ufrag, lengths: 4...256) else { throw .invalidUfrag }
        guard Self.isICEChars(password, lengths: 22...256) else { throw .invalidPassword }
        self.ufrag = ufrag
        self.password = password
    }

    /// Fresh random credentials from the kernel CSPRNG: an 8-character ufrag (48 bits; RFC 8445 §5.3 asks for
    /// at least 24, and 8 characters stay within Swift's inline small strings, so a lookup allocates nothing)
    /// and a 24-character password (144 bits; at least 128 are required).
    /// - Throws: ``KeyDerivationError/randomUnavailable``.
    public static func generate() throws(KeyDerivationError) -> ICECredentials {
        let random = try SecureRandom.bytes(8 + 24)
        // 64 ice-chars: each random byte's low 6 bits pick one uniformly.
        let text = String(decoding: random.map { iceChars[Int($0 & 63)] }, as: UTF8.self)
        return ICECredentials(checkedUfrag: String(text.prefix(8)), password: String(text.dropFirst(8)))
    }

    private init(checkedUfrag: String, password: String) {
        ufrag = checkedUfrag
        self.password = password
    }

    /// ALPHA / DIGIT / "+" / "/".
    static let iceChars: [UInt8] = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func isICEChars(_ text: String, lengths: ClosedRange<Int>) -> Bool {
        var count = 0
        for byte in text.utf8 {
            let ok = (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || (byte >= 0x30 && byte <= 0x39)
                || byte == 0x2B || byte == 0x2F
            guard ok else { return false }
            count += 1
        }
        return lengths.contains(count)
    }
}
