/// The bridge's own SDP offer (dial-out to a hall, cascade to an upstream MCU, or the 200 to an INVITE without
/// SDP), kept with what it was made from so the answer can be checked against it.
public struct SIPOffer: Hashable, Sendable {
    public var sessionDescription: SessionDescription
    /// What the offer was made from.
    public let bridge: SIPBridgeParameters
    public let policy: SIPMediaPolicy

    /// The offer as SDP text with CRLF line ends.
    public var text: String { sessionDescription.text }
}

/// Writes the bridge's offers and reads the far end's answers to them (RFC 3264 §5, §6, §7).
///
/// The offer: `m=audio` with Opus/48000/2 (payload type 96), G.722 (9), PCMA (8), PCMU (0), `ptime:20`, `rtcp-mux`
/// and `a=rtcp:<the m-line's port>` (RFC 5761 §5.1.3: a far end without rtcp-mux sends its RTCP to the media port too),
/// and `a=crypto:1 AES_CM_128_HMAC_SHA1_80` with the bridge's audio key, over `RTP/SAVP` (`RTP/SAVPF` when
/// ``SIPMediaPolicy/offersAVPF``; `RTP/AVP(F)` with the same `a=crypto` when the policy allows plain RTP, so SRTP
/// is used whenever the far end takes it); then, when the bridge has a video port and `video` is not empty,
/// `m=video` with H.264 packetization mode 1 constrained baseline at the bridge's level (97) and/or VP8 (98), each
/// with nack, nack pli and ccm fir, and its own key.
public enum SIPOfferer {
    static let opusPayloadType: UInt8 = 96
    static let h264PayloadType: UInt8 = 97
    static let vp8PayloadType: UInt8 = 98
    /// The tag of the bridge's one `a=crypto` line per section.
    static let cryptoTag: UInt32 = 1

    /// The bridge's offer.
    /// - Parameters:
    ///   - video: the video codecs to offer, preferred first; empty (or no video port) for audio only.
    ///   - direction: `sendrecv`, or `sendonly`/`inactive` when the bridge itself holds the call.
    public static func offer(bridge: SIPBridgeParameters, policy: SIPMediaPolicy,
                             video: [NegotiatedVideoCodec.Name] = [.h264, .vp8],
                             direction: MediaDirection = .sendrecv) -> SIPOffer {
        let proto = (policy.allowsPlainRTP ? "RTP/AVP" : "RTP/SAVP") + (policy.offersAVPF ? "F" : "")
        let audioOrder: [(SIPAudioCodec, UInt8)] = [(.opus, opusPayloadType), (.g722, 9), (.pcma, 8), (.pcmu, 0)]
        var audioAttributes = audioOrder.flatMap { SIPDescriptionWriter.audioCodecAttributes($0.0, payloadType: $0.1) }
        audioAttributes += SIPDescriptionWriter.streamAttributes(
            packetTime: SIPAnswerer.packetTime, rtcpMux: true, rtcpPort: bridge.audioPort,
            crypto: SDESCrypto(tag: cryptoTag, suite: .aesCM128HMACSHA1_80, key: bridge.audioKey), direction: direction, offering: true)
        var media = [MediaDescription(kind: "audio", port: bridge.audioPort, proto: proto,
                                      formats: audioOrder.map { String($0.1) }, attributes: audioAttributes)]
        var seen: Set<NegotiatedVideoCodec.Name> = []
        let videoCodecs = video.filter { seen.insert($0).inserted }
        if let port = bridge.videoPort, !videoCodecs.isEmpty {
            var attributes: [SDPAttribute] = []
            var formats: [String] = []
            for name in videoCodecs {
                let codec: NegotiatedVideoCodec
                let map: RTPMap
                switch name {
                case .h264:
                    let profile = H264ProfileLevel(profileIDC: 0x42, profileIOP: 0xE0, levelIDC: bridge.h264MaxLevel)
                    codec = NegotiatedVideoCodec(name: .h264, payloadType: h264PayloadType,
                                                 feedback: SIPVideoCodecs.feedback, profileLevelID: profile.text)
                    map = RTPFormat.h264.rtpMap(payloadType: h264PayloadType)
                case .vp8:
                    codec = NegotiatedVideoCodec(name: .vp8, payloadType: vp8PayloadType,
                                                 feedback: SIPVideoCodecs.feedback, profileLevelID: nil)
                    map = RTPFormat.vp8.rtpMap(payloadType: vp8PayloadType)
                }
                attributes.appendVideoCodec(codec, rtpMap: map)
                formats.append(String(codec.payloadType))
            }
            attributes += SIPDescriptionWriter.streamAttributes(
                packetTime: nil, rtcpMux: true, rtcpPort: port,
                crypto: SDESCrypto(tag: cryptoTag, suite: .aesCM128HMACSHA1_80, key: bridge.videoKey),
                direction: direction, offering: true)
            media.append(MediaDescription(kind: "video", port: port, proto: proto, formats: formats,
                                          attributes: attributes))
        }
        return SIPOffer(sessionDescription: SIPDescriptionWriter.session(bridge: bridge, media: media),
                        bridge: bridge, policy: policy)
    }

