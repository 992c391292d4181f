/// Chooses who is talking: at most `maximumTalkers` participants, with hysteresis so that the
/// choice does not flap between sites of equal loudness and short pauses do not drop a talker.
///
/// Loudness comes from RFC 6464 audio levels when the endpoint sends them (0 loudest ... 127
/// silent, dBov), else from the level the bridge measured on the decoded audio. Allocation-free.
public struct TalkerSelector: Sendable {
    public struct Configuration: Sendable, Equatable {
        public var maximumTalkers = 3
        /// Quieter than this (dBov) is not speech.
        public var speechThresholdDBov: Double = 55
        /// A talker keeps its place through pauses this long.
        public var hangoverTicks = 50
        /// A newcomer must be this much louder than the weakest talker ...
        public var replaceMarginDB: Double = 6
        /// ... for this long, to take its place.
        public var replaceTicks = 15
        /// Speech this long makes a talker when there is a free place.
        public var admitTicks = 3
        public init() {}
    }

    public let configuration: Configuration
    /// Smoothed loudness per participant in dB above silence (127 - dBov), 0 when not speaking.
    private var loudness: [Double]
    private var speakingTicks: [Int]
    private var silentTicks: [Int]
    private var louderTicks: [Int]
    private var present: [Bool]
    public private(set) var isTalker: [Bool]
    public private(set) var talkerCount = 0

    public init(capacity: Int, configuration: Configuration = .init()) {
        self.configuration = configuration
        loudness = [Double](repeating: 0, count: capacity)
        speakingTicks = [Int](repeating: 0, count: capacity)
        silentTicks = [Int](repeating: 0, count: capacity)
        louderTicks = [Int](repeating: 0, count: capacity)
        present = [Bool](repeating: false, count: capacity)
        isTalker = [Bool](repeating: false, count: capacity)
    }

    public var capacity: Int { present.count }

    public func isPresent(_ participant: Int) -> Bool { present[participant] }

    public mutating func setPresent(_ participant: Int, _ isPresent: Bool) {
        present[participant] = isPresent
        if !isPresent {
            if isTalker[participant] { talkerCount -= 1 }
            isTalker[participant] = false
            loudness[participant] = 0
            speakingTicks[participant] = 0
            silentTicks[participant] = 0
            louderTicks[participant] = 0
        }
    }

    /// Feeds one 20 ms frame's level per participant: dBov (0 loudest, 127 silence), or nil when
    /// nothing was heard from it this tick. Then updates the talkers.
    public mutating func update(levels: (Int) -> Double?) {
        let c = configuration
        for p in 0..<capacity where present[p] {
            let heard = levels(p).map { 127 - min(127, max(0, $0)) } ?? 0
            let speaking = heard >= 127 - c.speechThresholdDBov
            // Fast attack, slower release.
            let alpha = heard > loudness[p] ? 0.5 : 0.1
            loudness[p] += alpha * (heard - loudness[p])
            if speaking {
                speakingTicks[p] += 1
                silentTicks[p] = 0
            } else {
                speakingTicks[p] = 0
                silentTicks[p] += 1
            }
        }
        // Talkers silent past the hangover leave.
        for p in 0..<capacity where isTalker[p] && silentTicks[p] > c.hangoverTicks {
            isTalker[p] = false
            talkerCount -= 1
        }
        // Free places go to the loudest speakers that have spoken long enough.
        while talkerCount < c.maximumTalkers {
            var best = -1
            for p in 0..<capacity where present[p] && !isTalker[p] && speakingTicks[p] >= c.admitTicks {
                if best < 0 || loudness[p] > loudness[best] { best = p }
            }
            guard best >= 0 else { break }
            isTalker[best] = true
            talkerCount += 1
        }
        // A clearly louder speaker, for long enough, replaces the weakest talker.
        guard talkerCount == c.maximumTalkers else { return }
        var weakest = -1
        for p in 0..<capacity where isTalker[p] {
            if weakest < 0 || loudness[p] < loudness[weakest] { weakest = p }
        }
        guard weakest >= 0 else { return }
        var challenger = -1
        for p in 0..<capacity where present[p] && !isTalker[p] {
            if loudness[p] > loudness[weakest] + c.replaceMarginDB && speakingTicks[p] > 0 {
                louderTicks[p] += 1
                if challenger < 0 || loudness[p] > loudness[challenger] { challenger = p }
            } else {
                louderTicks[p] = 0
            }
        }
        if challenger >= 0 && louderTicks[challenger] >= c.replaceTicks {
            isTalker[weakest] = false
            isTalker[challenger] = true
            louderTicks[challenger] = 0
        }
    }
}
