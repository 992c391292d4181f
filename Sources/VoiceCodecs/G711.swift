/// ITU-T G.711 logarithmic companding of 16-bit samples to 8-bit codes and back, computed (no tables).
///
/// Encoding follows the recommendation's decision values as ITU-T G.191's reference software applies
/// them to 16-bit two's complement input: a negative sample's magnitude is its one's complement
/// (`~x`), so the law is symmetric; the low bits below the law's resolution (13 bits for A-law, 14 for
/// µ-law) are dropped. Decoding gives the midpoint of the code's interval, scaled to 16 bits (the same
/// values as ffmpeg's and the Sun reference decoders). Codes are as sent on the wire: A-law with even
/// bits inverted (XOR 0x55), µ-law with all bits inverted.
public enum G711 {
    /// The A-law code of `sample` (PCMA).
    @inline(__always)
    public static func aLaw(_ sample: Int16) -> UInt8 {
        let x = Int32(sample)
        // A 12-bit magnitude: segment 0 and 1 share a step, then the step doubles per segment.
        var magnitude = (x < 0 ? ~x : x) >> 4
        var code: Int32
        if magnitude < 16 {
            code = magnitude
        } else {
            var segment: Int32 = 1
            while magnitude >= 32 {
                magnitude >>= 1
                segment += 1
            }
            code = segment << 4 | (magnitude - 16)
        }
        if x >= 0 { code |= 0x80 }
        return UInt8(truncatingIfNeeded: code ^ 0x55)
    }

    /// The 16-bit sample an A-law code stands for.
    @inline(__always)
    public static func sample(fromALaw code: UInt8) -> Int16 {
        let c = Int32(code ^ 0x55)
        let segment = (c >> 4) & 7
        let step = c & 15
        let magnitude = segment == 0 ? step << 4 | 8 : ((step << 4) + 264) << (segment - 1)
        return Int16(c & 0x80 != 0 ? magnitude : -magnitude)
    }

    /// The µ-law code of `sample` (PCMU).
    @inline(__always)
    public static func muLaw(_ sample: Int16) -> UInt8 {
        let x = Int32(sample)
        // A 14-bit magnitude plus the law's bias of 33, limited to 13 bits.
        let biased = min(((x < 0 ? ~x : x) >> 2) + 33, 0x1FFF)
        // The segment is the position of the highest set bit above bit 5 (1 ... 8).
        var segment: Int32 = 1
        var rest = biased >> 6
        while rest != 0 {
            segment += 1
            rest >>= 1
        }
        let step = (biased >> segment) & 15
        var code = (segment - 1) << 4 | step
        if x < 0 { code |= 0x80 }
        return UInt8(truncatingIfNeeded: ~code)
    }

    /// The 16-bit sample a µ-law code stands for.
    @inline(__always)
    public static func sample(fromMuLaw code: UInt8) -> Int16 {
        let c = Int32(~code)
        let segment = (c >> 4) & 7
        let magnitude = (((c & 15) << 3) + 132) << segment - 132
        return Int16(c & 0x80 != 0 ? -magnitude : magnitude)
    }
}
