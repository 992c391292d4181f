#if canImport(Glibc)
import Glibc
#endif
internal import COpus
internal import CVCBShims

/// Opus at the bridge's one format: 48 kHz mono, 20 ms frames (960 samples).
public enum Opus {
    public static let sampleRate = 48_000
    public static let channels = 1
    public static let frameSamples = 960
    /// RTP timestamp units per frame (RFC 7587: the RTP clock is always 48 kHz).
    public static let frameTimestampIncrement: UInt32 = 960
    /// Largest packet the encoder is allowed to write (RFC 6716 §3.4 recommends 1275 max per frame).
    public static let maxPacketBytes = 1275

    /// The libopus version string, e.g. "libopus 1.3.1".
    public static var libraryVersion: String { String(cString: opus_get_version_string()) }

    /// A payload of 2 bytes or less carries no audio: a DTX (discontinuous transmission) frame.
    public static func isDTX(payloadLength: Int) -> Bool { payloadLength <= 2 }

    /// Encoder settings.
    public struct EncoderConfiguration: Hashable, Sendable {
        public var bitrate: Int32
        /// 0 (fastest) ... 10 (best).
        public var complexity: Int32
        /// In-band forward error correction (LBRR): lets the receiver rebuild a lost frame from the next one.
        public var inbandFEC: Bool
        /// Expected packet loss in percent (0-100); FEC is emitted only when this is above 0.
        public var expectedPacketLossPercent: Int32
        /// Discontinuous transmission: near-empty packets during silence.
        public var dtx: Bool

        public init(
            bitrate: Int32 = 32_000, complexity: Int32 = 5, inbandFEC: Bool = true,
            expectedPacketLossPercent: Int32 = 10, dtx: Bool = false
        ) {
            self.bitrate = bitrate
            self.complexity = complexity
            self.inbandFEC = inbandFEC
            self.expectedPacketLossPercent = expectedPacketLossPercent
            self.dtx = dtx
        }
    }

    /// Owns one libopus encoder (VOIP application, voice signal). Not thread-safe: one thread only.
    public final class Encoder {
        private let handle: OpaquePointer
        public private(set) var configuration: EncoderConfiguration

        public init(configuration: EncoderConfiguration = .init()) throws(OpusError) {
            var status: Int32 = 0
            guard let handle = opus_encoder_create(Int32(Opus.sampleRate), Int32(Opus.channels),
                                                   OPUS_APPLICATION_VOIP, &status), status == OPUS_OK
            else { throw OpusError(rawValue: status == OPUS_OK ? OPUS_ALLOC_FAIL : status) }
            self.handle = handle
            self.configuration = configuration
            _ = try OpusError.check(vcb_opus_encoder_set_signal_voice(handle))
            try apply(configuration)
        }

        deinit { opus_encoder_destroy(handle) }

        /// Changes the settings of a running encoder (for example the expected loss, from RTCP reports).
        public func apply(_ configuration: EncoderConfiguration) throws(OpusError) {
            _ = try OpusError.check(vcb_opus_encoder_set_bitrate(handle, configuration.bitrate))
            _ = try OpusError.check(vcb_opus_encoder_set_complexity(handle, configuration.complexity))
            _ = try OpusError.check(vcb_opus_encoder_set_inband_fec(handle, configuration.inbandFEC ? 1 : 0))
            _ = try OpusError.check(vcb_opus_encoder_set_packet_loss_perc(handle, configuration.expectedPacketLossPercent))
            _ = try OpusError.check(vcb_opus_encoder_set_dtx(handle, configuration.dtx ? 1 : 0))
            self.configuration = configuration
        }

        /// Makes this encoder's state a copy of `other`'s, so that a receiver's decoder that was
        /// following `other` can follow this one without a discontinuity. libopus keeps an
        /// encoder in one position-independent block (`opus_encoder_get_size`), so a byte copy
        /// is a faithful clone.
        public func copyState(from other: Encoder) {
            memcpy(UnsafeMutableRawPointer(handle), UnsafeRawPointer(other.handle), Int(opus_encoder_get_size(Int32(Opus.channels))))
            configuration = other.configuration
        }

        /// The bitrate the encoder reports using.
        public func currentBitrate() throws(OpusError) -> Int32 {
            var value: Int32 = 0
            _ = try OpusError.check(vcb_opus_encoder_get_bitrate(handle, &value))
            return value
        }

        /// Whether the last encoded frame was a DTX frame.
        public func inDTX() throws(OpusError) -> Bool {
            var value: Int32 = 0
            _ = try OpusError.check(vcb_opus_encoder_get_in_dtx(handle, &value))
            return value != 0
        }

