internal import CSRTP

/// A libsrtp2 status (`srtp_err_status_t`) as a named Swift error.
public struct SRTPError: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    init(_ status: srtp_err_status_t) { rawValue = Int32(bitPattern: status.rawValue) }

    /// `srtp_err_status_fail`: unspecified failure.
    public static let failure = SRTPError(rawValue: 1)
    /// `srtp_err_status_bad_param`: unsupported parameter.
    public static let badParameter = SRTPError(rawValue: 2)
    /// `srtp_err_status_alloc_fail`.
    public static let allocationFailure = SRTPError(rawValue: 3)
    /// `srtp_err_status_init_fail`.
    public static let initializationFailure = SRTPError(rawValue: 5)
    /// `srtp_err_status_auth_fail`: the packet's authentication tag is wrong (forged, tampered or another key).
    public static let authenticationFailure = SRTPError(rawValue: 7)
    /// `srtp_err_status_cipher_fail`.
    public static let cipherFailure = SRTPError(rawValue: 8)
    /// `srtp_err_status_replay_fail`: this packet index was already seen.
    public static let replay = SRTPError(rawValue: 9)
    /// `srtp_err_status_replay_old`: the packet index is older than the replay window.
    public static let replayTooOld = SRTPError(rawValue: 10)
    /// `srtp_err_status_algo_fail`: a self-test failed.
    public static let algorithmFailure = SRTPError(rawValue: 11)
    /// `srtp_err_status_no_ctx`: no context for this SSRC.
    public static let noContext = SRTPError(rawValue: 13)
    /// `srtp_err_status_key_expired`: the key's packet limit was reached; rekey.
    public static let keyExpired = SRTPError(rawValue: 15)
    /// `srtp_err_status_parse_err`: the packet could not be parsed.
    public static let parseError = SRTPError(rawValue: 21)
    /// `srtp_err_status_bad_mki`.
    public static let badMKI = SRTPError(rawValue: 25)
    /// Not a libsrtp2 status: the caller's buffer lacks room for the packet plus ``SRTPSession/maxTrailerLength``,
    /// or the packet is longer than libsrtp2 accepts.
    public static let bufferTooSmall = SRTPError(rawValue: -1)
    /// Not a libsrtp2 status: the keying material has the wrong length for the profile.
    public static let wrongKeyLength = SRTPError(rawValue: -2)

    public var description: String {
        switch self {
        case .failure: "SRTP failure"
        case .badParameter: "SRTP bad parameter"
        case .allocationFailure: "SRTP allocation failure"
        case .initializationFailure: "SRTP initialisation failure"
        case .authenticationFailure: "SRTP authentication failure"
        case .cipherFailure: "SRTP cipher failure"
        case .replay: "SRTP replayed packet"
        case .replayTooOld: "SRTP packet older than the replay window"
        case .algorithmFailure: "SRTP algorithm self-test failure"
        case .noContext: "SRTP no context for this SSRC"
        case .keyExpired: "SRTP key expired"
        case .parseError: "SRTP packet parse error"
        case .badMKI: "SRTP unknown MKI"
        case .bufferTooSmall: "SRTP buffer too small for packet and trailer"
        case .wrongKeyLength: "SRTP keying material of the wrong length"
        default: "SRTP error status \(rawValue)"
        }
    }
}
