/// What a server does with a request before any other processing (RFC 3261 §8.2, §16.3 for Max-Forwards).
public enum SIPValidation: Sendable, Hashable {
    /// Go on.
    case ok
    /// Answer with this status; `headers` go into the response (Allow for 405, Unsupported for 420, Min-SE, ...).
    case reject(status: Int, reason: String, headers: [SIPHeader])
    /// Nothing can be answered (no Via): drop it.
    case drop(reason: String)
}

/// The server's checks on a request: mandatory headers, Max-Forwards, methods, CSeq, Require, URI scheme.
public struct SIPRequestValidator: Sendable {
    /// Every method the parser understands (RFC 3261 and the common extensions).
    public static let knownMethods: Set<String> = [
        "INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "REGISTER", "PRACK", "SUBSCRIBE", "NOTIFY", "PUBLISH", "INFO",
        "REFER", "MESSAGE", "UPDATE",
    ]

    /// Methods this server handles; a known method outside it gets 405 with Allow.
    public var allowed: [String]
    /// Option tags this server supports; a Require outside it gets 420 with Unsupported.
    public var supported: Set<String>

    public init(allowed: [String] = ["INVITE", "ACK", "BYE", "CANCEL", "OPTIONS", "UPDATE", "INFO"],
                supported: Set<String> = ["timer"]) {
        self.allowed = allowed
        self.supported = supported
    }

    public func validate(request: SIPMessage) -> SIPValidation {
        guard case .request(let method, let uri) = request.startLine else { return .drop(reason: "not a request") }
        guard let vias = try? request.vias(), !vias.isEmpty else { return .drop(reason: "no valid Via") }
        for name in ["From", "To", "Call-ID", "CSeq", "Max-Forwards"] where request.value(name) == nil {
            return reject(400, "Missing \(name) header")
        }
        guard (try? request.from()) != nil else { return reject(400, "Bad From header") }
        guard (try? request.to()) != nil else { return reject(400, "Bad To header") }
        guard let callID = request.callID, !callID.isEmpty, !callID.contains(where: { $0 == " " || $0 == "\t" }) else {
            return reject(400, "Bad Call-ID header")
        }
        guard let cseq = try? request.cseq() else { return reject(400, "Bad CSeq header") }
        guard cseq.method == method else { return reject(400, "CSeq method does not match the request") }
        guard let maxForwards = try? request.maxForwards() else { return reject(400, "Bad Max-Forwards header") }
        let lowerURI = uri.lowercased()
        guard lowerURI.hasPrefix("sip:") || lowerURI.hasPrefix("sips:") else {
            return reject(416, "Unsupported URI Scheme")
        }
        guard (try? SIPURI(parsing: uri)) != nil else { return reject(400, "Bad Request-URI") }
        guard maxForwards > 0 else { return reject(483, "Too Many Hops") }
        guard Self.knownMethods.contains(method) else { return reject(501, "Not Implemented") }
        guard allowed.contains(method) else {
            return .reject(status: 405, reason: "Method Not Allowed", headers: [SIPHeader("Allow", allowed.joined(separator: ", "))])
        }
        if method != "ACK" && method != "CANCEL" {
            let unsupported = request.tokens("Require").filter { !supported.contains($0.lowercased()) }
            if !unsupported.isEmpty {
                return .reject(status: 420, reason: "Bad Extension",
                               headers: [SIPHeader("Unsupported", unsupported.joined(separator: ", "))])
            }
        }
        for name in ["Contact"] where !request.values(name).isEmpty {
            guard (try? request.contacts()) != nil else { return reject(400, "Bad Contact header") }
        }
        if request.value("Session-Expires") != nil, (try? request.sessionExpires()) == nil {
            return reject(400, "Bad Session-Expires header")
        }
        if request.value("Min-SE") != nil, (try? request.minSE()) == nil { return reject(400, "Bad Min-SE header") }
        if request.value("Expires") != nil, (try? request.expires()) == nil { return reject(400, "Bad Expires header") }
        return .ok
    }

    /// What to do with bytes that did not parse: on a stream, a 400 naming the problem when the headers were
    /// readable (the connection is then closed by the caller); on UDP, or without headers, nothing (drop).
    public static func response(to error: SIPParseError, transport: SIPTransportKind) -> SIPMessage? {
        guard transport.isReliable, let request = error.headersOnly, request.isRequest, request.method != "ACK" else {
            return nil
        }
        return SIPMessage.response(to: request, status: 400, reason: "Bad Request (\(error.kind.rawValue))")
    }

    private func reject(_ status: Int, _ reason: String) -> SIPValidation {
        .reject(status: status, reason: reason, headers: [])
    }
}
