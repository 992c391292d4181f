import DTLS
import ICE
import RTP
import Transport
import VideoRouter

/// WebRTC peers on the media thread: ICE-lite checks answered in place, DTLS datagrams handed to
/// the handshake thread, and the SRTP keys it returns. Everything else about such a site (jitter
/// buffer, mix, video) is as for a native site.
extension MediaEngine {
    /// The WebRTC site whose selected address this is.
    func webRTCSite(at address: SocketAddress?) -> Int? { address.flatMap { byAddress[$0] } }

    /// A STUN message: answered only if it is a valid check for one of our WebRTC sessions; nothing
    /// is sent otherwise (and never more bytes than a valid check had).
    func handleSTUN(_ index: Int, now: Int64) {
        let datagram = UnsafeRawBufferPointer(receiveBatch.datagram(index))
        // Our ufrags are 8 characters (ICECredentials.generate): a longer local part is not ours, and
        // a short one is a Swift small string, so the lookup allocates nothing whatever is sent.
        guard let from = receiveBatch.address(index),
              let ufrag = ICELiteSession.localUfrag(inRequest: datagram, maximumLength: 15),
              let site = byUfrag[ufrag], let session = sessions[site], var ice = session.ice
        else {
            stunRefused += 1
            return
        }
        let result = ice.handle(datagram, from: from, now: now, response: stunResponse)
        session.ice = ice
        guard case .respond(let response) = result else {
            stunRefused += 1
            return
        }
        try? socket.send(UnsafeRawBufferPointer(rebasing: stunResponse[0..<response.byteCount]), to: from)
        session.lastPacketAt = now
        if response.selectionChanged { select(from, for: session, now: now) }
    }

    /// A DTLS record: only from the address ICE selected for a WebRTC session, to its handshake.
    func handleDTLS(_ index: Int) {
        guard let from = receiveBatch.address(index), let site = byAddress[from], let session = sessions[site],
              session.ice != nil, let handshakes
        else {
            stunRefused += 1
            return
        }
        handshakes.post(.datagram(site: site, session: session.setup.endpointSSRC, bytes: Array(UnsafeRawBufferPointer(receiveBatch.datagram(index))), from: from))
    }

    /// ICE selected (or moved) a WebRTC peer's address.
    private func select(_ address: SocketAddress, for session: MediaSession, now: Int64) {
        if let old = session.address { byAddress[old] = nil }
        byAddress[address] = session.setup.site
        let first = session.address == nil
        session.address = address
        session.statistics.address = address.description
        if !first { session.statistics.relatches += 1 }
        handshakes?.post(.address(site: session.setup.site, session: session.setup.endpointSSRC, address))
        startStreams(session, now: now)
    }

    /// The handshake gave the peer's SRTP keys: media may flow.
    func keyed(_ session: MediaSession, _ keys: DTLSSRTPKeys, now: Int64) {
        do {
            try session.key(profile: keys.profile, inbound: keys.inbound, outbound: keys.outbound)
        } catch {
            Log.error("media-session", ["site": session.setup.siteID, "error": error])
            return
        }
        Log.info("webrtc-keyed", ["site": session.setup.siteID, "profile": "\(keys.profile)"])
        startStreams(session, now: now)
    }

    /// Video streams start once the peer can be reached and keyed (as a native site's start on its
    /// first authentic packet).
    private func startStreams(_ session: MediaSession, now: Int64) {
        guard session.address != nil, session.outbound != nil else { return }
        let setup = session.setup
        guard let router = routers[setup.meeting], router.statistics(of: setup.site) == nil else { return }
        router.add(site: setup.site, presenterSSRC: setup.presenterSSRC, speakerSSRC: setup.speakerSSRC)
    }

    func forgetWebRTC(_ session: MediaSession) {
        if let ufrag = session.ice?.localUfrag { byUfrag[ufrag] = nil }
        if let address = session.address { byAddress[address] = nil }
        for (ssrc, site) in bySSRC where site == session.setup.site { bySSRC[ssrc] = nil }
        handshakes?.post(.stop(site: session.setup.site, session: session.setup.endpointSSRC))
    }

    /// Tells a browser the most video it may send (REMB): without it Chrome raises its bitrate
    /// without bound. Once a second, for peers that negotiated goog-remb: at most the cap (80 % of
    /// `video.maxKilobitsPerSecond`), lower while its camera's video is lost. The loss followed is
    /// the larger of what the bridge found missing from the camera's stream (the uplink) and the
    /// median of what the receivers showing that camera reported in their last report blocks, if
    /// fresh (`SenderBitrateController.senderLoss`): one receiver's bad downlink does not slow the
    /// camera for everyone, a bad uplink does.
    func sendEstimatedMaximumBitrate(_ session: MediaSession, now: Int64) {
        guard session.bitrate != nil else { return }
        let site = session.setup.site
        receiverLosses.removeAll(keepingCapacity: true)
        for case let receiver? in sessions where receiver.setup.meeting == session.setup.meeting && receiver !== session {
            for case let report? in receiver.videoLossReports
            where report.source == site && now - report.at <= VideoLossReport.freshNanoseconds {
                receiverLosses.append(report.fraction)
            }
        }
        let loss = SenderBitrateController.senderLoss(uplink: session.takeVideoUplinkLoss(), receivers: &receiverLosses)
        let bitsPerSecond = session.bitrate!.update(loss: loss, now: now)
        session.statistics.rembBitsPerSecond = bitsPerSecond
        session.statistics.rembLossFraction = loss
        guard let address = session.address, let outbound = session.outbound else { return }
        rtcpBuffer.withUnsafeMutableBytes { raw in
            guard let length = try? RTCPFastPath.writeEstimatedMaximumBitrate(
                into: raw, senderSSRC: session.setup.bridgeSSRC, mediaSSRC: session.videoSSRC, bitsPerSecond: UInt64(bitsPerSecond)),
                let protected = try? outbound.protectRTCP(raw, length: length)
            else { return }
            try? socket.send(UnsafeRawBufferPointer(rebasing: raw[0..<protected]), to: address)
        }
    }

    /// A report block a site sent: if it is about its presenter or speaker stream, the loss it
    /// reports is kept with the source that stream shows now (for that source's REMB).
    func noteVideoLoss(_ block: ReportBlock, from session: MediaSession, router: VideoRouter?, at arrival: Int64) {
        let setup = session.setup
        let kind: VideoStreamKind
        switch block.ssrc {
        case setup.presenterSSRC: kind = .presenter
        case setup.speakerSSRC: kind = .speaker
        default: return
        }
        guard let source = router?.source(of: kind, for: setup.site) else { return }
        session.videoLossReports[kind.rawValue] = VideoLossReport(fraction: Double(block.fractionLost) / 256, source: source, at: arrival)
    }
}

/// What a receiver last reported about one of its video streams.
struct VideoLossReport {
    /// A report older than this no longer speaks for the stream (browsers report about once a second).
    static let freshNanoseconds: Int64 = 2_000_000_000
    /// The fraction lost over the report's interval.
    var fraction: Double
    /// The site the stream showed when the report came.
    var source: Int
    var at: Int64
}
