import DTLS
import ICE
import KeyDerivation
import SRTP
import Transport

/// The transport half of a browser-style join, after signalling: ICE checks to the bridge (controlling, with
/// USE-CANDIDATE), then DTLS as the client, then SRTP with the exported keys, and consent checks for as long as the
/// session lasts (RFC 7675). Driven by its owner's loop on one thread: ``receive(_:now:)`` for each datagram from
/// the bridge's media address, ``advance(now:)`` when ``nextWake`` passes; everything to send is in ``takeOutgoing()``,
/// always to ``WebRTCSignalling/Answer/media``.
public final class WebRTCLink {
    public enum State: Equatable {
        /// Sending Binding requests until one is answered.
        case checking
        /// The DTLS handshake runs.
        case handshaking
        /// SRTP keys are ready (``outbound``, ``inbound``).
        case connected
        case failed(String)
    }

    /// Binding requests are repeated this often until answered (RFC 8445 paces at 50 ms per pair).
    static let checkInterval: Int64 = 50_000_000
    /// Consent is refreshed this often once connected (RFC 7675: 5 s on average; browsers use about 2 s).
    static let consentInterval: Int64 = 2_000_000_000
    /// How long checks may go unanswered before the link fails.
    static let checkTimeout: Int64 = 10_000_000_000

    public private(set) var state: State = .checking
    public private(set) var outbound: SRTPSession?
    public private(set) var inbound: SRTPSession?
    public private(set) var profile: SRTPProfile?
    /// When the link was made (the answer read), the first Binding success arrived and DTLS completed (the
    /// owner's clock).
    public let createdAt: Int64
    public private(set) var checkedAt: Int64?
    public private(set) var connectedAt: Int64?

    private let answer: WebRTCSignalling.Answer
    private let offer: WebRTCSignalling.Offer
    private let dtls: DTLSSession
    private var outgoing: [[UInt8]] = []
    private var pending: (id: STUNTransactionID, bytes: [UInt8])?
    private var nextCheck: Int64
    private var lastAnswered: Int64

    public init(offer: WebRTCSignalling.Offer, answer: WebRTCSignalling.Answer, certificate: DTLSCertificate,
                srtpProfiles: [SRTPProfile] = DTLSSession.defaultSRTPProfiles, now: Int64) throws {
        self.offer = offer
        self.answer = answer
        dtls = try DTLSSession(role: .client, certificate: certificate, peerFingerprint: answer.fingerprint, now: now,
                               srtpProfiles: srtpProfiles)
        createdAt = now
        lastAnswered = now
        nextCheck = now
    }

    /// When ``advance(now:)`` is due next.
    public var nextWake: Int64 {
        switch state {
        case .checking, .connected: nextCheck
        case .handshaking: min(nextCheck, dtls.nextTimeout ?? .max)
        case .failed: .max
        }
    }

    /// Sends what is due: checks (every 50 ms while checking, consent every 2 s after), DTLS retransmissions.
    public func advance(now: Int64) {
        if case .failed = state { return }
        if now >= nextCheck {
            if now - lastAnswered > Self.checkTimeout {
                return fail("no Binding response for \((now - lastAnswered) / 1_000_000) ms")
            }
            sendCheck()
            nextCheck = now + (state == .checking ? Self.checkInterval : Self.consentInterval)
        }
        if state == .handshaking {
            dtls.handleTimeout(now: now)
            settleHandshake(now: now)
        }
    }

    /// Takes one datagram from the bridge. STUN and DTLS are consumed here; an RTP or RTCP datagram returns true
    /// (the owner unprotects it with ``inbound``).
    public func receive(_ datagram: UnsafeRawBufferPointer, now: Int64) -> Bool {
        switch MediaDatagramKind(classifying: datagram) {
        case .stun:
            guard let pending, let message = try? STUNMessage(parsing: datagram), message.transactionID == pending.id,
                  message.type == .bindingSuccessResponse,
                  (try? message.isIntegrityValid(in: datagram, key: Array(answer.password.utf8))) == true
            else { return false }
            self.pending = nil
            lastAnswered = now
            if state == .checking {
                checkedAt = now
                state = .handshaking
                nextCheck = now + Self.consentInterval
                dtls.handleTimeout(now: now)  // the ClientHello
                settleHandshake(now: now)
            }
            return false
        case .dtls:
            guard state == .handshaking || state == .connected else { return false }
            dtls.receive(datagram, now: now)
            settleHandshake(now: now)
            return false
        case .rtp, .rtcp:
            return state == .connected
        case .unknown:
            return false
        }
    }

    /// The datagrams to send to the bridge's media address, oldest first.
    public func takeOutgoing() -> [[UInt8]] {
        defer { outgoing.removeAll(keepingCapacity: true) }
        return outgoing
    }

    private func settleHandshake(now: Int64) {
        outgoing += dtls.takeOutgoing()
        switch dtls.state {
        case .handshaking: break
        case .established(let keys):
            guard state == .handshaking else { return }
            do {
                outbound = try SRTPSession(profile: keys.profile, direction: .outbound, keyingMaterial: keys.outbound)
                inbound = try SRTPSession(profile: keys.profile, direction: .inbound, keyingMaterial: keys.inbound)
                profile = keys.profile
                connectedAt = now
                state = .connected
            } catch {
                fail("SRTP: \(error)")
            }
        case .closed: fail("the bridge closed DTLS")
        case .failed(let error): fail("DTLS: \(error)")
        }
    }

    private func sendCheck() {
        var bytes = [UInt8](repeating: 0, count: 200)
        do {
            let id = STUNTransactionID(try SecureRandom.bytes(12))
            let count = try bytes.withUnsafeMutableBytes { raw in
                var writer = try STUNMessageWriter(into: raw, type: .bindingRequest, transactionID: id)
                try writer.appendUsername("\(answer.ufrag):\(offer.ufrag)")
                try writer.appendPriority(1_853_824_767)
                try writer.appendICEControlling(tieBreaker: UInt64(offer.audioSSRC))
                try writer.appendUseCandidate()
                try writer.appendMessageIntegrity(key: Array(answer.password.utf8))
                return try writer.appendFingerprint()
            }
            pending = (id, Array(bytes[0..<count]))
            outgoing.append(Array(bytes[0..<count]))
        } catch {
            fail("STUN: \(error)")
        }
    }

    private func fail(_ reason: String) {
        state = .failed(reason)
    }
}
