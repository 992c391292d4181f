/// A browser's offer answered by the bridge: the SDP to return and what it agreed.
public struct WebRTCAnswer: Hashable, Sendable {
    /// The answer as a description (``text`` writes it).
    public var sessionDescription: SessionDescription
    /// What the answer agreed, for the media thread.
    public var negotiation: WebRTCNegotiation

    /// The answer as SDP text with CRLF line ends.
    public var text: String { sessionDescription.text }
}

/// Checks a browser's offer against what the bridge supports and builds the answer (JSEP, RFC 9429 §5.3, from an
/// ICE-lite DTLS server).
///
/// Accepted: one audio section with Opus 48000/2 and up to two video sections with VP8 and/or H.264
/// (packetization-mode 1, constrained baseline), all in the first BUNDLE group, over `UDP/TLS/RTP/SAVPF` with
/// `a=rtcp-mux`. The first video section carries the site's camera up and the presenter down, the second the
/// speaker down. Other sections (a further audio or video, data channels, sections outside the BUNDLE group or with
/// port 0) are answered with port 0. Transport comes from the offerer-tagged (first accepted) section of the group.
public enum WebRTCAnswerer {
    /// The answer's one host candidate priority: type preference 126, local preference 65535, component 1.
    static let candidatePriority: UInt32 = 2_130_706_431

    /// Answers `offer` for the bridge described by `bridge`.
    /// - Throws: ``WebRTCOfferError`` naming what the offer lacks.
    public static func answer(to offer: SessionDescription,
                              bridge: WebRTCBridgeParameters) throws(WebRTCOfferError) -> WebRTCAnswer {
        if offer.isICELite { throw WebRTCOfferError(.peerIsICELite) }
        guard let bundle = offer.bundleGroup else { throw WebRTCOfferError(.notBundled) }

        // Sort the sections into audio, camera, speaker and rejected.
        var plan: [Role?] = Array(repeating: nil, count: offer.media.count)
        var rejected: [RejectedSection] = []
        var audio: AudioChoice?
        var videos: [VideoChoice] = []
        var firstAudioProblem: String?
        for (index, section) in offer.media.enumerated() {
            if let problem = unusable(section, bundle: bundle) {
                if section.kind == "audio" && firstAudioProblem == nil { firstAudioProblem = problem }
                rejected.append(RejectedSection(index: index, mid: section.mid, why: problem))
                continue
            }
            let mid = section.mid!  // unusable() refuses a section without mid
            switch section.kind {
            case "audio" where audio == nil:
                audio = try chooseAudio(section, mid: mid, index: index, offer: offer)
                plan[index] = .audio
            case "video" where videos.count < 2:
                videos.append(try chooseVideo(section, mid: mid, index: index, offer: offer,
                                              role: videos.isEmpty ? .camera : .speaker))
                plan[index] = videos.count == 1 ? .camera : .speaker
            default:
                rejected.append(RejectedSection(index: index, mid: mid,
                                                why: "the bridge takes one audio and two video sections"))
            }
        }
        guard let audio else {
            throw WebRTCOfferError(.noAudio, detail: firstAudioProblem ?? "the offer has no m=audio section")
        }

        // Transport: the offerer-tagged section (first accepted mid of the group) decides; the others must agree.
        let acceptedMids = bundle.mids.filter { mid in
            offer.media.indices.contains { plan[$0] != nil && offer.media[$0].mid == mid }
        }
        var transport: Transport?
        for mid in acceptedMids {
            let section = offer.media(withMid: mid)!
            let own = try self.transport(of: section, mid: mid, offer: offer)
            if let transport, transport.ice != own.ice || transport.fingerprint != own.fingerprint {
                throw WebRTCOfferError(.inconsistentTransport, mid: mid,
                                       detail: "differs from mid \(acceptedMids[0])")
            }
            if transport == nil { transport = own }
        }
        let remote = transport!  // the audio section is accepted, so acceptedMids is not empty

        let negotiation = WebRTCNegotiation(
            remoteICE: remote.ice, remoteFingerprint: remote.fingerprint, remoteSetup: remote.setup,
            remoteICEOptions: remote.options, bundleMids: acceptedMids, audio: audio.negotiated,
            camera: videos.first?.negotiated, speaker: videos.dropFirst().first?.negotiated, rejected: rejected)
        let description = AnswerWriter(offer: offer, bridge: bridge, plan: plan, audio: audio, videos: videos,
                                       bundleMids: acceptedMids).description
        return WebRTCAnswer(sessionDescription: description, negotiation: negotiation)
    }

    enum Role { case audio, camera, speaker }

    struct AudioChoice {
        var negotiated: NegotiatedAudio
        var rtpMap: RTPMap
    }

    struct VideoChoice {
        var negotiated: NegotiatedVideo
        var rtpMaps: [RTPMap]
    }

    private struct Transport {
        var ice: ICECredentials
        var fingerprint: Fingerprint
        var setup: SetupRole
        var options: [String]
    }

    /// Why the bridge cannot take `section` at all, or nil.
    private static func unusable(_ section: MediaDescription, bundle: MediaGroup) -> String? {
        guard section.kind == "audio" || section.kind == "video" else {
            return "m=\(section.kind) is not taken by the bridge"
        }
        guard section.port != 0 || section.isBundleOnly else { return "port 0 in the offer (disabled)" }
        guard section.proto.uppercased() == "UDP/TLS/RTP/SAVPF" || section.proto.uppercased() == "UDP/TLS/RTP/SAVP"
        else {
            return "protocol \(section.proto), not UDP/TLS/RTP/SAVPF"
        }
        guard let mid = section.mid else { return "no a=mid" }
        guard bundle.mids.contains(mid) else { return "mid \(mid) is not in the BUNDLE group" }
        return nil
    }

