import VideoFormats

/// Limits and timings of video forwarding (from `Config/vcbridge.json`, section `video`).
public struct VideoPolicy: Sendable, Equatable {
    /// Who may send video.
    public enum Senders: String, Sendable, Equatable {
        /// Every site of the meeting (needed for voice-switched speaker video).
        case all
        /// Only the host and the site given the floor.
        case presenters
    }

    public var senders: Senders = .all
    /// Per site: the most video a site may send, in bits and packets per second (each with one
    /// second of burst allowance, so a key frame gets through).
    public var maximumBitsPerSecond = 2_500_000
    public var maximumPacketsPerSecond = 400
    /// Largest video RTP packet accepted (after SRTP is removed).
    public var maximumPacketBytes = 1400
    /// At most one keyframe request forwarded to a source per interval, whatever asked for it.
    public var keyframeRequestIntervalNanoseconds: Int64 = 1_000_000_000
    /// How long a stream waits for the new source's keyframe before it retries (it keeps showing
    /// the old source meanwhile, never a broken picture).
    public var switchTimeoutNanoseconds: Int64 = 2_000_000_000
    /// How long the packets sent to a receiver are kept to answer its NACKs.
    public var repairWindowNanoseconds: Int64 = 500_000_000
    /// Per receiver: the most packets sent again in answer to its NACKs, per second (one second of
    /// burst allowance); NACKs beyond it are counted and not answered.
    public var maximumRepairsPerSecond = 200
    /// How long a new loudest talker must stay loudest before the speaker stream follows.
    public var speakerHoldNanoseconds: Int64 = 1_000_000_000

    public init() {}

    /// The bytes a receiver's repair cache holds: its two streams at the most a source may send over
    /// the repair window, each packet with its SRTP tag (16 bytes at most), plus one largest packet.
    /// (A burst above the rate, which the one-second allowance lets through, evicts the oldest first:
    /// those are the least likely to be asked for.)
    var sentCacheBytes: Int {
        let window = Int64(maximumBitsPerSecond / 8) * repairWindowNanoseconds / 1_000_000_000
        let tags = Int64(maximumPacketsPerSecond) * repairWindowNanoseconds / 1_000_000_000 * 16
        return 2 * (Int(window + tags) + maximumPacketBytes + 64)
    }

    /// Index slots of a receiver's repair cache per stream: the window at the maximum packet rate,
    /// as a power of two.
    var cacheSlots: Int {
        let needed = max(16, Int((Int64(maximumPacketsPerSecond) * repairWindowNanoseconds + 999_999_999) / 1_000_000_000))
        var slots = 16
        while slots < needed { slots <<= 1 }
        return slots
    }
}
