/// What a real client's Opus encoder is told about loss, as browsers do: the loss its receiver reports (RTCP report
/// blocks about its stream), smoothed, becomes the encoder's expected loss, so in-band FEC costs nothing on a clean
/// link (libopus spends no bits on it at 0 %) and protects a lossy one. Pure; the caller applies the result.
public struct EncoderLossFollower: Sendable {
    /// The expected loss told to the encoder, percent.
    public private(set) var applied: Int32 = 0
    /// The smoothed reported loss, percent.
    public private(set) var smoothed = 0.0
    /// The most the encoder is told (libopus's FEC gains little above this, and costs bitrate).
    public static let maximumPercent: Int32 = 30
    /// Weight of each new report (reports come about once a second).
    static let weight = 0.5

    public init() {}

    /// Takes a report's fraction lost (RTCP's 8-bit fraction, /256). Returns the expected loss to apply when it moved
    /// by at least one percentage point, else nil.
    public mutating func reported(fractionLost: UInt8) -> Int32? {
        smoothed += Self.weight * (Double(fractionLost) / 256 * 100 - smoothed)
        let target = min(Self.maximumPercent, Int32(smoothed.rounded()))
        guard target != applied else { return nil }
        applied = target
        return target
    }
}
