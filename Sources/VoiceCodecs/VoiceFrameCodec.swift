/// The RTP audio formats room systems send besides Opus (RFC 3551 static payload types).
/// For all three a 20 ms frame is 160 payload bytes and advances the RTP timestamp by 160, and one
/// payload byte stands for 6 samples at the bridge's 48 kHz.
public enum VoicePayloadFormat: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// ITU-T G.722 at 64 kbit/s: 50-7000 Hz audio sampled at 16 kHz.
    case g722
    /// ITU-T G.711 µ-law, 8 kHz.
    case pcmu
    /// ITU-T G.711 A-law, 8 kHz.
    case pcma

    /// Samples in a 20 ms frame at 48 kHz, what the bridge mixes.
    public static let frameSamples48k = 960

    /// The RFC 3551 static payload type: 9, 0, 8.
    public var staticPayloadType: UInt8 {
        switch self {
        case .g722: return 9
        case .pcmu: return 0
        case .pcma: return 8
        }
    }

    /// The SDP encoding name (`a=rtpmap:<pt> <name>/8000`).
    public var encodingName: String {
        switch self {
        case .g722: return "G722"
        case .pcmu: return "PCMU"
        case .pcma: return "PCMA"
        }
    }

    /// The RTP clock rate: 8000 for all three (G.722's clock runs at 8000 though it samples at 16 kHz).
    public var rtpClockRate: Int { 8_000 }

    /// The rate the codec itself samples at.
    public var codecSampleRate: Int { self == .g722 ? G722.sampleRate : 8_000 }

    /// Payload bytes of a 20 ms frame.
    public var payloadBytesPerFrame: Int { 160 }

    /// RTP timestamp advance of a 20 ms frame.
    public var frameTimestampIncrement: UInt32 { 160 }

    /// 48 kHz samples per payload byte.
    static let samplesPerByte = 6

    public var description: String { encodingName }
}

/// One stream's encoder for the bridge: 48 kHz mono frames in, payloads of `format` out, converting
/// the rate on the way (stateful: feed one stream's frames in order). One thread at a time;
/// allocation-free after `init`.
public final class VoiceFrameEncoder {
    public let format: VoicePayloadFormat
    private let converter: SampleRateConverter
    private let g722: G722Encoder?
    /// One 20 ms frame at the codec's rate.
    private let scratch: UnsafeMutableBufferPointer<Int16>

    public init(format: VoicePayloadFormat) {
        self.format = format
        // The conversions used here always exist.
        converter = try! SampleRateConverter(from: 48_000, to: format.codecSampleRate)
        g722 = format == .g722 ? G722Encoder() : nil
        scratch = .allocate(capacity: format.codecSampleRate / 50)
        scratch.initialize(repeating: 0)
    }

    deinit { scratch.deallocate() }

    /// Encodes 48 kHz samples (960 for a 20 ms frame) into `payload`.
    /// - Returns: the payload bytes written, `pcm.count / 6` (160 for 20 ms).
    /// - Throws: ``VoiceCodecError/inputLength(count:multipleOf:)`` unless `pcm.count` is a multiple
    ///   of 6; ``VoiceCodecError/outputTooSmall(needed:capacity:)`` when `payload` is short.
    public func encode48k(
        _ pcm: UnsafeBufferPointer<Int16>, into payload: UnsafeMutableRawBufferPointer
    ) throws(VoiceCodecError) -> Int {
        let per = VoicePayloadFormat.samplesPerByte
        guard pcm.count % per == 0 else { throw .inputLength(count: pcm.count, multipleOf: per) }
        let bytes = pcm.count / per
        guard payload.count >= bytes else { throw .outputTooSmall(needed: bytes, capacity: payload.count) }
        guard let out = payload.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return 0 }
        var done = 0
        while done < bytes {
            let chunk = min(bytes - done, format.payloadBytesPerFrame)
            let input = UnsafeBufferPointer(rebasing: pcm[(done * per)..<((done + chunk) * per)])
            let samples = try converter.convert(input, into: scratch)
            let codecPCM = UnsafeBufferPointer(rebasing: scratch[0..<samples])
            switch format {
            case .g722:
                _ = try g722!.encode(codecPCM, into: UnsafeMutableBufferPointer(start: out + done, count: chunk))
            case .pcmu:
                for i in 0..<samples { out[done + i] = G711.muLaw(codecPCM[i]) }
            case .pcma:
                for i in 0..<samples { out[done + i] = G711.aLaw(codecPCM[i]) }
            }
            done += chunk
        }
        return bytes
    }
}

