internal import CSRTP

/// An SRTP crypto suite (RFC 3711, RFC 7714).
public enum SRTPProfile: Sendable, Hashable, CaseIterable {
    /// AES_CM_128_HMAC_SHA1_80: 16-byte key, 14-byte salt, 10-byte tag.
    case aesCM128HMACSHA1_80
    /// AEAD_AES_128_GCM: 16-byte key, 12-byte salt, 16-byte tag.
    case aeadAES128GCM

    public var masterKeyLength: Int { 16 }
    public var masterSaltLength: Int {
        switch self {
        case .aesCM128HMACSHA1_80: 14
        case .aeadAES128GCM: 12
        }
    }
    /// Master key followed by master salt.
    public var keyingMaterialLength: Int { masterKeyLength + masterSaltLength }

    fileprivate func apply(to policy: inout srtp_policy_t) {
        switch self {
        case .aesCM128HMACSHA1_80:
            srtp_crypto_policy_set_rtp_default(&policy.rtp)
            srtp_crypto_policy_set_rtcp_default(&policy.rtcp)
        case .aeadAES128GCM:
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp)
            srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtcp)
        }
    }
}

/// libsrtp2 is initialised once per process, whatever the number of sessions.
private let libraryStatus: SRTPError? = {
    let status = srtp_init()
    return status == srtp_err_status_ok ? nil : SRTPError(status)
}()

/// One direction of an SRTP session: owns a libsrtp2 `srtp_t` and frees it on deinit.
///
/// Not thread-safe (libsrtp2 contexts are not): keep each session on one thread.
/// Packets are transformed in place in the caller's buffer, which must have room for
/// ``maxTrailerLength`` bytes after the packet. No allocation per packet.
public final class SRTPSession {
    public enum Direction: Sendable {
        /// Packets this side sends: ``protectRTP(_:length:)`` and ``protectRTCP(_:length:)``.
        case outbound
        /// Packets this side receives: ``unprotectRTP(_:length:)`` and ``unprotectRTCP(_:length:)``.
        case inbound
    }

    /// Room a protect call may add after a packet (`SRTP_MAX_TRAILER_LEN`).
    public static let maxTrailerLength = Int(SRTP_MAX_TRAILER_LEN)

    /// The libsrtp2 version string, e.g. "libsrtp2 2.5.0".
    public static var libraryVersion: String { String(cString: srtp_get_version_string()) }

    public let profile: SRTPProfile
    public let direction: Direction
    private var context: srtp_t?

    /// Creates a session for any SSRC in one direction.
    /// - Parameters:
    ///   - keyingMaterial: master key then master salt, ``SRTPProfile/keyingMaterialLength`` bytes.
    ///     Never use the same material for two sessions (RFC 3711 §9.1).
    ///   - replayWindow: inbound replay window in packets (libsrtp2 allows 64...32768).
    /// - Throws: ``SRTPError``.
    public init(
        profile: SRTPProfile, direction: Direction, keyingMaterial: [UInt8],
        replayWindow: Int = 128
    ) throws(SRTPError) {
        if let libraryStatus { throw libraryStatus }
        guard keyingMaterial.count == profile.keyingMaterialLength else { throw .wrongKeyLength }
        guard replayWindow >= 64 && replayWindow <= 0x8000 else { throw .badParameter }
        self.profile = profile
        self.direction = direction
        var policy = srtp_policy_t()
        profile.apply(to: &policy)
        policy.ssrc.type = direction == .outbound ? ssrc_any_outbound : ssrc_any_inbound
        policy.window_size = UInt(replayWindow)
        policy.allow_repeat_tx = 0  // an index protected twice would reuse a nonce (RFC 3711 §9.1, RFC 7714 §8.1)
        policy.next = nil
        var key = keyingMaterial
        var created: srtp_t? = nil
        let status = key.withUnsafeMutableBufferPointer { keyBuffer in
            policy.key = keyBuffer.baseAddress
            return srtp_create(&created, &policy)
        }
        for i in key.indices { key[i] = 0 }
        guard status == srtp_err_status_ok, let created else { throw SRTPError(status) }
        context = created
    }

    deinit {
        if let context { srtp_dealloc(context) }
    }

    private typealias Transform = (srtp_t?, UnsafeMutableRawPointer?, UnsafeMutablePointer<Int32>?) -> srtp_err_status_t

    @inline(__always)
    private func run(
        _ transform: Transform, _ buffer: UnsafeMutableRawBufferPointer, length: Int, growing: Bool
    ) throws(SRTPError) -> Int {
        guard length >= 0, length <= buffer.count, length < Int(Int32.max) - Self.maxTrailerLength,
              !growing || buffer.count - length >= Self.maxTrailerLength
        else { throw .bufferTooSmall }
        var len = Int32(length)
        let status = transform(context, buffer.baseAddress, &len)
        guard status == srtp_err_status_ok else { throw SRTPError(status) }
        return Int(len)
    }

    /// Encrypts and authenticates an RTP packet in place.
    /// - Returns: the SRTP packet's length (the packet plus its tag).
    public func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        precondition(direction == .outbound, "protectRTP on an inbound session")
        return try run(srtp_protect, buffer, length: length, growing: true)
    }

    /// Authenticates, replay-checks and decrypts an SRTP packet in place.
    /// - Returns: the RTP packet's length.
    /// - Throws: ``SRTPError/authenticationFailure``, ``SRTPError/replay``, ``SRTPError/replayTooOld``, ...
    public func unprotectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        precondition(direction == .inbound, "unprotectRTP on an outbound session")
        return try run(srtp_unprotect, buffer, length: length, growing: false)
    }

    /// Encrypts and authenticates an RTCP compound packet in place (adds the SRTCP index and tag).
    public func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        precondition(direction == .outbound, "protectRTCP on an inbound session")
        return try run(srtp_protect_rtcp, buffer, length: length, growing: true)
    }

    /// Authenticates, replay-checks and decrypts an SRTCP packet in place.
    public func unprotectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) throws(SRTPError) -> Int {
        precondition(direction == .inbound, "unprotectRTCP on an outbound session")
        return try run(srtp_unprotect_rtcp, buffer, length: length, growing: false)
    }

    /// Forgets the stream state of one SSRC (for example when a sender changes SSRC).
    public func removeStream(ssrc: UInt32) throws(SRTPError) {
        let status = srtp_remove_stream(context, ssrc.bigEndian)
        guard status == srtp_err_status_ok else { throw SRTPError(status) }
    }
}
