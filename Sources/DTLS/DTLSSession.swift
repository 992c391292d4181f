internal import CVCBShims
public import SRTP

/// One DTLS-SRTP session (RFC 5764) with one WebRTC peer, over datagrams its owner carries: the bridge is the
/// server (`a=setup:passive`); the client role is the load generator's and the tests' side of a join.
///
/// The owner feeds every DTLS datagram from the peer to ``receive(_:now:)``, sends everything ``takeOutgoing()``
/// returns to the peer after each call, and calls ``handleTimeout(now:)`` when ``nextTimeout`` passes (handshake
/// retransmissions and the handshake deadline). Once ``state`` is ``State/established(_:)`` the keys are ready for
/// two ``SRTP/SRTPSession``s; keep feeding DTLS datagrams afterwards (a peer whose last flight was lost retransmits
/// it and must be answered; its `close_notify` ends the session).
///
/// Time is the owner's monotonic clock in nanoseconds (`now`, e.g. `monotonicNanoseconds()`), passed on every call:
/// the handshake deadline follows it exactly. NSS's retransmission timer runs on NSS's own monotonic clock
/// (`PR_IntervalNow`; NSS 3.87 offers no way to inject it), so ``nextTimeout`` is `now` of the last call plus what
/// NSS says remains: right when the owner's clock is the real monotonic one.
///
/// Not thread-safe, and not `Sendable`: NSS runs this session's socket without locks (`SSL_NO_LOCKS`), so create
/// it and make every call on one thread (the bridge's handshake thread); hand the keys (which are `Sendable`) to the
/// media thread.
public final class DTLSSession {
    public enum Role: Sendable, Hashable {
        /// Waits for a ClientHello; requires the peer's certificate; chooses the SRTP profile.
        case server
        /// Sends the ClientHello on the first ``DTLSSession/handleTimeout(now:)``; offers the SRTP profiles.
        case client
    }

    public enum State: Sendable, Hashable {
        /// Waiting for the peer's next flight or for a retransmission timer.
        case handshaking
        /// The handshake completed, the peer proved the certificate of its SDP, and SRTP was negotiated.
        case established(DTLSSRTPKeys)
        /// The peer sent `close_notify`, or ``close()`` was called. Final.
        case closed
        /// The handshake or the connection failed; nothing more is read or sent. Final.
        case failed(DTLSError)
    }

    /// The SRTP profiles accepted (server) or offered (client) by default, in order of preference: AEAD_AES_128_GCM (no separate HMAC pass),
    /// then AES_CM_128_HMAC_SHA1_80 (which every browser offers).
    public static let defaultSRTPProfiles: [SRTPProfile] = [.aeadAES128GCM, .aesCM128HMACSHA1_80]
    /// How long a handshake may take from the session's creation: 10 s.
    public static let defaultHandshakeTimeout: Int64 = 10_000_000_000
    /// The largest datagram accepted; longer ones are dropped and counted.
    public static let maximumDatagramLength = Int(VCB_DTLS_MAX_DATAGRAM)

    /// The time (owner's clock, ns) by which the handshake must complete.
    public let handshakeDeadline: Int64
    public let role: Role
    public private(set) var state: State = .handshaking
    /// Datagrams refused: empty, longer than ``maximumDatagramLength``, or arriving after the session ended.
    public private(set) var droppedDatagrams = 0
    /// Datagrams NSS produced while the owner had not drained ``VCB_DTLS_MAX_QUEUED_OUT`` (64) earlier ones.
    public var droppedOutgoingDatagrams: Int { Int(vcb_dtls_session_outgoing_dropped(handle)) }

    private let handle: OpaquePointer
    private let certificate: DTLSCertificate
    private var lastNow: Int64

    /// A session that accepts only a peer whose certificate has `peerFingerprint` (from its SDP).
    /// - Parameters:
    ///   - role: server (the bridge) or client (a peer that sent `a=setup:active`/`actpass` and got `passive`).
    ///   - certificate: this side's certificate, the one whose fingerprint its SDP announces.
    ///   - peerFingerprint: the `a=fingerprint` of the peer's SDP; compared in constant time.
    ///   - now: the owner's monotonic clock, nanoseconds.
    ///   - handshakeTimeout: nanoseconds from `now` within which the handshake must complete.
    ///   - srtpProfiles: the profiles this side accepts, in order of preference (1 to 2, no repeats): a server
    ///     chooses the first one the client offers; a client offers them all and accepts the server's choice.
    /// - Throws: ``DTLSError`` naming the NSS failure if the socket cannot be set up.
    public init(
        role: Role, certificate: DTLSCertificate, peerFingerprint: DTLSFingerprint, now: Int64,
        handshakeTimeout: Int64 = DTLSSession.defaultHandshakeTimeout,
        srtpProfiles: [SRTPProfile] = DTLSSession.defaultSRTPProfiles
    ) throws(DTLSError) {
        precondition(peerFingerprint.bytes.count == 32)
        precondition(!srtpProfiles.isEmpty && Set(srtpProfiles).count == srtpProfiles.count, "1 or 2 distinct profiles")
        let codes = srtpProfiles.map(\.dtlsProtectionProfile)
        var handle: OpaquePointer?
        let status = peerFingerprint.bytes.withUnsafeBufferPointer { fingerprint in
            codes.withUnsafeBufferPointer {
                switch role {
                case .server:
                    vcb_dtls_session_create(certificate.handle, fingerprint.baseAddress, $0.baseAddress, $0.count, &handle)
                case .client:
                    vcb_dtls_client_session_create(certificate.handle, fingerprint.baseAddress, $0.baseAddress, $0.count, &handle)
                }
            }
        }
        guard status == 0, let handle else { throw DTLSError(code: status == 0 ? 1 : status) }
        self.handle = handle
        self.role = role
        self.certificate = certificate
        lastNow = now
        handshakeDeadline = now.addingReportingOverflow(handshakeTimeout).overflow ? .max : now + handshakeTimeout
    }