/// One stream's decoder for the bridge: payloads of `format` in, 48 kHz mono out, with concealment of
/// lost frames. Stateful: feed one stream's payloads in order. One thread at a time; allocation-free
/// after `init`.
public final class VoiceFrameDecoder {
    public let format: VoicePayloadFormat
    private let converter: SampleRateConverter
    private let g722: G722Decoder?
    private let scratch: UnsafeMutableBufferPointer<Int16>
    private let concealment = LossConcealment()

    public init(format: VoicePayloadFormat) {
        self.format = format
        converter = try! SampleRateConverter(from: format.codecSampleRate, to: 48_000)
        g722 = format == .g722 ? G722Decoder() : nil
        scratch = .allocate(capacity: format.codecSampleRate / 50)
        scratch.initialize(repeating: 0)
    }

    deinit { scratch.deallocate() }

    /// Decodes a payload (any length; 160 bytes for 20 ms) into 48 kHz samples. Every byte value is
    /// valid G.722 or G.711, so only the lengths can be wrong. After concealed frames the first 5 ms
    /// are cross-faded from the concealment into the decoded audio.
    /// - Returns: the samples written, `6 * payload.count` (960 for 20 ms).
    /// - Throws: ``VoiceCodecError/emptyPayload``; ``VoiceCodecError/outputTooSmall(needed:capacity:)``.
    public func decode48k(
        _ payload: UnsafeRawBufferPointer, into pcm: UnsafeMutableBufferPointer<Int16>
    ) throws(VoiceCodecError) -> Int {
        guard let base = payload.baseAddress, !payload.isEmpty else { throw .emptyPayload }
        let per = VoicePayloadFormat.samplesPerByte
        let samples48k = payload.count * per
        guard pcm.count >= samples48k else { throw .outputTooSmall(needed: samples48k, capacity: pcm.count) }
        let bytes = base.assumingMemoryBound(to: UInt8.self)
        var done = 0
        while done < payload.count {
            let chunk = min(payload.count - done, format.payloadBytesPerFrame)
            let input = UnsafeBufferPointer(start: bytes + done, count: chunk)
            let samples: Int
            switch format {
            case .g722:
                samples = try g722!.decode(input, into: scratch)
            case .pcmu:
                for i in 0..<chunk { scratch[i] = G711.sample(fromMuLaw: input[i]) }
                samples = chunk
            case .pcma:
                for i in 0..<chunk { scratch[i] = G711.sample(fromALaw: input[i]) }
                samples = chunk
            }
            let out = UnsafeMutableBufferPointer(rebasing: pcm[(done * per)..<((done + chunk) * per)])
            _ = try converter.convert(UnsafeBufferPointer(rebasing: scratch[0..<samples]), into: out)
            done += chunk
        }
        concealment.received(UnsafeMutableBufferPointer(rebasing: pcm[0..<samples48k]))
        return samples48k
    }

    /// Fills `pcm` (960 samples for a lost 20 ms frame) with concealment: the last 20 ms heard, played
    /// alternately backwards and forwards so every join is continuous, fading linearly to silence
    /// over 40 ms; silence after that.
    /// - Returns: `pcm.count`.
    public func conceal48k(into pcm: UnsafeMutableBufferPointer<Int16>) -> Int {
        concealment.conceal(into: pcm)
        return pcm.count
    }
}
