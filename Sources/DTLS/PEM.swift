import Foundation

/// The DER bytes inside a PEM block (RFC 7468): `-----BEGIN <label>-----`, base64 lines, `-----END <label>-----`.
enum PEM {
    /// The first block with this label.
    /// - Throws: ``DTLSError/malformedPEM`` if there is none or its base64 is invalid.
    static func firstBlock(labelled label: String, in text: String) throws(DTLSError) -> [UInt8] {
        let begin = "-----BEGIN \(label)-----"
        let end = "-----END \(label)-----"
        guard let start = text.range(of: begin), let stop = text.range(of: end, range: start.upperBound..<text.endIndex)
        else { throw .malformedPEM }
        let body = text[start.upperBound..<stop.lowerBound]
        guard let der = decodeBase64(body), !der.isEmpty else { throw .malformedPEM }
        return der
    }

    /// The labels of the PEM blocks in the text, in order.
    static func labels(in text: String) -> [String] {
        var labels: [String] = []
        var rest = text[...]
        while let start = rest.range(of: "-----BEGIN ") {
            let after = rest[start.upperBound...]
            guard let close = after.range(of: "-----") else { break }
            labels.append(String(after[..<close.lowerBound]))
            rest = after[close.upperBound...]
        }
        return labels
    }

    /// Standard base64 (RFC 4648 §4) with whitespace ignored; nil on any other invalid character or length.
    static func decodeBase64(_ text: Substring) -> [UInt8]? {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count * 3 / 4)
        var accumulator: UInt32 = 0
        var bits = 0
        var padding = 0
        var symbols = 0
        for c in text.utf8 {
            let value: UInt32
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): value = UInt32(c - UInt8(ascii: "A"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): value = UInt32(c - UInt8(ascii: "a")) + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt32(c - UInt8(ascii: "0")) + 52
            case UInt8(ascii: "+"): value = 62
            case UInt8(ascii: "/"): value = 63
            case UInt8(ascii: "="):
                padding += 1
                symbols += 1
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"): continue
            default: return nil
            }
            guard padding == 0 else { return nil }  // data after padding
            symbols += 1
            accumulator = (accumulator << 6) | value
            bits += 6
            if bits >= 8 {
                bits -= 8
                output.append(UInt8(truncatingIfNeeded: accumulator >> UInt32(bits)))
                accumulator &= (1 << UInt32(bits)) - 1
            }
        }
        guard symbols % 4 == 0, padding <= 2 else { return nil }
        return output
    }
}
