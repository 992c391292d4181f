/// What was wrong with a call into a voice codec: a buffer of the wrong size, or a conversion that
/// does not exist. Nothing here traps on outside bytes: every payload length is checked and refused
/// with one of these.
public struct VoiceCodecError: Error, Hashable, Sendable, CustomStringConvertible {
    private enum Kind: Hashable, Sendable {
        case emptyPayload
        case inputLength(count: Int, multipleOf: Int)
        case outputTooSmall(needed: Int, capacity: Int)
        case unsupportedConversion(from: Int, to: Int)
    }

    private let kind: Kind

    /// A payload of zero bytes: nothing to decode (a lost packet is concealed instead).
    public static var emptyPayload: Self { .init(kind: .emptyPayload) }

    /// The input's sample count must be a whole multiple of `multipleOf` (6 at 48 kHz: one payload byte).
    public static func inputLength(count: Int, multipleOf: Int) -> Self {
        .init(kind: .inputLength(count: count, multipleOf: multipleOf))
    }

    /// The caller's output buffer holds `capacity` elements where `needed` are written.
    public static func outputTooSmall(needed: Int, capacity: Int) -> Self {
        .init(kind: .outputTooSmall(needed: needed, capacity: capacity))
    }

    /// Only 48 kHz <-> 16 kHz and 48 kHz <-> 8 kHz exist.
    public static func unsupportedConversion(from: Int, to: Int) -> Self {
        .init(kind: .unsupportedConversion(from: from, to: to))
    }

    public var description: String {
        switch kind {
        case .emptyPayload:
            return "empty payload: nothing to decode"
        case let .inputLength(count, multiple):
            return "input of \(count) samples is not a whole multiple of \(multiple)"
        case let .outputTooSmall(needed, capacity):
            return "output buffer holds \(capacity) where \(needed) are written"
        case let .unsupportedConversion(from, to):
            return "no sample rate conversion from \(from) Hz to \(to) Hz (48000 <-> 16000 or 8000 only)"
        }
    }
}
