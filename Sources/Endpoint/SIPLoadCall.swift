#if canImport(Glibc)
import Glibc
#endif
import Admission
import Foundation
import KeyDerivation
import SDP
import SIP
import Transport

/// One load-generator SIP site's call, as a room system places it: an INVITE over UDP with an SDES-SRTP offer of
/// one audio codec, the bridge's digest challenge answered with the site's derived password (`SIPDigestPassword`),
/// the 200's answer read with ``SIPOfferer/parseAnswer(_:to:)`` and ACKed; BYE at the end. Every wait is bounded
/// (requests resent from 500 ms, doubling, as RFC 3261's Timer A, until 8 s). Signalling has its own socket on the
/// site's address; the media socket is the caller's.
final class SIPLoadCall {
    /// The site's own address (a loopback address of its own: the bridge caps calls per address, as halls have one
    /// each) and its signalling socket.
    let host: String
    let socket: UDPSocket
    let bridge: SocketAddress
    let username: String
    let password: String
    let callID = UUID().uuidString
    let fromTag = "lt" + UUID().uuidString.prefix(8).lowercased()
    private(set) var offer: SIPOffer
    private var cseq: UInt32 = 0
    /// The bridge's 200 to the INVITE (its To tag and Contact make the dialog).
    private var answered: SIPMessage?
    private let batch = DatagramBatch(capacity: 8, slotSize: 65_536)
    static let timeoutSeconds = 8.0

    /// - Parameters:
    ///   - mediaPort: the site's RTP port (even; rtcp-mux is offered).
    ///   - codec: the only audio codec offered.
    init(key: SiteKey, host: String, mediaPort: UInt16, bridge: SocketAddress, codec: SIPAudioCodec) throws {
        (username, password) = try SIPDigestPassword.credentials(for: key)
        self.host = host
        self.bridge = bridge
        socket = try UDPSocket(bindTo: try SocketAddress(ip: host, port: 0))
        // Connected to the bridge's SIP port: a bridge that is not running answers with an ICMP port-unreachable,
        // which fails the wait for its answer at once (a retry with backoff follows) instead of after Timer B.
        try socket.connect(to: bridge)
        let parameters = try SIPBridgeParameters(
            address: host, audioPort: mediaPort, audioKey: try SDESKey(keySalt: try SecureRandom.bytes(30)),
            videoKey: try SDESKey(keySalt: try SecureRandom.bytes(30)), sessionID: .random(in: 1...UInt64(Int64.max)))
        // The offer the bridge itself makes when it dials (SDES-SRTP, rtcp-mux, ptime 20), cut down to one codec.
        offer = SIPOfferer.offer(bridge: parameters, policy: SIPMediaPolicy(), video: [])
        var audio = offer.sessionDescription.media[0]
        let payloadType = audio.attributes.compactMap { attribute -> UInt8? in
            guard case .rtpmap(let map) = attribute, map.encodingName.uppercased() == codec.encodingName else { return nil }
            return map.payloadType
        }.first
        guard let payloadType else { throw EndpointError("no \(codec.rawValue) in the SIP offer") }
        audio.formats = [String(payloadType)]
        audio.attributes.removeAll { attribute in
            switch attribute {
            case .rtpmap(let map): map.payloadType != payloadType
            case .fmtp(let parameters): parameters.format != String(payloadType)
            default: false
            }
        }
        offer.sessionDescription.media[0] = audio
    }

    deinit { socket.close() }

    private var uri: String { "sip:meeting@\(bridge)" }
    private var via: String { "SIP/2.0/UDP \(socket.localAddress);branch=z9hG4bK\(UUID().uuidString.prefix(16).lowercased());rport" }

    private func invite(authorization: String?) -> (text: String, cseq: String) {
        cseq += 1
        let body = offer.text
        var text = "INVITE \(uri) SIP/2.0\r\nVia: \(via)\r\nMax-Forwards: 70\r\n"
            + "From: <sip:\(username)@\(host)>;tag=\(fromTag)\r\nTo: <\(uri)>\r\nCall-ID: \(callID)\r\n"
            + "CSeq: \(cseq) INVITE\r\nContact: <sip:\(username)@\(socket.localAddress)>\r\n"
            + "User-Agent: vcbridge-loadtest\r\n"
        if let authorization { text += "Authorization: \(authorization)\r\n" }
        text += "Content-Type: application/sdp\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
        return (text, "\(cseq) INVITE")
    }

    /// Sends `request` and waits for its final response, resending it (Timer A) while none comes.
    private func transact(_ request: String, cseq: String) throws -> SIPMessage {
        let start = Date()
        var resendAt = 0.5, interval = 0.5
        try socket.send(Array(request.utf8), to: bridge)
        var provisional = false
        while Date().timeIntervalSince(start) < Self.timeoutSeconds {
            let elapsed = Date().timeIntervalSince(start)
            if !provisional && elapsed >= resendAt {
                try socket.send(Array(request.utf8), to: bridge)
                interval = min(interval * 2, 4)
                resendAt = elapsed + interval
            }
            guard try socket.waitReadable(timeoutMilliseconds: 50) else { continue }
            let count = try socket.receive(into: batch)
            for i in 0..<count {
                guard let message = try? SIPMessage.parse(datagram: Array(batch.datagram(i))),
                      let status = message.statusCode, message.value("CSeq") == cseq else { continue }
                if status >= 200 { return message }
                provisional = true  // 100 Trying: the bridge has it, stop resending
            }
        }
        throw EndpointError("\(username): no final answer to \(cseq) from \(bridge) within \(Int(Self.timeoutSeconds)) s")
    }

