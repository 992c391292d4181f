/// Why a key-derivation or randomness call failed.
public struct KeyDerivationError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Code: Hashable, Sendable {
        case nssInitialization, nssOperation, outputTooLong, randomUnavailable
    }
    private let code: Code
    /// The NSS/NSPR error code or errno involved, if any.
    public let status: Int32

    private init(_ code: Code, _ status: Int32 = 0) {
        self.code = code
        self.status = status
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.code == rhs.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }

    /// NSS could not be initialised.
    public static var nssInitialization: Self { .init(.nssInitialization) }
    /// An NSS PK11 call failed.
    public static var nssOperation: Self { .init(.nssOperation) }
    /// HKDF was asked for more than 255 * 32 bytes (RFC 5869 §2.3).
    public static var outputTooLong: Self { .init(.outputTooLong) }
    /// The system CSPRNG (getrandom) failed.
    public static var randomUnavailable: Self { .init(.randomUnavailable) }

    static func nssInitialization(_ status: Int32) -> Self { .init(.nssInitialization, status) }
    static func nssOperation(_ status: Int32) -> Self { .init(.nssOperation, status) }
    static func randomUnavailable(_ errno: Int32) -> Self { .init(.randomUnavailable, errno) }

    public var description: String {
        switch code {
        case .nssInitialization: "NSS initialisation failed (NSS error \(status))"
        case .nssOperation: "NSS HMAC-SHA-256 failed (NSS error \(status))"
        case .outputTooLong: "HKDF output longer than 8160 bytes"
        case .randomUnavailable: "system random source failed (errno \(status))"
        }
    }
}
