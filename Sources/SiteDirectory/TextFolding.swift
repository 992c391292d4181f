import Foundation

/// Folding Vietnamese text for search and ids: lower case, diacritics removed, đ → d,
/// anything that is not a letter or digit becomes a single space.
public enum TextFolding {
    public static func fold(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for scalar in text.decomposedStringWithCanonicalMapping.unicodeScalars {
            if isCombiningMark(scalar) { continue }
            var s = scalar
            if s == "đ" || s == "Đ" { s = "d" }
            let lowered = s.properties.lowercaseMapping.unicodeScalars
            guard let first = lowered.first else { continue }
            if first.properties.isAlphabetic || ("0"..."9").contains(first) {
                if pendingSpace && !out.isEmpty { out.append(" ") }
                pendingSpace = false
                out.append(contentsOf: lowered)
            } else {
                pendingSpace = true
            }
        }
        return String(out)
    }

    /// The folded text with words joined by "-": a typeable id.
    public static func slug(_ text: String) -> String {
        fold(text).split(separator: " ").joined(separator: "-")
    }

    private static func isCombiningMark(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark: true
        default: false
        }
    }
}