    private static func transport(of section: MediaDescription, mid: String,
                                  offer: SessionDescription) throws(WebRTCOfferError) -> Transport {
        guard section.hasRTCPMux else { throw WebRTCOfferError(.noRTCPMux, mid: mid) }
        guard let ice = offer.iceCredentials(for: section) else { throw WebRTCOfferError(.noICECredentials, mid: mid) }
        let fingerprints = offer.fingerprints(for: section)
        guard !fingerprints.isEmpty else { throw WebRTCOfferError(.noFingerprint, mid: mid) }
        guard let fingerprint = fingerprints.first(where: { $0.hashFunction == "sha-256" }) else {
            throw WebRTCOfferError(.unsupportedFingerprintHash, mid: mid,
                                   detail: "offered " + fingerprints.map(\.hashFunction).joined(separator: ", "))
        }
        // RFC 4145 §4: an offer without a=setup means active.
        let setup = offer.setupRole(for: section) ?? .active
        guard setup == .actpass || setup == .active else {
            throw WebRTCOfferError(.unsupportedSetupRole, mid: mid, detail: "offered \(setup.rawValue)")
        }
        return Transport(ice: ice, fingerprint: fingerprint, setup: setup, options: offer.iceOptions(for: section))
    }

    /// The bridge's direction for a section whose offer says `offered`: it sends what the site receives and
    /// receives what the site sends (RFC 3264 §6.1), except that nothing comes up on the speaker section.
    private static func answerDirection(_ offered: MediaDirection, receives: Bool) -> MediaDirection {
        MediaDirection(sends: offered.receives, receives: receives && offered.sends)
    }

    private static func chooseAudio(_ section: MediaDescription, mid: String, index: Int,
                                    offer: SessionDescription) throws(WebRTCOfferError) -> AudioChoice {
        guard let opus = section.codecs.first(where: { $0.rtpMap != nil && $0.matches(.opus) }),
              let map = opus.rtpMap else {
            let offered = section.codecs.compactMap(\.encodingName).joined(separator: ", ")
            throw WebRTCOfferError(.noOpus, mid: mid, detail: "offered \(offered.isEmpty ? "nothing" : offered)")
        }
        let minPTime = opus.parameters?.parameter("minptime").flatMap { Int($0) }
            .flatMap { (1...120).contains($0) ? $0 : nil }
        let level = section.extensionMaps.first { ext in
            ext.uri == ExtensionMap.audioLevelURI && (1...14).contains(ext.id)
                && (ext.direction == nil || ext.direction!.sends)
        }
        let ssrcs = section.primarySSRCs
        let negotiated = NegotiatedAudio(
            mid: mid, index: index, direction: answerDirection(offer.direction(for: section), receives: true),
            payloadType: opus.payloadType, minPTime: minPTime, audioLevelExtensionID: level.map { UInt8($0.id) },
            reducedSizeRTCP: section.hasReducedSizeRTCP, remoteSSRCs: ssrcs,
            remoteCNAME: ssrcs.first.flatMap { section.sourceAttribute("cname", of: $0) })
        return AudioChoice(negotiated: negotiated, rtpMap: map)
    }

    private static func chooseVideo(_ section: MediaDescription, mid: String, index: Int, offer: SessionDescription,
                                    role: Role) throws(WebRTCOfferError) -> VideoChoice {
        let codecs = section.codecs
        var chosen: [NegotiatedVideoCodec] = []
        var maps: [RTPMap] = []
        let vp8Codec = codecs.first { $0.rtpMap != nil && $0.matches(.vp8) }
        if let vp8 = vp8Codec {
            chosen.append(NegotiatedVideoCodec(name: .vp8, payloadType: vp8.payloadType,
                                               feedback: VideoFeedback(offeredBy: vp8), profileLevelID: nil))
            maps.append(vp8.rtpMap!)
        }
        let h264Candidates = H264ProfileLevel.candidates(in: codecs) { $0.isConstrainedBaseline }
        let preferred = h264Candidates.first { $0.profile.profileIDC == 0x42 && $0.profile.levelIDC == 0x1F }
            ?? h264Candidates.first
        if let (h264, profile) = preferred {
            let asymmetry = h264.parameters?.parameter("level-asymmetry-allowed") == "1"
            chosen.append(NegotiatedVideoCodec(
                name: .h264, payloadType: h264.payloadType, feedback: VideoFeedback(offeredBy: h264),
                profileLevelID: H264ProfileLevel.answer(for: profile, levelAsymmetryAllowed: asymmetry),
                levelAsymmetryAllowed: asymmetry))
            maps.append(h264.rtpMap!)
        }
        guard !chosen.isEmpty else {
            let offered = codecs.compactMap(\.encodingName).joined(separator: ", ")
            throw WebRTCOfferError(.noVideoCodec, mid: mid, detail: "offered \(offered.isEmpty ? "nothing" : offered)")
        }
        let ssrcs = section.primarySSRCs
        let negotiated = NegotiatedVideo(
            mid: mid, index: index,
            direction: answerDirection(offer.direction(for: section), receives: role == .camera),
            codecs: chosen, reducedSizeRTCP: section.hasReducedSizeRTCP, remoteSSRCs: ssrcs,
            remoteCNAME: ssrcs.first.flatMap { section.sourceAttribute("cname", of: $0) })
        return VideoChoice(negotiated: negotiated, rtpMaps: maps)
    }
}
