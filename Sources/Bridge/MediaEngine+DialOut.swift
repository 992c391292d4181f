import Transport

/// Calls the bridge placed, on the media thread: the far end's SDP address is where the bridge chose to call, so it
/// is sent to at once (a room system answering may wait to hear first, and another bridge does: both waiting would
/// leave the call silent). An authentic packet from elsewhere still moves the address, as for any SIP site.
extension MediaEngine {
    func sendFirst(_ session: MediaSession, to remote: SocketAddress) {
        guard session.address == nil else { return }
        session.address = remote
        session.statistics.address = remote.description
        if case .sip(let sip) = session.setup.transport, let video = sip.video?.remoteRTP { session.videoAddress = video }
        // Without rtcp-mux the far end takes RTCP at the RTCP address its answer named (authentic RTCP from
        // elsewhere still moves it, as for any SIP site).
        if case .sip(let sip) = session.setup.transport, !sip.rtcpMux, session.rtcpAddress == nil, let rtcp = sip.remoteRTCP {
            session.rtcpAddress = rtcp
            session.statistics.rtcpAddress = rtcp.description
        }
        let setup = session.setup
        routers[setup.meeting]?.add(site: setup.site, presenterSSRC: setup.presenterSSRC, speakerSSRC: setup.speakerSSRC)
    }
}
