/// IP address literals as SDP writes them (`IP4` dotted quad, `IP6` RFC 4291 text form).
enum IPAddressText {
    /// `IP4`, `IP6`, or nil when `text` is neither.
    static func family(of text: String) -> String? {
        if isIPv4(text[...]) { return "IP4" }
        if isIPv6(text) { return "IP6" }
        return nil
    }

    static func isIPv4(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { $0.utf8.count <= 3 && SDPSyntax.decimal($0, max: 255) != nil }
    }

    static func isIPv6(_ text: String) -> Bool {
        guard text.utf8.count <= 45, text.contains(":") else { return false }
        var halves: [Substring] = [text[...]]
        if let gap = text.firstRange(of: "::") {
            halves = [text[..<gap.lowerBound], text[gap.upperBound...]]
            if halves[1].contains("::") { return false }
        }
        var count = 0
        for (halfIndex, half) in halves.enumerated() where !half.isEmpty {
            let pieces = half.split(separator: ":", omittingEmptySubsequences: false)
            for (index, piece) in pieces.enumerated() {
                if halfIndex == halves.count - 1 && index == pieces.count - 1 && piece.contains(".") {
                    guard isIPv4(piece) else { return false }
                    count += 2
                    continue
                }
                guard (1...4).contains(piece.utf8.count), piece.utf8.allSatisfy(SDPSyntax.isHexByte) else {
                    return false
                }
                count += 1
            }
        }
        return halves.count == 2 ? count <= 7 : count == 8
    }
}
