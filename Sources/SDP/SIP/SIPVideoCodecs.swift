/// Video codec choice on SIP calls: H.264 packetization mode 1 in the baseline family, or VP8.
///
/// Room systems offer baseline H.264 as `42801f`/`428016` (constraint_set0 only) as often as constrained baseline
/// `42e01f`; both are taken, as profile_idc 0x42 (their encoders use no FMO or ASO, so browsers decode the forwarded
/// stream). Main and High profile payload types are passed over: the bridge forwards, it does not transcode.
enum SIPVideoCodecs {
    /// The feedback the bridge uses on SIP video: nack, nack pli, ccm fir.
    static let feedback: VideoFeedback = [.nack, .pli, .fir]

    static func accepts(_ profile: H264ProfileLevel) -> Bool {
        profile.isConstrainedBaseline || profile.profileIDC == 0x42
    }

    /// The codec to use from `codecs` (an offer's, or an answer's to the bridge's offer): `current`'s codec when
    /// still there, else H.264, else VP8; with the rtpmap to write. H.264 keeps the offer's profile at the lower of
    /// the two levels; feedback is what `codecs` lists among nack, nack pli and ccm fir.
    static func choose(from codecs: [Codec], maxLevel: UInt8,
                       keeping current: NegotiatedVideoCodec?) -> (codec: NegotiatedVideoCodec, rtpMap: RTPMap)? {
        let h264Candidates = H264ProfileLevel.candidates(in: codecs, accepting: accepts)
        let h264 = h264Candidates.first { $0.codec.payloadType == current?.payloadType } ?? h264Candidates.first
        let vp8 = codecs.first { $0.rtpMap != nil && $0.matches(.vp8) }
        let order: [NegotiatedVideoCodec.Name] = (current.map { [$0.name] } ?? []) + [.h264, .vp8]
        for name in order {
            switch name {
            case .h264:
                guard let (codec, profile) = h264, let map = codec.rtpMap else { continue }
                let level = profile.keepingProfile(atMostLevel: maxLevel)
                return (NegotiatedVideoCodec(name: .h264, payloadType: codec.payloadType,
                                             feedback: VideoFeedback(offeredBy: codec).intersection(feedback),
                                             profileLevelID: level.text), map)
            case .vp8:
                guard let codec = vp8, let map = codec.rtpMap else { continue }
                return (NegotiatedVideoCodec(name: .vp8, payloadType: codec.payloadType,
                                             feedback: VideoFeedback(offeredBy: codec).intersection(feedback),
                                             profileLevelID: nil), map)
            }
        }
        return nil
    }
}
