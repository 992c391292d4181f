/// The administrative level of a site; a meeting is hosted at one level and cascades down.
public enum SiteLevel: Int, Comparable, Sendable, CaseIterable, Codable, CustomStringConvertible {
    case central = 0
    case province = 1
    case district = 2
    case commune = 3

    public static func < (lhs: SiteLevel, rhs: SiteLevel) -> Bool { lhs.rawValue < rhs.rawValue }

    /// Whether this level outranks `other` (central > province > district > commune).
    public func outranks(_ other: SiteLevel) -> Bool { rawValue < other.rawValue }

    public var description: String {
        switch self {
        case .central: "central"
        case .province: "province"
        case .district: "district"
        case .commune: "commune"
        }
    }

    init?(name: String) {
        guard let level = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = level
    }
}

/// One meeting room of the network.
public struct Site: Hashable, Sendable {
    /// Position in the directory (0-based); stable for one directory.
    public let index: Int
    /// Typeable ASCII id, e.g. `trung-nhi`.
    public let id: String
    /// Official code ("08740" for a commune, "253" for a district, "26" for the province, "TW" for central).
    public let code: String
    public let level: SiteLevel
    /// The unit type in Vietnamese: Xã, Phường, Thị trấn, Huyện, Thành phố, Tỉnh, Trung ương.
    public let type: String
    /// The real name with diacritics, for every display.
    public let name: String
    /// Index of the parent site (nil for the central level).
    public let parentIndex: Int?
    /// The official code as a number, as stored in booking records ("TW" is 0).
    public let numericCode: UInt32
    /// The units of an earlier directory this one takes over (a directory file's `covers` column), for
    /// `vcbridge sites --diff`; empty when the file names none.
    public var covers: [Coverage] = []

    /// One earlier unit a site takes over, wholly or in part.
    public struct Coverage: Hashable, Sendable {
        public let code: String
        public let partial: Bool
    }
}