    /// Reads the far end's answer to `offer`.
    /// - Throws: ``SIPSDPError`` when the answer does not fit the offer (other media count, a codec, transport or
    ///   crypto tag not offered, rejected audio, plain RTP the policy forbids) or cannot be used.
    public static func parseAnswer(_ answer: SessionDescription, to offer: SIPOffer) throws(SIPSDPError) -> SIPNegotiation {
        let offered = offer.sessionDescription.media
        guard answer.media.count == offered.count else {
            throw SIPSDPError(.mediaCountMismatch, detail: "offered \(offered.count), answered \(answer.media.count)")
        }
        var rejected: [SIPRejectedSection] = []
        let audioSection = answer.media[0]
        guard audioSection.kind == "audio" else {
            throw SIPSDPError(.notOffered, section: 0, detail: "m=\(audioSection.kind) answers m=audio")
        }
        guard audioSection.port != 0 else { throw SIPSDPError(.audioRejected, section: 0) }
        let audioStream = try stream(audioSection, index: 0, offered: offered[0], answer: answer, policy: offer.policy)
        guard let first = audioSection.codecs.first else {
            throw SIPSDPError(.notOffered, section: 0, detail: "no payload type")
        }
        for codec in audioSection.codecs where !SIPAudioCodec.allCases.contains(where: { codec.matches($0.format) }) {
            throw SIPSDPError(.notOffered, section: 0,
                              detail: "payload type \(codec.payloadType) (\(codec.encodingName ?? "no rtpmap"))")
        }
        let audioCodec = SIPAudioCodec.allCases.first { first.matches($0.format) }!
        // Our number for it: what the far end sends with (the loop above made sure we offered it).
        let ourAudio = offered[0].codecs.first { $0.matches(audioCodec.format) }?.payloadType ?? first.payloadType
        let audio = SIPNegotiatedAudio(media: audioStream, codec: audioCodec, payloadType: first.payloadType,
                                       receivePayloadType: ourAudio,
                                       clockRate: audioCodec.rtpClockRate, telephoneEventPayloadType: nil,
                                       packetTime: SIPAnswerer.packetTime)

        var video: SIPNegotiatedVideo?
        if offered.count > 1 {
            let section = answer.media[1]
            guard section.kind == "video" else {
                throw SIPSDPError(.notOffered, section: 1, detail: "m=\(section.kind) answers m=video")
            }
            if section.port == 0 {
                rejected.append(SIPRejectedSection(index: 1, kind: "video", why: "the answer rejects video (port 0)"))
            } else {
                let media = try stream(section, index: 1, offered: offered[1], answer: answer, policy: offer.policy)
                let offeredNames = Set(offered[1].codecs.compactMap { $0.rtpMap?.encodingName.uppercased() })
                let codecs = section.codecs
                if let other = codecs.first(where: { !offeredNames.contains($0.rtpMap?.encodingName.uppercased() ?? "") }) {
                    throw SIPSDPError(.notOffered, section: 1,
                                      detail: "payload type \(other.payloadType) (\(other.encodingName ?? "no rtpmap"))")
                }
                guard let (codec, _) = SIPVideoCodecs.choose(from: codecs, maxLevel: offer.bridge.h264MaxLevel,
                                                             keeping: nil) else {
                    throw SIPSDPError(.notOffered, section: 1,
                                      detail: "H.264 answered without packetization-mode 1 in the baseline family")
                }
                let ourVideo = offered[1].codecs.first { $0.rtpMap?.encodingName.uppercased() == codec.name.rawValue }
                video = SIPNegotiatedVideo(media: media, codec: codec,
                                           receivePayloadType: ourVideo?.payloadType ?? codec.payloadType)
            }
        }
        return SIPNegotiation(audio: audio, video: video, rejected: rejected)
    }

