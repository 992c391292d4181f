import Transport

/// SIP room systems on the media thread. They choose their own SSRCs, so their first packets are found by the RTP
/// address their SDP named; once a packet has passed SRTP authentication its SSRC is learned and its source address
/// latched (as a native site's), and everything else (jitter buffer, mix, RTCP) is as for any site.
extension MediaEngine {
    /// The SIP site whose SDP named this address.
    func sipSite(at address: SocketAddress?) -> Int? { address.flatMap { bySIPAddress[$0] } }

    func addSIP(_ session: MediaSession) {
        guard case .sip(let sip) = session.setup.transport, let remote = sip.remoteRTP else { return }
        bySIPAddress[remote] = session.setup.site
    }

    func forgetSIP(_ session: MediaSession) {
        guard case .sip(let sip) = session.setup.transport else { return }
        if let remote = sip.remoteRTP, bySIPAddress[remote] == session.setup.site { bySIPAddress[remote] = nil }
        for (ssrc, site) in bySSRC where site == session.setup.site { bySSRC[ssrc] = nil }
    }
}

extension MediaSession {
    /// Whether the site's SSRCs are learned from its authentic packets (a WebRTC peer, a SIP room system) rather
    /// than given by the bridge (a native site).
    var learnsSSRCs: Bool {
        if ice != nil { return true }
        if case .sip = setup.transport { return true }
        return false
    }
}
