/// A SIP offer answered by the bridge: the SDP for the 200 (or 183) and what it agreed.
public struct SIPAnswer: Hashable, Sendable {
    public var sessionDescription: SessionDescription
    public var negotiation: SIPNegotiation

    /// The answer as SDP text with CRLF line ends.
    public var text: String { sessionDescription.text }
}

/// Answers the offer in a room system's INVITE (or re-INVITE/UPDATE) with the bridge's media (RFC 3264).
///
/// Audio: the first usable `m=audio` (RTP/SAVP(F) with `a=crypto`, or RTP/AVP(F) with `a=crypto` taken as SRTP, or
/// plain only when ``SIPMediaPolicy/allowsPlainRTP``), one codec by the bridge's preference Opus/48000/2, G.722,
/// PCMA, PCMU (static payload types 9, 8, 0 recognised without rtpmap), `telephone-event` not answered, `ptime:20`.
/// Video: the first `m=video` that is not content sharing (`a=content` absent or `main`), H.264 packetization
/// mode 1 (baseline family, at the lower of the two levels) or VP8, with nack, nack pli and ccm fir as offered (the
/// answer adds no feedback the offer did not list, RFC 4585 §4.2; such sites get keyframe requests by SIP INFO).
/// Everything else (slides video, BFCP, further sections, unusable ones) is answered with port 0. Directions mirror
/// the offer's, so a hold (`sendonly`, `inactive`, or `c=0.0.0.0`) is answered `recvonly` or `inactive`.
public enum SIPAnswerer {
    /// Milliseconds of audio per packet the bridge sends.
    public static let packetTime = 20

    /// Answers `offer`.
    /// - Parameters:
    ///   - current: the dialog's agreement so far, for a re-INVITE or UPDATE: its audio codec, video codec and
    ///     crypto tags are kept when the new offer still has them (RFC 3264 §8).
    /// - Throws: ``SIPSDPError`` (a 488) when there is no audio the bridge can take.
    public static func answer(to offer: SessionDescription, bridge: SIPBridgeParameters, policy: SIPMediaPolicy,
                              current: SIPNegotiation? = nil) throws(SIPSDPError) -> SIPAnswer {
        var media: [MediaDescription] = []
        var rejected: [SIPRejectedSection] = []
        var audio: SIPNegotiatedAudio?
        var video: SIPNegotiatedVideo?
        var audioError: SIPSDPError?

        for (index, section) in offer.media.enumerated() {
            var why: String
            switch section.kind {
            case "audio" where audio == nil:
                guard section.port != 0 else { why = "port 0 in the offer"; break }
                do {
                    let answered = try answerAudio(section, index: index, offer: offer, bridge: bridge, policy: policy,
                                                   current: current?.audio)
                    audio = answered.negotiated
                    media.append(answered.section)
                    continue
                } catch {
                    if audioError == nil { audioError = error }
                    why = error.description
                }
            case "audio":
                why = "the bridge takes one audio section"
            case "video" where video == nil && isCamera(section):
                guard section.port != 0 else { why = "port 0 in the offer"; break }
                guard let port = bridge.videoPort else { why = "the bridge takes no video on this call"; break }
                do {
                    // Video is SRTP whatever the site's policy: plain RTP is allowed for a room system's audio alone.
                    var videoPolicy = policy
                    videoPolicy.allowsPlainRTP = false
                    let answered = try answerVideo(section, index: index, offer: offer, bridge: bridge, port: port,
                                                   policy: videoPolicy, current: current?.video)
                    video = answered.negotiated
                    media.append(answered.section)
                    continue
                } catch {
                    why = error.description
                }
            case "video" where !isCamera(section):
                why = "content sharing (a=content) is not taken yet"
            case "video":
                why = "the bridge takes one camera video section"
            default:
                why = "m=\(section.kind) \(section.proto) is not taken"
            }
            rejected.append(SIPRejectedSection(index: index, kind: section.kind, why: why))
            media.append(.rejecting(section, connection: nil))
        }
        guard let audio else {
            throw audioError ?? SIPSDPError(.noAudio, detail: "the offer has no m=audio with a port")
        }
        if audio.media.srtp == nil, let index = video?.media.index {
            // Plain RTP audio (the site's policy allows it): the call is audio only (`media` has one entry per offered section).
            rejected.append(SIPRejectedSection(index: index, kind: "video", why: "a plain RTP call is audio only"))
            media[index] = .rejecting(offer.media[index], connection: nil)
            video = nil
        }
        let negotiation = SIPNegotiation(audio: audio, video: video, rejected: rejected)
        return SIPAnswer(sessionDescription: SIPDescriptionWriter.session(bridge: bridge, media: media),
                         negotiation: negotiation)
    }