    /// Transport, keys and direction of an answered section.
    private static func stream(_ section: MediaDescription, index: Int, offered: MediaDescription,
                               answer: SessionDescription, policy: SIPMediaPolicy) throws(SIPSDPError) -> SIPMediaStream {
        guard section.proto.uppercased() == offered.proto.uppercased() else {
            throw SIPSDPError(.notOffered, section: index, detail: "transport \(section.proto), offered \(offered.proto)")
        }
        let srtp = try keys(section, index: index, offered: offered, policy: policy)
        let remote = try SIPSectionReader.transport(of: section, index: index, in: answer, rtcpMux: section.hasRTCPMux)
        let theirs = SIPSectionReader.direction(of: section, in: answer, remote: remote)
        let ours = offered.direction ?? .sendrecv
        let direction = MediaDirection(sends: theirs.receives && ours.sends, receives: theirs.sends && ours.receives)
        return SIPMediaStream(index: index, proto: section.proto, remote: remote, srtp: srtp, direction: direction,
                              avpf: SIPSectionReader.isAVPF(proto: section.proto))
    }

    /// The answer's one `a=crypto` line checked against the offer's line with its tag (RFC 4568 §5.1.2).
    private static func keys(_ section: MediaDescription, index: Int, offered: MediaDescription,
                             policy: SIPMediaPolicy) throws(SIPSDPError) -> SIPSRTPKeys? {
        let values = section.attributes.cryptoValues
        guard !values.isEmpty else {
            if SIPSectionReader.isSecure(proto: section.proto) { throw SIPSDPError(.noCrypto, section: index) }
            if policy.allowsPlainRTP { return nil }
            throw SIPSDPError(.plainRTPNotAllowed, section: index)
        }
        let lines = SIPSectionReader.cryptoLines(of: section)
        guard values.count == 1, let theirs = lines.usable.first else {
            throw SIPSDPError(.noUsableCrypto, section: index, cryptoErrors: lines.refused,
                              detail: values.count == 1 ? "" : "\(values.count) a=crypto lines; an answer has one")
        }
        guard let ours = SIPSectionReader.cryptoLines(of: offered).usable.first(where: { $0.tag == theirs.tag }) else {
            throw SIPSDPError(.unknownCryptoTag, section: index, detail: "tag \(theirs.tag)")
        }
        guard ours.suite == theirs.suite else {
            throw SIPSDPError(.cryptoSuiteMismatch, section: index,
                              detail: "tag \(theirs.tag): offered \(ours.suite.rawValue), answered \(theirs.suite.rawValue)")
        }
        return SIPSRTPKeys(suite: theirs.suite, tag: theirs.tag, remoteKey: theirs.key, localKey: ours.key)
    }
}
