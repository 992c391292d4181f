import Transport

/// Why a STUN request got no answer. Each is counted by the session; nothing is sent for any of them.
public enum ICERefusal: Int, Error, CaseIterable, Sendable, CustomStringConvertible {
    /// Not a well-formed STUN message (see ``STUNError``).
    case malformed
    /// A STUN message but not a Binding request (indications, responses, other methods).
    case notBindingRequest
    case missingFingerprint
    case badFingerprint
    case missingUsername
    case missingMessageIntegrity
    case missingPriority
    /// USERNAME is not `<local ufrag>:<remote ufrag>` of this session.
    case wrongUsername
    case badMessageIntegrity
    /// The caller's response buffer is smaller than ``ICELiteSession/maximumResponseLength``.
    case responseBufferTooSmall
    /// NSS could not compute HMAC-SHA-1.
    case integrityUnavailable

    public var description: String {
        switch self {
        case .malformed: "malformed STUN message"
        case .notBindingRequest: "not a Binding request"
        case .missingFingerprint: "no FINGERPRINT"
        case .badFingerprint: "wrong FINGERPRINT"
        case .missingUsername: "no USERNAME"
        case .missingMessageIntegrity: "no MESSAGE-INTEGRITY"
        case .missingPriority: "no PRIORITY"
        case .wrongUsername: "USERNAME is not this session's ufrags"
        case .badMessageIntegrity: "wrong MESSAGE-INTEGRITY"
        case .responseBufferTooSmall: "response buffer too small"
        case .integrityUnavailable: "HMAC-SHA-1 unavailable"
        }
    }
}

/// A success response written by ``ICELiteSession/handle(_:from:now:response:)``.
public struct ICEResponse: Equatable, Sendable {
    /// Bytes of the response at the start of the caller's buffer: send exactly these to the request's source.
    public let byteCount: Int
    /// The request's source is the session's selected address after this check.
    public let isSelected: Bool
    /// The selected address changed with this check (the first valid check, or a nomination of another
    /// address): media for this session now goes to the request's source.
    public let selectionChanged: Bool
    /// The selected address is nominated (USE-CANDIDATE seen for it): the choice is final.
    public let isNominated: Bool
}

/// What to do with a STUN request.
public enum ICECheckResult: Equatable, Sendable {
    /// Send the response to the request's source.
    case respond(ICEResponse)
    /// Send nothing.
    case refused(ICERefusal)
}

/// The ICE-lite side of one WebRTC session (RFC 8445 §2.5): answers the peer's connectivity and consent checks,
/// and picks the address media goes to. Always the controlled agent; never sends a check of its own.
///
/// Only a Binding request with FINGERPRINT, PRIORITY, USERNAME `<local ufrag>:<remote ufrag>` and a
/// MESSAGE-INTEGRITY that verifies with the local password gets an answer (XOR-MAPPED-ADDRESS of the sender,
/// MESSAGE-INTEGRITY, FINGERPRINT; 64 bytes for IPv4, 76 for IPv6); anything else is counted and gets nothing,
/// so nothing is ever sent to an address that has not proved it knows the password.
///
/// Selection: the first valid check selects its source; later valid checks from other addresses do not move it
/// until the peer nominates one with USE-CANDIDATE, which selects it for good (aioice checks first without
/// USE-CANDIDATE, browsers nominate at once). A later nomination of another address moves the selection
/// (the peer changed networks). Role conflicts are not answered with 487: a lite agent is always controlled.
///
/// Consent (RFC 7675): ``lastValidCheck`` is the time of the last valid check from the selected address;
/// the owner drops the session when ``isConsentExpired(now:after:)``.
///
/// A value type with no locks: keep it on the media thread (for example in a dictionary keyed by
/// ``localUfrag``, found with ``localUfrag(inRequest:)``). Times are monotonic nanoseconds, passed in.
public struct ICELiteSession: Sendable {
    /// Response buffers need this many bytes (IPv6: header 20, XOR-MAPPED-ADDRESS 24, MESSAGE-INTEGRITY 24,
    /// FINGERPRINT 8).
    public static let maximumResponseLength = 76

    /// This side's ufrag and password (sent in the SDP answer).
    public let local: ICECredentials
    /// The peer's ufrag (from its offer).
    public let remoteUfrag: String
    /// When the session was made: consent runs from here until the first valid check.
    public let createdAt: Int64
    /// Where media goes: the source of the first valid check, or of the latest nomination; nil before any.
    public private(set) var selectedAddress: SocketAddress?
    /// The selected address was nominated (USE-CANDIDATE).
    public private(set) var isNominated = false
    /// Time of the last valid check from the selected address (nil before the first).
    public private(set) var lastValidCheck: Int64?
    /// Checks answered.
    public private(set) var validChecks = 0

    private var refusalCounts: [Int]
    /// `<local ufrag>:<remote ufrag>`, as the peer must send it.
    private let expectedUsername: [UInt8]
    /// The short-term credential key: the local password's bytes (ice-chars need no SASLprep).
    private let key: [UInt8]

    /// - Parameters:
    ///   - local: this side's credentials (``ICECredentials/generate()``).
    ///   - remoteUfrag: the peer's `a=ice-ufrag`.
    ///   - now: the current monotonic time in nanoseconds.
    /// - Throws: ``ICEError/invalidUfrag`` if `remoteUfrag` is not 4-256 ice-chars.
    public init(local: ICECredentials, remoteUfrag: String, now: Int64) throws(ICEError) {
        guard ICECredentials.isICEChars(remoteUfrag, lengths: 4...256) else { throw .invalidUfrag }
        self.local = local
        self.remoteUfrag = remoteUfrag
        createdAt = now
        expectedUsername = Array((local.ufrag + ":" + remoteUfrag).utf8)
        key = Array(local.password.utf8)
        refusalCounts = [Int](repeating: 0, count: ICERefusal.allCases.count)
    }

