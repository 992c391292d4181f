/// Where our own requests come from: what goes in their Via and Contact.
public struct SIPLocalEndpoint: Sendable, Hashable {
    public var transport: SIPTransportKind
    public var host: String
    public var port: UInt16

    public init(transport: SIPTransportKind, host: String, port: UInt16) {
        self.transport = transport
        self.host = host
        self.port = port
    }
}

/// Why a dialog could not be made from a request and its response.
public struct SIPDialogError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A dialog (RFC 3261 §12): identified by Call-ID and both tags; keeps both CSeq spaces, the remote target and the
/// route set, and builds the requests sent within it.
public struct SIPDialog: Sendable, Hashable {
    public let callID: String
    public let localTag: String
    public let remoteTag: String
    /// Our address (From of our requests, without the tag) and the peer's (To).
    public let localAddress: SIPAddress
    public let remoteAddress: SIPAddress
    /// The CSeq of our last request in the dialog.
    public private(set) var localCSeq: UInt32
    /// The CSeq of the peer's last request in the dialog, nil until it sends one.
    public private(set) var remoteCSeq: UInt32?
    /// Where requests go: the peer's Contact, refreshed by re-INVITE and UPDATE.
    public private(set) var remoteTarget: SIPURI
    /// Route values, in the order our requests carry them.
    public let routeSet: [String]
    /// The dialog was made by a sips: Request-URI over TLS.
    public let secure: Bool

    /// The UAS's dialog (§12.1.1) from the INVITE received and our 2xx (with our To tag).
    public init(asServer request: SIPMessage, response: SIPMessage, localCSeq: UInt32 = 1) throws(SIPDialogError) {
        guard let callID = request.callID else { throw SIPDialogError("no Call-ID") }
        guard let from = try? request.from(), let remoteTag = from.tag else { throw SIPDialogError("no From tag") }
        guard var to = try? response.to(), let localTag = to.tag else { throw SIPDialogError("no To tag in our response") }
        guard let contact = try? request.contacts().first else { throw SIPDialogError("no Contact in the request") }
        guard let cseq = try? request.cseq() else { throw SIPDialogError("bad CSeq") }
        to.tag = nil
        var remote = from
        remote.tag = nil
        self.callID = callID
        self.localTag = localTag
        self.remoteTag = remoteTag
        self.localAddress = to
        self.remoteAddress = remote
        self.localCSeq = localCSeq
        self.remoteCSeq = cseq.number
        self.remoteTarget = contact.uri
        self.routeSet = request.values("Record-Route")
        let viaTLS = (try? request.topVia())?.transport == "TLS"
        self.secure = request.requestURI?.lowercased().hasPrefix("sips:") == true && viaTLS
    }

    /// The UAC's dialog (§12.1.2) from the INVITE we sent and the 2xx received.
    public init(asClient request: SIPMessage, response: SIPMessage) throws(SIPDialogError) {
        guard let callID = request.callID else { throw SIPDialogError("no Call-ID") }
        guard var from = try? request.from(), let localTag = from.tag else { throw SIPDialogError("no From tag") }
        guard var to = try? response.to(), let remoteTag = to.tag else { throw SIPDialogError("no To tag in the response") }
        guard let contact = try? response.contacts().first else { throw SIPDialogError("no Contact in the response") }
        guard let cseq = try? request.cseq() else { throw SIPDialogError("bad CSeq") }
        from.tag = nil
        to.tag = nil
        self.callID = callID
        self.localTag = localTag
        self.remoteTag = remoteTag
        self.localAddress = from
        self.remoteAddress = to
        self.localCSeq = cseq.number
        self.remoteCSeq = nil
        self.remoteTarget = contact.uri
        self.routeSet = response.values("Record-Route").reversed()
        self.secure = request.requestURI?.lowercased().hasPrefix("sips:") == true
    }

    /// Whether a message belongs to this dialog (Call-ID and tags, from the peer's side).
    public func matches(request: SIPMessage) -> Bool {
        request.callID == callID && (try? request.from())?.tag == remoteTag && (try? request.to())?.tag == localTag
    }

    /// A request within the dialog (§12.2.1.1): BYE, re-INVITE, UPDATE, INFO, ...; the CSeq goes up by one.
    /// ACK for a 2xx is ``ack(forInviteCSeq:branch:from:contact:)``; CANCEL is not a dialog request.
    public mutating func request(_ method: String, branch: String, from local: SIPLocalEndpoint, contact: SIPURI? = nil,
                                 body: [UInt8] = [], contentType: String? = nil) -> SIPMessage {
        localCSeq = localCSeq < SIPCSeq.maxNumber ? localCSeq + 1 : localCSeq
        return build(method, cseq: localCSeq, branch: branch, from: local, contact: contact, body: body,
                     contentType: contentType)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `inviteCSeq` (§13.2.2.4): a new branch, the INVITE's CSeq number.
    public func ack(forInviteCSeq inviteCSeq: UInt32, branch: String, from local: SIPLocalEndpoint,
                    body: [UInt8] = [], contentType: String? = nil) -> SIPMessage {
        build("ACK", cseq: inviteCSeq, branch: branch, from: local, contact: nil, body: body, contentType: contentType)
    }

    private func build(_ method: String, cseq: UInt32, branch: String, from local: SIPLocalEndpoint, contact: SIPURI?,
                       body: [UInt8], contentType: String?) -> SIPMessage {
        // Loose routing when the first route has ;lr, strict routing (§12.2.1.1) otherwise.
        var routes = routeSet
        var target = remoteTarget.description
        if let first = routes.first, let address = try? SIPAddress(parsing: first, header: "Route"),
           address.uri.parameters.parameter("lr") == nil {
            target = address.uri.description
            routes.removeFirst()
            routes.append("<\(remoteTarget)>")
        }
        var message = SIPMessage(startLine: .request(method: method, uri: target))
        let via = SIPVia(transport: local.transport.rawValue, host: local.host, port: local.port, branch: branch, rport: true)
        message.add("Via", via.description)
        message.add("Max-Forwards", "70")
        for route in routes { message.add("Route", route) }
        var fromAddress = localAddress
        fromAddress.tag = localTag
        var toAddress = remoteAddress
        toAddress.tag = remoteTag
        message.add("From", fromAddress.description)
        message.add("To", toAddress.description)
        message.add("Call-ID", callID)
        message.add("CSeq", "\(cseq) \(method)")
        if let contact { message.add("Contact", "<\(contact)>") }
        if let contentType { message.add("Content-Type", contentType) }
        message.body = body
        return message
    }

    /// Checks a request from the peer within the dialog (§12.2.2): a CSeq lower than (or, but for ACK and CANCEL,
    /// equal to) the last one is answered 500; otherwise the remote CSeq is kept and a re-INVITE or UPDATE with a
    /// Contact refreshes the remote target.
    public mutating func receive(request: SIPMessage) -> SIPValidation {
        guard let method = request.method, let cseq = try? request.cseq() else {
            return .reject(status: 400, reason: "Bad CSeq header", headers: [])
        }
        if method == "ACK" || method == "CANCEL" { return .ok }
        if let remoteCSeq, cseq.number <= remoteCSeq {
            return .reject(status: 500, reason: "CSeq out of order", headers: [SIPHeader("Retry-After", "1")])
        }
        remoteCSeq = cseq.number
        if method == "INVITE" || method == "UPDATE", let contact = try? request.contacts().first {
            remoteTarget = contact.uri
        }
        return .ok
    }
}
