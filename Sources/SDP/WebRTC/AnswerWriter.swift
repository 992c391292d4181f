/// Writes the answer's description from the choices ``WebRTCAnswerer`` made: the shape Chromium and aiortc accept
/// from an ICE-lite DTLS server.
struct AnswerWriter {
    let offer: SessionDescription
    let bridge: WebRTCBridgeParameters
    let plan: [WebRTCAnswerer.Role?]
    let audio: WebRTCAnswerer.AudioChoice
    let videos: [WebRTCAnswerer.VideoChoice]
    let bundleMids: [String]

    var description: SessionDescription {
        let family = IPAddressText.family(of: bridge.address) ?? "IP4"
        let unspecified = family == "IP6" ? "::" : "0.0.0.0"
        var media: [MediaDescription] = []
        for (index, section) in offer.media.enumerated() {
            let connection = ConnectionData(addressType: family, address: unspecified)
            switch plan[index] {
            case .audio?:
                media.append(audioSection(section, connection: connection))
            case .camera?:
                media.append(videoSection(videos[0], offered: section, stream: bridge.presenter,
                                          connection: connection))
            case .speaker?:
                media.append(videoSection(videos[1], offered: section, stream: bridge.speaker, connection: connection))
            case nil:
                var rejected = MediaDescription.rejecting(section, connection: connection)
                if let mid = section.mid { rejected.attributes.append(.mid(mid)) }
                media.append(rejected)
            }
        }
        return SessionDescription(
            origin: Origin(sessionID: String(bridge.sessionID), sessionVersion: String(bridge.sessionVersion),
                           addressType: family, address: unspecified),
            attributes: [.group(MediaGroup(semantics: "BUNDLE", mids: bundleMids)), .iceLite],
            media: media)
    }

    /// The lines every accepted section starts with: ICE, DTLS, mid.
    private func transportAttributes(mid: String) -> [SDPAttribute] {
        [.iceUfrag(bridge.ice.ufrag), .icePwd(bridge.ice.pwd), .fingerprint(bridge.fingerprint), .setup(.passive),
         .mid(mid)]
    }

    /// rtcp-mux and rtcp-rsize (the latter only when offered).
    private func rtcpAttributes(reducedSize: Bool) -> [SDPAttribute] {
        reducedSize ? [.rtcpMux, .rtcpReducedSize] : [.rtcpMux]
    }

    private var candidateAttributes: [SDPAttribute] {
        [.candidate("1 1 UDP \(WebRTCAnswerer.candidatePriority) \(bridge.address) \(bridge.port) typ host"),
         .endOfCandidates]
    }

    /// `a=msid` and the `a=ssrc` lines (cname, msid) of what the bridge sends on a section; none when it does not.
    private func streamAttributes(_ stream: OutgoingStream,
                                  direction: MediaDirection) -> (msid: [SDPAttribute], ssrc: [SDPAttribute]) {
        guard direction.sends else { return ([], []) }
        let msid = "\(stream.streamID) \(stream.trackID)"
        return ([.msid(MediaStreamID(streamID: stream.streamID, appData: stream.trackID))],
                [.ssrc(SSRCAttribute(ssrc: stream.ssrc, attribute: "cname", value: stream.cname)),
                 .ssrc(SSRCAttribute(ssrc: stream.ssrc, attribute: "msid", value: msid))])
    }

    private func audioSection(_ offered: MediaDescription, connection: ConnectionData) -> MediaDescription {
        let chosen = audio.negotiated
        var attributes = transportAttributes(mid: chosen.mid)
        if let id = chosen.audioLevelExtensionID {
            attributes.append(.extmap(ExtensionMap(id: UInt16(id), uri: ExtensionMap.audioLevelURI)))
        }
        attributes.append(.direction(chosen.direction))
        let stream = streamAttributes(bridge.audio, direction: chosen.direction)
        attributes += stream.msid
        attributes += rtcpAttributes(reducedSize: chosen.reducedSizeRTCP)
        attributes.append(.rtpmap(audio.rtpMap))
        let parameters = (chosen.minPTime.map { "minptime=\($0);" } ?? "") + "useinbandfec=1"
        attributes.append(.fmtp(FormatParameters(format: String(chosen.payloadType), parameters: parameters)))
        attributes += stream.ssrc
        attributes += candidateAttributes
        return MediaDescription(kind: offered.kind, port: 9, proto: offered.proto,
                                formats: [String(chosen.payloadType)], connection: connection,
                                attributes: attributes)
    }

    private func videoSection(_ choice: WebRTCAnswerer.VideoChoice, offered: MediaDescription,
                              stream: OutgoingStream, connection: ConnectionData) -> MediaDescription {
        let chosen = choice.negotiated
        var attributes = transportAttributes(mid: chosen.mid)
        attributes.append(.direction(chosen.direction))
        let streamLines = streamAttributes(stream, direction: chosen.direction)
        attributes += streamLines.msid
        attributes += rtcpAttributes(reducedSize: chosen.reducedSizeRTCP)
        for (codec, map) in zip(chosen.codecs, choice.rtpMaps) {
            attributes.appendVideoCodec(codec, rtpMap: map)
        }
        attributes += streamLines.ssrc
        attributes += candidateAttributes
        return MediaDescription(kind: offered.kind, port: 9, proto: offered.proto,
                                formats: chosen.codecs.map { String($0.payloadType) }, connection: connection,
                                attributes: attributes)
    }
}
