/// The five SSRCs of one site's session, assigned by the bridge at the join: two the site sends
/// with, three the bridge sends it with. All distinct, and the site's own distinct from every SSRC
/// another session sends with (the media port tells sessions apart by SSRC). The bridge's three are
/// never one the site sends with: an SRTP key must not protect two streams under one SSRC, or an
/// (SSRC, index) pair, the nonce, could repeat.
public struct SessionSSRCs: Sendable, Equatable {
    /// What the site sends: its audio and its camera.
    public let siteAudio: UInt32
    public let siteVideo: UInt32
    /// What the bridge sends the site: its mix, the presenter and the speaker streams.
    public let bridgeAudio: UInt32
    public let presenter: UInt32
    public let speaker: UInt32

    public init(siteAudio: UInt32, siteVideo: UInt32, bridgeAudio: UInt32, presenter: UInt32, speaker: UInt32) {
        self.siteAudio = siteAudio
        self.siteVideo = siteVideo
        self.bridgeAudio = bridgeAudio
        self.presenter = presenter
        self.speaker = speaker
    }

    public var all: [UInt32] { [siteAudio, siteVideo, bridgeAudio, presenter, speaker] }

    /// Draws five distinct non-zero SSRCs, none of them in `inUse`.
    /// - Parameter random: the source of candidates (injected in tests); drawn again on a clash.
    public static func draw(avoiding inUse: Set<UInt32>,
                            random: () -> UInt32 = { UInt32.random(in: 1...UInt32.max) }) -> SessionSSRCs {
        var chosen: [UInt32] = []
        while chosen.count < 5 {
            let candidate = random()
            if candidate != 0 && !inUse.contains(candidate) && !chosen.contains(candidate) { chosen.append(candidate) }
        }
        return SessionSSRCs(siteAudio: chosen[0], siteVideo: chosen[1], bridgeAudio: chosen[2], presenter: chosen[3],
                            speaker: chosen[4])
    }
}