    /// The ACK a non-2xx final response needs (the INVITE's own branch and CSeq; RFC 3261 §17.1.1.3).
    private func acknowledge(failure response: SIPMessage, invite: String) throws {
        guard let via = invite.split(separator: "\r\n").first(where: { $0.hasPrefix("Via: ") }), let to = response.value("To")
        else { return }
        let text = "ACK \(uri) SIP/2.0\r\n\(via)\r\nMax-Forwards: 70\r\nFrom: <sip:\(username)@\(host)>;tag=\(fromTag)\r\n"
            + "To: \(to)\r\nCall-ID: \(callID)\r\nCSeq: \(cseq) ACK\r\nContent-Length: 0\r\n\r\n"
        try socket.send(Array(text.utf8), to: bridge)
    }

    /// Places the call: INVITE, the digest challenge answered, ACK.
    /// - Returns: what the bridge's answer agreed.
    /// - Throws: ``EndpointError`` naming the refusal, or the answer the offer does not fit.
    func call() throws -> SIPNegotiation {
        var request = invite(authorization: nil)
        var response = try transact(request.text, cseq: request.cseq)
        if response.statusCode == 401 || response.statusCode == 407 {
            try acknowledge(failure: response, invite: request.text)
            let header = response.statusCode == 401 ? "WWW-Authenticate" : "Proxy-Authenticate"
            guard let challenge = response.values(header).compactMap(DigestChallenge.init(parsing:)).first else {
                throw EndpointError("\(username): \(response.statusCode!) without a digest challenge")
            }
            let authorization = try DigestCredentials(username: username, password: password)
                .authorization(for: challenge, method: "INVITE", uri: uri, cnonce: String(UInt64.random(in: 1...UInt64.max), radix: 16),
                               nc: 1)
            request = invite(authorization: authorization)
            response = try transact(request.text, cseq: request.cseq)
        }
        guard let status = response.statusCode, (200..<300).contains(status) else {
            try acknowledge(failure: response, invite: request.text)
            throw EndpointError("\(username): the bridge refused the call: \(response.statusCode ?? 0) \(response.reasonPhrase ?? "")")
        }
        answered = response
        try send(inDialog: "ACK", cseq: cseq)
        let answer = try SessionDescription(parsing: response.body)
        do {
            return try SIPOfferer.parseAnswer(answer, to: offer)
        } catch {
            throw EndpointError("\(username): the bridge's answer does not fit the offer: \(error)")
        }
    }

    private func inDialog(_ method: String, cseq number: UInt32) throws -> String {
        guard let answered, let to = answered.value("To") else { throw EndpointError("\(username): no call to send \(method) in") }
        let target = (try? answered.contacts().first?.uri.description) ?? uri
        return "\(method) \(target) SIP/2.0\r\nVia: \(via)\r\nMax-Forwards: 70\r\n"
            + "From: <sip:\(username)@\(host)>;tag=\(fromTag)\r\nTo: \(to)\r\nCall-ID: \(callID)\r\n"
            + "CSeq: \(number) \(method)\r\nContent-Length: 0\r\n\r\n"
    }

    private func send(inDialog method: String, cseq number: UInt32) throws {
        try socket.send(Array(try inDialog(method, cseq: number).utf8), to: bridge)
    }

    /// Sends one BYE in the call's dialog and waits for nothing: the call is being replaced (its bridge may be gone).
    func sendBye() {
        guard answered != nil else { return }
        cseq += 1
        try? send(inDialog: "BYE", cseq: cseq)
    }

    /// Hangs up every call at once: a BYE each, resent from 500 ms while unanswered, its 200 waited for until
    /// `seconds` have passed.
    /// - Returns: how many the bridge answered with 200.
    static func hangUp(_ calls: [SIPLoadCall], within seconds: Double) -> Int {
        var byes: [(call: SIPLoadCall, text: [UInt8], cseq: String)] = []
        for call in calls where call.answered != nil {
            call.cseq += 1
            guard let bye = try? call.inDialog("BYE", cseq: call.cseq) else { continue }
            byes.append((call, Array(bye.utf8), "\(call.cseq) BYE"))
        }
        var answered = 0
        var waiting = Set(byes.indices)
        let start = Date()
        var resendAt = 0.0, interval = 0.5
        while !waiting.isEmpty, Date().timeIntervalSince(start) < seconds {
            if Date().timeIntervalSince(start) >= resendAt {
                for i in waiting { try? byes[i].call.socket.send(byes[i].text, to: byes[i].call.bridge) }
                resendAt += interval
                interval = min(interval * 2, 4)
            }
            var fds = waiting.sorted().map { pollfd(fd: byes[$0].call.socket.descriptorForPolling, events: Int16(POLLIN), revents: 0) }
            let order = waiting.sorted()
            guard (try? pollReadable(&fds, nanoseconds: 50_000_000)) ?? 0 > 0 else { continue }
            for (n, i) in order.enumerated() where fds[n].revents & Int16(POLLIN) != 0 {
                let call = byes[i].call
                guard let count = try? call.socket.receive(into: call.batch) else { continue }
                for k in 0..<count {
                    guard let message = try? SIPMessage.parse(datagram: Array(call.batch.datagram(k))),
                          let status = message.statusCode, status >= 200, message.value("CSeq") == byes[i].cseq else { continue }
                    waiting.remove(i)
                    if status == 200 { answered += 1 }
                }
            }
        }
        return answered
    }
}

extension SIPAudioCodec {
    /// The SDP encoding name (`opus`, `G722`, `PCMA`, `PCMU`), upper-cased.
    var encodingName: String {
        switch self {
        case .opus: "OPUS"
        case .g722: "G722"
        case .pcma: "PCMA"
        case .pcmu: "PCMU"
        }
    }
}
