internal import COpus

/// A libopus status code (`OPUS_BAD_ARG`, ...) as a named Swift error.
public struct OpusError: Error, RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }

    /// `OPUS_BAD_ARG`: one or more invalid or out-of-range arguments.
    public static let badArgument = OpusError(rawValue: OPUS_BAD_ARG)
    /// `OPUS_BUFFER_TOO_SMALL`: not enough bytes or samples allocated in the buffer.
    public static let bufferTooSmall = OpusError(rawValue: OPUS_BUFFER_TOO_SMALL)
    /// `OPUS_INTERNAL_ERROR`.
    public static let internalError = OpusError(rawValue: OPUS_INTERNAL_ERROR)
    /// `OPUS_INVALID_PACKET`: the compressed data is corrupted.
    public static let invalidPacket = OpusError(rawValue: OPUS_INVALID_PACKET)
    /// `OPUS_UNIMPLEMENTED`: invalid or unsupported request number.
    public static let unimplemented = OpusError(rawValue: OPUS_UNIMPLEMENTED)
    /// `OPUS_INVALID_STATE`: the encoder or decoder structure is invalid or already freed.
    public static let invalidState = OpusError(rawValue: OPUS_INVALID_STATE)
    /// `OPUS_ALLOC_FAIL`: memory allocation failed.
    public static let allocationFailure = OpusError(rawValue: OPUS_ALLOC_FAIL)

    public var description: String {
        String(cString: opus_strerror(rawValue)) + " (Opus status \(rawValue))"
    }

    /// Throws for a negative libopus return value, else returns it.
    @inline(__always)
    static func check(_ status: Int32) throws(OpusError) -> Int {
        guard status >= 0 else { throw OpusError(rawValue: status) }
        return Int(status)
    }
}