        /// Encodes one 20 ms frame. Allocation-free.
        /// - Parameters:
        ///   - pcm: exactly ``Opus/frameSamples`` samples.
        ///   - packet: where the Opus packet is written (``Opus/maxPacketBytes`` is always enough).
        /// - Returns: the packet length in bytes (1-2 bytes for a DTX frame).
        public func encode(
            _ pcm: UnsafeBufferPointer<Int16>, into packet: UnsafeMutableRawBufferPointer
        ) throws(OpusError) -> Int {
            guard pcm.count == Opus.frameSamples, let input = pcm.baseAddress, let out = packet.baseAddress,
                  !packet.isEmpty
            else {
                throw .badArgument
            }
            let limit = Int32(min(packet.count, Opus.maxPacketBytes))
            return try OpusError.check(opus_encode(
                handle, input, Int32(Opus.frameSamples), out.assumingMemoryBound(to: UInt8.self), limit))
        }

        /// Convenience encode into a new array (allocates; not for the media path).
        public func encode(_ pcm: [Int16]) throws(OpusError) -> [UInt8] {
            var packet = [UInt8](repeating: 0, count: Opus.maxPacketBytes)
            let result: Result<Int, OpusError> = pcm.withUnsafeBufferPointer { input in
                packet.withUnsafeMutableBytes { output in
                    do throws(OpusError) { return .success(try encode(input, into: output)) }
                    catch { return .failure(error) }
                }
            }
            return Array(packet.prefix(try result.get()))
        }
    }

    /// Owns one libopus decoder. Not thread-safe: one thread only.
    public final class Decoder {
        private let handle: OpaquePointer

        public init() throws(OpusError) {
            var status: Int32 = 0
            guard let handle = opus_decoder_create(Int32(Opus.sampleRate), Int32(Opus.channels), &status),
                  status == OPUS_OK
            else { throw OpusError(rawValue: status == OPUS_OK ? OPUS_ALLOC_FAIL : status) }
            self.handle = handle
        }

        deinit { opus_decoder_destroy(handle) }

        private func run(
            _ packet: UnsafeRawBufferPointer?, _ pcm: UnsafeMutableBufferPointer<Int16>, frameSize: Int, fec: Bool
        ) throws(OpusError) -> Int {
            guard frameSize > 0, pcm.count >= frameSize, let out = pcm.baseAddress else { throw .bufferTooSmall }
            let data = packet?.baseAddress?.assumingMemoryBound(to: UInt8.self)
            let length = Int32(packet?.count ?? 0)
            return try OpusError.check(opus_decode(handle, data, length, out, Int32(frameSize), fec ? 1 : 0))
        }

        /// Decodes a packet into `pcm` (room for at least 120 ms, 5760 samples, covers any packet;
        /// 960 covers the 20 ms frames vcbridge sends). Allocation-free.
        /// - Returns: the number of samples decoded.
        public func decode(
            _ packet: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Int16>
        ) throws(OpusError) -> Int {
            guard !packet.isEmpty else { throw .invalidPacket }
            return try run(packet, pcm, frameSize: pcm.count, fec: false)
        }

        /// Rebuilds a missing frame of `samples` samples from the in-band FEC data of the packet that
        /// follows it. When that packet carries no FEC, libopus conceals instead.
        public func decodeFEC(
            from nextPacket: UnsafeRawBufferPointer, samples: Int = Opus.frameSamples,
            into pcm: UnsafeMutableBufferPointer<Int16>
        ) throws(OpusError) -> Int {
            guard !nextPacket.isEmpty else { throw .invalidPacket }
            return try run(nextPacket, pcm, frameSize: samples, fec: true)
        }

        /// Packet-loss concealment for a missing frame of `samples` samples (default 20 ms).
        public func conceal(
            samples: Int = Opus.frameSamples, into pcm: UnsafeMutableBufferPointer<Int16>
        ) throws(OpusError) -> Int {
            try run(nil, pcm, frameSize: samples, fec: false)
        }

        /// Forgets all decoding history (for a stream that resumes after the decoder skipped it).
        public func reset() throws(OpusError) {
            _ = try OpusError.check(vcb_opus_decoder_reset(handle))
        }

        /// The duration in samples of the last packet decoded or concealed.
        public func lastPacketDuration() throws(OpusError) -> Int {
            var value: Int32 = 0
            _ = try OpusError.check(vcb_opus_decoder_get_last_packet_duration(handle, &value))
            return Int(value)
        }
    }
}
