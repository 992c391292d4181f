/// One audio packet an endpoint sent or received, kept for quality and delay benchmarks
/// (`vcbridge endpoint --dump-sent / --dump-heard`, read by `vcbridge-bench`): its sequence number,
/// RTP timestamp, Opus payload and when it left or arrived (monotonic nanoseconds, one clock for
/// every process on the machine).
public struct AudioPacketRecord: Sendable, Equatable {
    public var sequence: UInt16
    public var timestamp: UInt32
    public var payload: [UInt8]
    public var at: Int64

    public init(sequence: UInt16, timestamp: UInt32, payload: [UInt8], at: Int64) {
        self.sequence = sequence
        self.timestamp = timestamp
        self.payload = payload
        self.at = at
    }

    /// `sequence timestamp payload-hex nanoseconds`.
    public var line: String {
        var hex = ""
        hex.reserveCapacity(payload.count * 2)
        let digits = Array("0123456789abcdef")
        for byte in payload {
            hex.append(digits[Int(byte >> 4)])
            hex.append(digits[Int(byte & 15)])
        }
        return "\(sequence) \(timestamp) \(hex) \(at)"
    }

    /// Parses a `line`; nil when it is not one.
    public init?(line: Substring) {
        let fields = line.split(separator: " ")
        guard fields.count == 4, let sequence = UInt16(fields[0]), let timestamp = UInt32(fields[1]),
              let at = Int64(fields[3]), fields[2].utf8.count % 2 == 0
        else { return nil }
        var payload: [UInt8] = []
        payload.reserveCapacity(fields[2].utf8.count / 2)
        var digits = fields[2].utf8.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            guard let h = Self.nibble(high), let l = Self.nibble(low) else { return nil }
            payload.append(h << 4 | l)
        }
        self.init(sequence: sequence, timestamp: timestamp, payload: payload, at: at)
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
