extension SIPMessage {
    /// The standard reason phrase of a status code (RFC 3261 §21 and the extensions we answer with).
    public static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Trying"
        case 180: "Ringing"
        case 183: "Session Progress"
        case 200: "OK"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 413: "Request Entity Too Large"
        case 415: "Unsupported Media Type"
        case 416: "Unsupported URI Scheme"
        case 420: "Bad Extension"
        case 422: "Session Interval Too Small"
        case 480: "Temporarily Unavailable"
        case 481: "Call/Transaction Does Not Exist"
        case 483: "Too Many Hops"
        case 486: "Busy Here"
        case 487: "Request Terminated"
        case 488: "Not Acceptable Here"
        case 491: "Request Pending"
        case 500: "Server Internal Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        case 603: "Decline"
        default: "Status \(status)"
        }
    }

    /// A response to `request` (RFC 3261 §8.2.6): Via values in order, From, To (with `toTag` added when it has
    /// none), Call-ID, CSeq; nil when the request has no Via (no response can be routed: drop it).
    ///
    /// - Parameters:
    ///   - receivedFrom: for a request that came over UDP, its source: the top Via gets `received=` when the
    ///     sent-by host differs or `rport` was asked for, and `rport=<port>` when asked for (RFC 3261 §18.2.1,
    ///     RFC 3581 §4).
    public static func response(to request: SIPMessage, status: Int, reason: String? = nil, toTag: String? = nil,
                                receivedFrom: SIPPeer? = nil) -> SIPMessage? {
        let vias = request.values("Via")
        guard !vias.isEmpty else { return nil }
        var response = SIPMessage(startLine: .response(status: status, reason: reason ?? reasonPhrase(status)))
        for (index, text) in vias.enumerated() {
            var value = text
            if index == 0, let peer = receivedFrom, var via = try? SIPVia(parsing: text) {
                let rportAsked = via.rport == .requested
                if rportAsked || via.host != peer.host { via.parameters.set("received", peer.host) }
                if rportAsked { via.parameters.set("rport", String(peer.port)) }
                value = via.description
            }
            response.add("Via", value)
        }
        if let from = request.value("From") { response.add("From", from) }
        if let to = request.value("To") {
            if let toTag, var address = try? SIPAddress(parsing: to, header: "To"), address.tag == nil {
                address.tag = toTag
                response.add("To", address.description)
            } else {
                response.add("To", to)
            }
        }
        if let callID = request.value("Call-ID") { response.add("Call-ID", callID) }
        if let cseq = request.value("CSeq") { response.add("CSeq", cseq) }
        return response
    }
}