    /// The camera: a video section without `a=content` or with `a=content:main` (RFC 4796).
    private static func isCamera(_ section: MediaDescription) -> Bool {
        let content = section.attributes.compactMap { attribute -> String? in
            if case .other(name: "content", value: let value) = attribute { value ?? "" } else { nil }
        }
        return content.isEmpty || content.contains { $0.split(separator: ",").contains("main") }
    }

    private static func answerAudio(_ section: MediaDescription, index: Int, offer: SessionDescription,
                                    bridge: SIPBridgeParameters, policy: SIPMediaPolicy,
                                    current: SIPNegotiatedAudio?) throws(SIPSDPError)
        -> (negotiated: SIPNegotiatedAudio, section: MediaDescription) {
        guard SIPSectionReader.isSupported(proto: section.proto) else {
            throw SIPSDPError(.unsupportedTransport, section: index, detail: "offered \(section.proto)")
        }
        let keys = try security(of: section, index: index, policy: policy, localKey: bridge.audioKey,
                                previous: current?.media.srtp)
        let codecs = section.codecs
        let order = (current.map { [$0.codec] } ?? []) + SIPAudioCodec.allCases
        guard let (codec, offered) = order.lazy.compactMap({ codec in
            codecs.first { $0.matches(codec.format) }.map { (codec, $0) }
        }).first else {
            let names = codecs.map { $0.encodingName ?? String($0.payloadType) }.joined(separator: ", ")
            throw SIPSDPError(.noAudioCodec, section: index, detail: "offered \(names.isEmpty ? "nothing" : names)")
        }
        let events = codecs.filter(\.isTelephoneEvent)
        let event = events.first { $0.rtpMap?.clockRate == codec.rtpClockRate } ?? events.first
        let remote = try SIPSectionReader.transport(of: section, index: index, in: offer, rtcpMux: section.hasRTCPMux)
        let theirs = SIPSectionReader.direction(of: section, in: offer, remote: remote)
        let direction = MediaDirection(sends: theirs.receives, receives: theirs.sends)
        let stream = SIPMediaStream(index: index, proto: section.proto, remote: remote, srtp: keys.srtp,
                                    direction: direction, avpf: SIPSectionReader.isAVPF(proto: section.proto))
        let negotiated = SIPNegotiatedAudio(media: stream, codec: codec, payloadType: offered.payloadType,
                                            receivePayloadType: offered.payloadType,
                                            clockRate: codec.rtpClockRate,
                                            telephoneEventPayloadType: event?.payloadType, packetTime: packetTime)
        let attributes = SIPDescriptionWriter.audioCodecAttributes(codec, payloadType: offered.payloadType)
            + SIPDescriptionWriter.streamAttributes(packetTime: packetTime, rtcpMux: remote.rtcpMux, rtcpPort: bridge.audioPort,
                                                    crypto: keys.answer, direction: direction)
        let answered = MediaDescription(kind: section.kind, port: bridge.audioPort, proto: section.proto,
                                        formats: [String(offered.payloadType)], attributes: attributes)
        return (negotiated, answered)
    }

