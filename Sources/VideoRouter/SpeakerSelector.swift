/// Picks the meeting's speaker for video from the audio path's talkers, with hysteresis: a new
/// talker becomes the speaker only after being the loudest for `hold`, so the picture does not
/// flap between two people talking over each other.
struct SpeakerSelector {
    private(set) var speaker: Int?
    /// The speaker before the current one (what the current speaker sees).
    private(set) var previous: Int?
    private var candidate: Int?
    private var candidateSince: Int64 = 0
    let hold: Int64

    init(hold: Int64) { self.hold = hold }

    /// - Parameter loudest: the loudest current talker this tick, if anyone talks.
    mutating func update(loudest: Int?, now: Int64) {
        guard let loudest, loudest != speaker else {
            candidate = nil
            return
        }
        if speaker == nil {
            speaker = loudest
            return
        }
        if candidate != loudest {
            candidate = loudest
            candidateSince = now
            return
        }
        guard now - candidateSince >= hold else { return }
        previous = speaker
        speaker = loudest
        candidate = nil
    }

    /// Forgets a site that left.
    mutating func remove(_ site: Int) {
        if speaker == site { speaker = previous; previous = nil }
        if previous == site { previous = nil }
        if candidate == site { candidate = nil }
    }
}
