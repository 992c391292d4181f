/// Bounds on what ``SessionDescription/init(parsing:limits:)`` reads, checked before any work grows with them.
///
/// The defaults are far above what a browser or room system sends (a Chromium offer with three m-lines and
/// every codec is about 6 KiB and 150 lines) and small enough that a hostile description costs little.
public struct SDPLimits: Hashable, Sendable {
    /// Total size in bytes.
    public var maxBytes: Int
    /// Lines, counting the last one even without its line end.
    public var maxLines: Int
    /// Bytes in one line, without its line end.
    public var maxLineLength: Int
    /// `m=` lines.
    public var maxMediaSections: Int
    /// `a=` lines in the session part or in one media section.
    public var maxAttributesPerSection: Int

    public init(maxBytes: Int = 65_536, maxLines: Int = 4_096, maxLineLength: Int = 4_096,
                maxMediaSections: Int = 32, maxAttributesPerSection: Int = 1_024) {
        self.maxBytes = maxBytes
        self.maxLines = maxLines
        self.maxLineLength = maxLineLength
        self.maxMediaSections = maxMediaSections
        self.maxAttributesPerSection = maxAttributesPerSection
    }

    /// 64 KiB, 4,096 lines of at most 4,096 bytes, 32 media sections, 1,024 attributes per section.
    public static var `default`: SDPLimits { SDPLimits() }
}
