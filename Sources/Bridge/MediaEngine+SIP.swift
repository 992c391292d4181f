import SRTP
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
        let payloadType = datagram.count > 1 ? datagram[1] & 0x7F : 0
        for (address, site) in bySIPAddress {
            // Each site once (its audio address's entry; its video address has one too).
            guard let session = sessions[site], case .sip(let sip) = session.setup.transport, address == sip.remoteRTP
            else { continue }
            let video = session.isSIPVideo(payloadType: payloadType)
            guard (video ? session.videoAddress : session.address) == nil,
                  let inbound = video ? session.videoInbound : session.inbound else { continue }
            if tries == Self.maximumSIPTrials { return nil }
            tries += 1
            if let length = try? inbound.unprotectRTP(datagram, length: datagram.count) { return (site, length) }
        }
        return nil
    }

    func addSIP(_ session: MediaSession) {
        guard case .sip(let sip) = session.setup.transport, let remote = sip.remoteRTP else { return }
        bySIPAddress[remote] = session.setup.site
        if let video = sip.video?.remoteRTP { bySIPAddress[video] = session.setup.site }
        if sip.sendsFirst { sendFirst(session, to: remote) }  // MediaEngine+DialOut.swift
    }

    func forgetSIP(_ session: MediaSession) {
        guard case .sip(let sip) = session.setup.transport else { return }
        for remote in [sip.remoteRTP, sip.video?.remoteRTP] {
            if let remote, bySIPAddress[remote] == session.setup.site { bySIPAddress[remote] = nil }
        }
        for (ssrc, site) in bySSRC where site == session.setup.site { bySSRC[ssrc] = nil }
    }
}

extension MediaEngine {
    /// A SIP camera that takes keyframe requests only by SIP INFO: the SIP thread is told (site and session), and
    /// sends the INFO in the call's dialog. The router has already throttled the request (once a second a source).
    func askByInfo(_ session: MediaSession) {
        let request = (site: session.setup.site, session: session.setup.endpointSSRC)
        mailbox.pictureFastUpdates.withLock { waiting in
            guard waiting.count < MediaMailbox.maximumPictureFastUpdates,
                  !waiting.contains(where: { $0.site == request.site && $0.session == request.session }) else { return }
            waiting.append(request)
        }
    }

    /// A SIP site's INFO picture_fast_update: the source of the stream it is shown (the presenter's, or the speaker's
    /// while it presents itself) is asked for a keyframe, through the router's throttle, as for a receiver's PLI.
    func pictureFastUpdate(site: Int, session id: UInt32, now: Int64) {
        guard let session = sessions[site], session.setup.endpointSSRC == id,
              let router = routers[session.setup.meeting] else { return }
        let shown = router.presenter == site ? session.setup.speakerSSRC : session.setup.presenterSSRC
        router.feedback(.pictureLoss(senderSSRC: 0, mediaSSRC: shown), from: site, now: now, sink: self)
        flushVideo()
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

    /// A SIP site's camera video setup; nil for every other site and for a call without video.
    var sipVideoSetup: SIPVideoSetup? {
        if case .sip(let sip) = setup.transport { return sip.video }
        return nil
    }

    /// Whether a packet of this payload type is a SIP site's camera video (keyed by its own m-line's keys).
    func isSIPVideo(payloadType: UInt8) -> Bool {
        videoInbound != nil && setup.payloadTypes.video[payloadType] != nil
    }

    /// Where the site's video goes: any other site's one address; a SIP site's video address, latched from its first
    /// authentic video packet, or (a room system that sends no camera) the SDP's video address once its audio has
    /// come authentic from the SDP's audio address (not from behind NAT, where the SDP's addresses are private).
    var videoDestination: SocketAddress? {
        guard case .sip(let sip) = setup.transport, let video = sip.video else { return address }
        if let videoAddress { return videoAddress }
        guard let address, address == sip.remoteRTP else { return nil }
        return video.remoteRTP
    }

    /// The context that protects what the bridge sends as video.
    var videoSender: SRTPSession? { videoOutbound ?? outbound }

    /// A SIP site's video without rtcp-mux: its video RTCP comes from, and goes to, another port than its video RTP.
    var sendsVideoRTCPApart: Bool { sipVideoSetup.map { !$0.rtcpMux } ?? false }

    /// Where RTCP about the site's video goes (keyframe requests): for a SIP site its video RTCP address (its video
    /// RTP address with rtcp-mux; else where its authentic video RTCP came from, or the SDP's, once its video
    /// address has proved itself); for any other site ``rtcpDestination``.
    var videoRTCPDestination: SocketAddress? {
        guard let video = sipVideoSetup else { return rtcpDestination }
        guard let videoAddress else { return nil }
        return video.rtcpMux ? videoAddress : videoRTCPAddress ?? video.remoteRTCP
    }

    /// A SIP site shows one video stream on its one video m-line: the presenter's, or, while it presents itself, the
    /// speaker's. Every other site takes both streams.
    func takesStream(_ ssrc: UInt32, presenter: Int?) -> Bool {
        guard sipVideoSetup != nil else { return true }
        return ssrc == (presenter == setup.site ? setup.speakerSSRC : setup.presenterSSRC)
    }

    /// Authenticates and decrypts an RTCP compound in place, with the audio context or (a SIP site's video RTCP) the
    /// video one: the one its sender SSRC names first; libsrtp2 checks the tag before decrypting, so a failed try
    /// leaves the bytes as they were.
    /// - Returns: the plain length and whether it was the video context; nil when neither authenticates it.
    func unprotectRTCP(_ datagram: UnsafeMutableRawBufferPointer) -> (length: Int, video: Bool)? {
        guard let videoInbound else {
            return (try? inbound?.unprotectRTCP(datagram, length: datagram.count)).map { ($0, false) }
        }
        let sender = datagram.count >= 8 ? UInt32(datagram[4]) << 24 | UInt32(datagram[5]) << 16 | UInt32(datagram[6]) << 8
            | UInt32(datagram[7]) : 0
        let videoFirst = sender == videoSSRC
        if let length = try? (videoFirst ? videoInbound : inbound)?.unprotectRTCP(datagram, length: datagram.count) {
            return (length, videoFirst)
        }
        if let length = try? (videoFirst ? inbound : videoInbound)?.unprotectRTCP(datagram, length: datagram.count) {
            return (length, !videoFirst)
        }
        return nil
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
