import SDP
import SIP
import Transport
import VideoFormats

/// Camera video on SIP calls, on the SIP thread: what the media thread is given of the agreed video, and keyframe
/// requests by SIP INFO (RFC 5168) both ways: a room system's picture_fast_update asks the source of what it is shown
/// for a keyframe, and a camera that agreed no RTCP feedback is asked for one with an INFO.
extension SIPFrontEnd {
    /// The media thread's view of an agreed video stream: keys, addresses, how it takes keyframe requests, and its
    /// payload type each way (it sends with the number the bridge listed, and receives with its own). A direction
    /// the stream does not have (a hold: `sendonly`, `recvonly`, `inactive`) gets no payload type, so nothing is
    /// forwarded to a room system that holds, nor taken from one the bridge does not receive from.
    static func videoSetup(_ video: SIPNegotiatedVideo?)
        -> (setup: SIPVideoSetup, received: [UInt8: VideoCodec], sent: [UInt8: VideoCodec])? {
        guard let video, let srtp = video.media.srtp else { return nil }
        let codec: VideoCodec = video.codec.name == .h264 ? .h264 : .vp8
        let remote = video.media.remote
        let feedback = video.codec.feedback
        let request: SIPKeyframeRequest = feedback.contains(.pli) ? .pli : feedback.contains(.fir) ? .fir : .info
        let setup = SIPVideoSetup(
            inboundKey: srtp.remoteKey.keySalt, outboundKey: srtp.localKey.keySalt,
            remoteRTP: try? SocketAddress(ip: remote.address, port: remote.rtpPort),
            remoteRTCP: try? SocketAddress(ip: remote.rtcpAddress, port: remote.rtcpPort), rtcpMux: remote.rtcpMux,
            keyframeRequest: request)
        let direction = video.media.direction  // the bridge's
        return (setup, direction.receives ? [video.receivePayloadType: codec] : [:],
                direction.sends ? [video.codec.payloadType: codec] : [:])
    }

    /// INFO within a call: an RFC 5168 body is read strictly (a malformed one gets 400 naming what is wrong); a
    /// picture_fast_update asks the media thread for a keyframe for the site; an empty INFO (a keep-alive) gets 200;
    /// another body type 415.
    func info(_ request: SIPMessage, call: SIPCall, from peer: SIPPeer, transaction: SIPTransactionID, now: Int64) {
        guard !request.body.isEmpty else { return respond(request, 200, to: transaction, peer: peer, now: now) }
        let type = request.contentType?.split(separator: ";").first.map { String($0.filter { $0 != " " && $0 != "\t" }).lowercased() }
        guard type == SIPMediaControl.contentType else {
            return respond(request, 415, to: transaction, peer: peer,
                           headers: [SIPHeader("Accept", SIPMediaControl.contentType)], now: now)
        }
        let control: SIPMediaControl
        do {
            control = try SIPMediaControl(parsing: request.body)
        } catch {
            refuse("sip-info-refused", peer: peer, site: call.session.site.id, detail: error.description)
            return respond(request, 400, reason: "Bad Request (\(Self.phrase(error.description)))", to: transaction, peer: peer,
                           now: now)
        }
        if control.asksForPicture {
            bridge.mailbox.post(.pictureFastUpdate(site: call.session.site.index, session: call.session.ssrcs.siteAudio))
        }
        respond(request, 200, to: transaction, peer: peer, now: now)
    }

    /// Sends the INFO picture_fast_update the media thread asked for, each in its call's dialog (once a loop).
    func sendPictureFastUpdates(now: Int64) {
        let wanted = bridge.mailbox.pictureFastUpdates.withLock { waiting -> [(site: Int, session: UInt32)] in
            defer { waiting.removeAll(keepingCapacity: true) }
            return waiting
        }
        for request in wanted {
            guard var call = calls.values.first(where: {
                $0.session.site.index == request.site && $0.session.ssrcs.siteAudio == request.session && $0.confirmed
            }) else { continue }
            var info = call.dialog.request("INFO", branch: SIPVia.magicCookie + Self.token(), from: call.local)
            info.add("Content-Type", SIPMediaControl.contentType)
            info.body = Array(SIPMediaControl.pictureFastUpdateBody.utf8)
            calls[call.callID] = call  // the dialog's CSeq moved on
            start(info, for: call, now: now)
        }
    }
}
