import Transport

/// SIP room systems on the media thread. They choose their own SSRCs, so their first packets are found by the RTP
/// address their SDP named; once a packet has passed SRTP authentication its SSRC is learned and its source address
/// latched (as a native site's), and everything else (jitter buffer, mix, RTCP) is as for any site.
extension MediaEngine {
    /// The SIP site whose SDP named this address.
    func sipSite(at address: SocketAddress?) -> Int? { address.flatMap { bySIPAddress[$0] } }

    /// SIP sites tried by key for one packet, at most: each try is one HMAC over the packet.
    static let maximumSIPTrials = 4

    /// A packet nobody claims (unknown SSRC, no WebRTC or SIP address): authenticated, in place, with the keys of the
    /// SIP sites that have not yet sent an authentic packet (a hall behind NAT, whose SDP names its private address),
    /// at most ``maximumSIPTrials``. libsrtp2 checks the tag before decrypting and creates no stream state for a
    /// packet that fails, so a failed try leaves the packet and the session as they were.
    /// - Returns: the site it authenticated for and the plain length (the packet is decrypted in place).
    func sipSiteByKey(_ datagram: UnsafeMutableRawBufferPointer) -> (site: Int, length: Int)? {
        var tries = 0
        for site in bySIPAddress.values {
            guard let session = sessions[site], session.address == nil, let inbound = session.inbound else { continue }
            if tries == Self.maximumSIPTrials { return nil }
            tries += 1
            if let length = try? inbound.unprotectRTP(datagram, length: datagram.count) { return (site, length) }
        }
        return nil
    }

    func addSIP(_ session: MediaSession) {
        guard case .sip(let sip) = session.setup.transport, let remote = sip.remoteRTP else { return }
        bySIPAddress[remote] = session.setup.site
        if sip.sendsFirst { sendFirst(session, to: remote) }  // MediaEngine+DialOut.swift
    }

    func forgetSIP(_ session: MediaSession) {
        guard case .sip(let sip) = session.setup.transport else { return }
        if let remote = sip.remoteRTP, bySIPAddress[remote] == session.setup.site { bySIPAddress[remote] = nil }
        for (ssrc, site) in bySSRC where site == session.setup.site { bySSRC[ssrc] = nil }
    }
}

extension MediaSession {
    /// An outgoing RTP packet's length once protected (SRTP), or as it is for a plain-RTP call; nil: not sent.
    func protectRTP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        isPlainRTP ? length : try? outbound?.protectRTP(buffer, length: length)
    }

    /// The same for RTCP.
    func protectRTCP(_ buffer: UnsafeMutableRawBufferPointer, length: Int) -> Int? {
        isPlainRTP ? length : try? outbound?.protectRTCP(buffer, length: length)
    }

    /// A plain-RTP call's RTCP: taken from the host its SDP named (its RTCP port may be any), as it is.
    func plainRTCPLength(_ datagram: UnsafeMutableRawBufferPointer, from: SocketAddress?) -> Int? {
        guard let from, let source = plainRTPSource, from.with(port: source.port) == source else { return nil }
        return datagram.count
    }

    /// A SIP room system without rtcp-mux: its RTCP comes from, and goes to, another port than its RTP.
    var sendsRTCPApart: Bool {
        if case .sip(let sip) = setup.transport { return !sip.rtcpMux }
        return false
    }

    /// Where RTCP for the site goes: its RTP address, or (without rtcp-mux) the address its authentic RTCP came from.
    var rtcpDestination: SocketAddress? { sendsRTCPApart ? rtcpAddress : address }

    /// Whether the site's SSRCs are learned from its authentic packets (a WebRTC peer, a SIP room system) rather
    /// than given by the bridge (a native site).
    var learnsSSRCs: Bool {
        if ice != nil { return true }
        if case .sip = setup.transport { return true }
        return false
    }
}