    /// This side's ufrag: the key the owner files the session under.
    public var localUfrag: String { local.ufrag }

    /// How many requests were refused for `reason`.
    public func refusals(_ reason: ICERefusal) -> Int { refusalCounts[reason.rawValue] }

    /// Requests refused for any reason.
    public var totalRefusals: Int { refusalCounts.reduce(0, +) }

    /// Handles one STUN datagram from `source`: validates it and, if it is a valid check, writes the success
    /// response at the start of `response` and updates the selection and consent. Never traps on any input.
    /// The Swift code allocates nothing; NSS's HMAC makes about 21 small allocations per HMAC internally
    /// (measured: 42 per answered check, 21 per request refused for its integrity, none for the other refusals,
    /// which are decided before any HMAC). A request whose USERNAME is not this session's never reaches the HMAC.
    /// - Parameters:
    ///   - request: the whole datagram.
    ///   - source: where it came from.
    ///   - now: the current monotonic time in nanoseconds.
    ///   - response: room for the answer, at least ``maximumResponseLength`` bytes.
    public mutating func handle(
        _ request: UnsafeRawBufferPointer, from source: SocketAddress, now: Int64, response: UnsafeMutableRawBufferPointer
    ) -> ICECheckResult {
        switch validate(request) {
        case .failure(let reason):
            refusalCounts[reason.rawValue] += 1
            return .refused(reason)
        case .success(let message):
            guard response.count >= Self.maximumResponseLength else {
                refusalCounts[ICERefusal.responseBufferTooSmall.rawValue] += 1
                return .refused(.responseBufferTooSmall)
            }
            let byteCount: Int
            do {
                var writer = try STUNMessageWriter(
                    into: response, type: .bindingSuccessResponse, transactionID: message.transactionID)
                try writer.appendXORMappedAddress(source)
                try writer.appendMessageIntegrity(key: key)
                byteCount = try writer.appendFingerprint()
            } catch {
                // Only NSS can fail here: the buffer was checked above.
                refusalCounts[ICERefusal.integrityUnavailable.rawValue] += 1
                return .refused(.integrityUnavailable)
            }
            validChecks += 1
            var changed = false
            if selectedAddress == nil || (message.useCandidate && selectedAddress != source) {
                selectedAddress = source
                isNominated = false
                changed = true
            }
            let isSelected = selectedAddress == source
            if isSelected {
                if message.useCandidate { isNominated = true }
                lastValidCheck = now
            }
            return .respond(ICEResponse(
                byteCount: byteCount, isSelected: isSelected, selectionChanged: changed, isNominated: isNominated))
        }
    }

    /// The checks of RFC 8445 §7.3 and RFC 5389 §10.1.2 in order; the cheap ones first, HMAC last.
    private func validate(_ request: UnsafeRawBufferPointer) -> Result<STUNMessage, ICERefusal> {
        let message: STUNMessage
        do {
            message = try STUNMessage(parsing: request)
        } catch {
            return .failure(.malformed)
        }
        guard message.type == .bindingRequest else { return .failure(.notBindingRequest) }
        switch message.fingerprint {
        case .absent: return .failure(.missingFingerprint)
        case .invalid: return .failure(.badFingerprint)
        case .valid: break
        }
        guard message.hasUsername else { return .failure(.missingUsername) }
        guard message.hasMessageIntegrity else { return .failure(.missingMessageIntegrity) }
        guard message.priority != nil else { return .failure(.missingPriority) }
        guard message.usernameEquals(expectedUsername, in: request) else { return .failure(.wrongUsername) }
        do {
            guard try message.isIntegrityValid(in: request, key: key) else { return .failure(.badMessageIntegrity) }
        } catch {
            return .failure(.integrityUnavailable)
        }
        return .success(message)
    }

    /// Whether the peer's consent has lapsed: no valid check from the selected address (or, before the first,
    /// since the session was made) for `timeout` nanoseconds. RFC 7675 gives up after 30 s (the bridge's
    /// `bridge.consentSeconds`).
    public func isConsentExpired(now: Int64, after timeout: Int64) -> Bool {
        now - (lastValidCheck ?? createdAt) >= timeout
    }

    /// The local ufrag a Binding request is addressed to: USERNAME's part before the first ':', found without
    /// validating the rest of the message, so the owner can pick the session cheaply (a ufrag of at most 15
    /// bytes makes no allocation). Nil when the datagram is not a STUN message with such a USERNAME.
    /// - Parameter maximumLength: longer local parts are not looked at (nil): an owner whose ufrags are
    ///   short can refuse without making a String (up to 15 bytes a Swift string allocates nothing).
    public static func localUfrag(inRequest datagram: UnsafeRawBufferPointer, maximumLength: Int = 256) -> String? {
        guard let end = try? STUNMessage.validateHeader(datagram) else { return nil }
        var offset = STUNWire.headerLength
        while end - offset >= 4 {
            let type = datagram.u16(offset)
            let length = Int(datagram.u16(offset + 2))
            let value = offset + 4
            guard length <= end - value else { return nil }
            if type == STUNAttribute.username {
                let username = UnsafeRawBufferPointer(rebasing: datagram[value..<(value + length)])
                guard let colon = username.firstIndex(of: UInt8(ascii: ":")), colon <= maximumLength else { return nil }
                return String(decoding: UnsafeRawBufferPointer(rebasing: username[..<colon]), as: UTF8.self)
            }
            if type == STUNAttribute.messageIntegrity { return nil }  // USERNAME must come before it
            offset = value + STUNWire.padded(length)
        }
        return nil
    }
}