    private static func answerVideo(_ section: MediaDescription, index: Int, offer: SessionDescription,
                                    bridge: SIPBridgeParameters, port: UInt16, policy: SIPMediaPolicy,
                                    current: SIPNegotiatedVideo?) throws(SIPSDPError)
        -> (negotiated: SIPNegotiatedVideo, section: MediaDescription) {
        guard SIPSectionReader.isSupported(proto: section.proto) else {
            throw SIPSDPError(.unsupportedTransport, section: index, detail: "offered \(section.proto)")
        }
        let keys = try security(of: section, index: index, policy: policy, localKey: bridge.videoKey,
                                previous: current?.media.srtp)
        guard let (codec, map) = SIPVideoCodecs.choose(from: section.codecs, maxLevel: bridge.h264MaxLevel,
                                                       keeping: current?.codec) else {
            let names = section.codecs.map { $0.encodingName ?? String($0.payloadType) }.joined(separator: ", ")
            throw SIPSDPError(.notOffered, section: index,
                              detail: "video without H.264 packetization-mode 1 (baseline) or VP8: offered "
                                  + (names.isEmpty ? "nothing" : names))
        }
        let remote = try SIPSectionReader.transport(of: section, index: index, in: offer, rtcpMux: section.hasRTCPMux)
        let theirs = SIPSectionReader.direction(of: section, in: offer, remote: remote)
        let direction = MediaDirection(sends: theirs.receives, receives: theirs.sends)
        let stream = SIPMediaStream(index: index, proto: section.proto, remote: remote, srtp: keys.srtp,
                                    direction: direction, avpf: SIPSectionReader.isAVPF(proto: section.proto))
        var attributes: [SDPAttribute] = []
        attributes.appendVideoCodec(codec, rtpMap: map)
        attributes += SIPDescriptionWriter.streamAttributes(packetTime: nil, rtcpMux: remote.rtcpMux, rtcpPort: port,
                                                            crypto: keys.answer, direction: direction)
        let answered = MediaDescription(kind: section.kind, port: port, proto: section.proto,
                                        formats: [String(codec.payloadType)], attributes: attributes)
        return (SIPNegotiatedVideo(media: stream, codec: codec, receivePayloadType: codec.payloadType), answered)
    }

    /// The offer's line the bridge keys with (the current tag and suite if still offered, else the first
    /// AES_CM_128_HMAC_SHA1_80, else the first _32), and the bridge's answering line; or plain RTP when allowed.
    private static func security(of section: MediaDescription, index: Int, policy: SIPMediaPolicy, localKey: SDESKey,
                                 previous: SIPSRTPKeys?) throws(SIPSDPError) -> (srtp: SIPSRTPKeys?, answer: SDESCrypto?) {
        let lines = SIPSectionReader.cryptoLines(of: section)
        let pick = previous.flatMap { old in lines.usable.first { $0.tag == old.tag && $0.suite == old.suite } }
            ?? lines.usable.first { $0.suite == .aesCM128HMACSHA1_80 } ?? lines.usable.first
        if let pick {
            return (SIPSRTPKeys(suite: pick.suite, tag: pick.tag, remoteKey: pick.key, localKey: localKey),
                    SDESCrypto(tag: pick.tag, suite: pick.suite, key: localKey))
        }
        if SIPSectionReader.isSecure(proto: section.proto) {
            if lines.refused.isEmpty { throw SIPSDPError(.noCrypto, section: index) }
            throw SIPSDPError(.noUsableCrypto, section: index, cryptoErrors: lines.refused)
        }
        if policy.allowsPlainRTP { return (nil, nil) }
        if lines.refused.isEmpty { throw SIPSDPError(.plainRTPNotAllowed, section: index) }
        throw SIPSDPError(.noUsableCrypto, section: index, cryptoErrors: lines.refused)
    }
}
