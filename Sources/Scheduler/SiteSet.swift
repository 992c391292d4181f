/// A set of directory site indices (0..<256) as a 256-bit mask: conflict checks are bit operations.
public struct SiteSet: Hashable, Sendable, Sequence {
    private var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    public init() {}

    public init<S: Sequence>(_ indices: S) where S.Element == Int {
        for i in indices { insert(i) }
    }

    public static func == (lhs: SiteSet, rhs: SiteSet) -> Bool { lhs.words == rhs.words }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(words.0); hasher.combine(words.1); hasher.combine(words.2); hasher.combine(words.3)
    }

    private func word(_ w: Int) -> UInt64 {
        switch w {
        case 0: words.0
        case 1: words.1
        case 2: words.2
        default: words.3
        }
    }

    private mutating func setWord(_ w: Int, _ value: UInt64) {
        switch w {
        case 0: words.0 = value
        case 1: words.1 = value
        case 2: words.2 = value
        default: words.3 = value
        }
    }

    public func contains(_ index: Int) -> Bool {
        precondition(index >= 0 && index < 256, "site index out of range")
        return word(index >> 6) & (1 << UInt64(index & 63)) != 0
    }

    public mutating func insert(_ index: Int) {
        precondition(index >= 0 && index < 256, "site index out of range")
        setWord(index >> 6, word(index >> 6) | (1 << UInt64(index & 63)))
    }

    public mutating func remove(_ index: Int) {
        precondition(index >= 0 && index < 256, "site index out of range")
        setWord(index >> 6, word(index >> 6) & ~(1 << UInt64(index & 63)))
    }

    public var count: Int {
        words.0.nonzeroBitCount + words.1.nonzeroBitCount + words.2.nonzeroBitCount + words.3.nonzeroBitCount
    }

    public var isEmpty: Bool { words.0 | words.1 | words.2 | words.3 == 0 }

    public func intersection(_ other: SiteSet) -> SiteSet {
        var r = SiteSet()
        r.words = (words.0 & other.words.0, words.1 & other.words.1, words.2 & other.words.2, words.3 & other.words.3)
        return r
    }

    public func union(_ other: SiteSet) -> SiteSet {
        var r = SiteSet()
        r.words = (words.0 | other.words.0, words.1 | other.words.1, words.2 | other.words.2, words.3 | other.words.3)
        return r
    }

    public func subtracting(_ other: SiteSet) -> SiteSet {
        var r = SiteSet()
        r.words = (words.0 & ~other.words.0, words.1 & ~other.words.1, words.2 & ~other.words.2, words.3 & ~other.words.3)
        return r
    }

    public func isDisjoint(with other: SiteSet) -> Bool { intersection(other).isEmpty }

    /// Indices in ascending order.
    public func makeIterator() -> AnyIterator<Int> {
        var w = 0
        var current = word(0)
        return AnyIterator {
            while current == 0 {
                w += 1
                if w >= 4 { return nil }
                current = self.word(w)
            }
            let bit = current.trailingZeroBitCount
            current &= current - 1
            return w * 64 + bit
        }
    }
}
