import VoiceCodecs

/// The shared mix encoded once a tick in a room system codec (G.722, PCMU, PCMA), for every participant on that
/// codec who is not a talker. Made when the codec first appears in the meeting.
final class SharedVoiceEncode {
    let encoder: VoiceFrameEncoder
    let payload: UnsafeMutableRawBufferPointer
    var length = 0
    /// Encodes since the mixer was made.
    var encodes = 0
    /// Whether a participant hears this encode this tick (set by the mixer each tick).
    var listened = false

    init(format: VoicePayloadFormat) {
        encoder = VoiceFrameEncoder(format: format)
        payload = .allocate(byteCount: format.payloadBytesPerFrame, alignment: 16)
        payload.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { payload.deallocate() }
}

/// A talker's own mix (the mix minus itself) in its room system codec, as the Opus talkers' private encoders:
/// it keeps serving a former talker, fed the shared mix, until the mix falls quiet.
final class PrivateVoiceEncode {
    let encoder: VoiceFrameEncoder
    let payload: UnsafeMutableRawBufferPointer
    var length = 0
    var limiter = Limiter()
    /// The participant it serves (-1: free).
    var owner = -1
    /// 0 while it serves a talker, else ticks since its talker stopped (-1: hand over now).
    var drainTicks = 0

    init(format: VoicePayloadFormat) {
        encoder = VoiceFrameEncoder(format: format)
        payload = .allocate(byteCount: format.payloadBytesPerFrame, alignment: 16)
        payload.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { payload.deallocate() }
}

extension VoicePayloadFormat {
    /// A fixed index (0...2) for per-codec tables.
    var mixerIndex: Int {
        switch self {
        case .g722: 0
        case .pcmu: 1
        case .pcma: 2
        }
    }
}