    deinit { vcb_dtls_session_free(handle) }

    /// The keys once established, else nil.
    public var keys: DTLSSRTPKeys? {
        if case .established(let keys) = state { keys } else { nil }
    }

    /// Processes one datagram from the peer (any bytes: malformed ones are discarded by NSS or fail the handshake
    /// with a named error). Send ``takeOutgoing()`` afterwards.
    /// - Returns: the state after it.
    @discardableResult
    public func receive(_ datagram: UnsafeRawBufferPointer, now: Int64) -> State {
        guard isActive else {
            droppedDatagrams += 1
            return state
        }
        lastNow = now
        if expireIfLate(now) { return state }
        let bytes = datagram.bindMemory(to: UInt8.self)
        switch vcb_dtls_session_push(handle, bytes.baseAddress, bytes.count) {
        case 1: break
        case 0: droppedDatagrams += 1
        default: fail(DTLSError(code: -8173))  // SEC_ERROR_NO_MEMORY
        }
        advance()
        return state
    }

    /// ``receive(_:now:)`` for an array.
    @discardableResult
    public func receive(_ datagram: [UInt8], now: Int64) -> State {
        datagram.withUnsafeBytes { receive($0, now: now) }
    }

    /// When the owner must call ``handleTimeout(now:)`` next (owner's clock, ns), or nil if nothing waits:
    /// the earlier of NSS's retransmission timer and, while handshaking, the handshake deadline.
    public var nextTimeout: Int64? {
        guard isActive else { return nil }
        let remaining = vcb_dtls_session_timeout(handle)
        let timer: Int64? = remaining >= 0 ? lastNow + remaining * 1000 : nil
        guard case .handshaking = state else { return timer }
        return min(timer ?? .max, handshakeDeadline)
    }

    /// Runs what is due at `now`: retransmits the last flight if its timer expired, fails the session with
    /// ``DTLSError/handshakeTimedOut`` at the deadline; a client's first call writes its ClientHello. Send
    /// ``takeOutgoing()`` afterwards.
    @discardableResult
    public func handleTimeout(now: Int64) -> State {
        guard isActive else { return state }
        lastNow = now
        if expireIfLate(now) { return state }
        advance()
        return state
    }

    /// Sends `close_notify` (if the handshake completed) and ends the session. Send ``takeOutgoing()`` afterwards.
    public func close() {
        guard isActive else { return }
        if case .established = state { _ = vcb_dtls_session_close(handle) }
        state = .closed
    }

    /// The datagrams to send to the peer, oldest first; the outbox is empty afterwards.
    public func takeOutgoing() -> [[UInt8]] {
        var datagrams: [[UInt8]] = []
        while true {
            let length = vcb_dtls_session_outgoing_length(handle)
            if length == 0 { break }
            let datagram = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                count = vcb_dtls_session_pop_outgoing(handle, buffer.baseAddress, length)
            }
            datagrams.append(datagram)
        }
        return datagrams
    }

    private var isActive: Bool {
        switch state {
        case .handshaking, .established: true
        case .closed, .failed: false
        }
    }

    private func expireIfLate(_ now: Int64) -> Bool {
        guard case .handshaking = state, now >= handshakeDeadline else { return false }
        fail(.handshakeTimedOut)
        return true
    }

    private func fail(_ error: DTLSError) {
        state = .failed(error)
    }

    /// Lets NSS consume what is queued: the handshake, then (once established) records after it.
    private func advance() {
        if case .handshaking = state {
            var done: Int32 = 0
            let status = vcb_dtls_session_handshake(handle, &done)
            guard status == 0 else { return fail(DTLSError(code: status)) }
            guard done != 0 else { return }
            do {
                state = .established(try exportKeys())
            } catch {
                // Tell the peer before giving up: it would otherwise send SRTP we cannot read.
                _ = vcb_dtls_session_close(handle)
                return fail(error)
            }
        }
        guard case .established = state else { return }
        var closed: Int32 = 0
        let status = vcb_dtls_session_read(handle, &closed)
        if status != 0 {
            fail(DTLSError(code: status))
        } else if closed != 0 {
            state = .closed
        }
    }

    private func exportKeys() throws(DTLSError) -> DTLSSRTPKeys {
        // The profile first (a zero-length export), then as much keying material as it needs.
        var profileCode: UInt16 = 0
        var probe = [UInt8](repeating: 0, count: 1)
        var status = vcb_dtls_session_srtp(handle, &profileCode, &probe, 0)
        guard status == 0 else { throw DTLSError(code: status) }
        guard let profile = SRTPProfile.allCases.first(where: { $0.dtlsProtectionProfile == profileCode }) else {
            throw .srtpNotNegotiated
        }
        var material = [UInt8](repeating: 0, count: 2 * profile.keyingMaterialLength)
        status = vcb_dtls_session_srtp(handle, &profileCode, &material, material.count)
        guard status == 0 else { throw DTLSError(code: status) }
        return DTLSSRTPKeys(profile: profile, exported: material, role: role)
    }
}

extension SRTPProfile {
    /// The SRTPProtectionProfile value of use_srtp (RFC 5764 §4.1.2, RFC 7714 §14.2).
    var dtlsProtectionProfile: UInt16 {
        switch self {
        case .aesCM128HMACSHA1_80: UInt16(VCB_DTLS_SRTP_AES128_CM_HMAC_SHA1_80)
        case .aeadAES128GCM: UInt16(VCB_DTLS_SRTP_AEAD_AES_128_GCM)
        }
    }
}
