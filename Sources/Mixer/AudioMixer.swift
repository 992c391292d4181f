import OpusCodec
import VoiceCodecs

/// Mixes the talkers' decoded audio and encodes what each participant hears.
///
/// Each talker hears the other talkers (its own mix, its own encoder); every other participant
/// hears all talkers through one shared mix and one shared encode per tick, so a tick costs
/// talkers + 1 encodes. A participant who becomes a talker gets a private encoder cloned from the
/// shared one, so its receiver's decoder continues without a discontinuity. One who stops being a
/// talker keeps its encoder, now fed the shared mix, until the mix falls quiet (at most 3 s), and
/// only then hears the shared encode: the switch happens in silence, where it cannot click. A
/// limiter keeps each mix from clipping. Preallocated; no allocation per tick; one thread only.
///
/// Room systems on G.722, PCMU or PCMA (``setCodec(_:_:)``): the mixer keeps one shared encode per codec in use
/// (the shared mix encoded once for all Opus listeners, once for all G.722 listeners, once for all PCMA, once for
/// all PCMU), and a talker on such a codec gets its own mix encoded with its own `VoiceFrameEncoder`, handed over
/// as an Opus talker's. The encoders of a codec are made when it first appears in the meeting; a meeting with
/// Opus only does exactly the work it did before.
public final class AudioMixer {
    public static let frameSamples = Opus.frameSamples

    public let capacity: Int
    public private(set) var selector: TalkerSelector
    /// Opus encodes made by the last ``mix()``.
    public private(set) var encodesLastTick = 0

    private let shared: Opus.Encoder
    private var sharedLimiter = Limiter()
    private let sharedPayload: UnsafeMutableRawBufferPointer
    private var sharedLength = 0

    private let privateEncoders: [Opus.Encoder]
    private let privateComplexity: Int32
    private var privateLimiters: [Limiter]
    private let privatePayloads: [UnsafeMutableRawBufferPointer]
    private var privateLengths: [Int]
    /// Which participant holds each private encoder (-1: free).
    private var privateOwner: [Int]
    /// Private encoder of each participant (-1: hears the shared mix).
    private var encoderOf: [Int]

    /// Each participant's codec: nil for Opus, else a room system codec.
    private var formatOf: [VoicePayloadFormat?]
    /// The shared encode of each room system codec in use, by ``VoicePayloadFormat/mixerIndex``.
    private var sharedVoice: [SharedVoiceEncode?] = [nil, nil, nil]
    /// Talkers' private encoders in room system codecs (as many per codec in use as the Opus pool).
    private var privateVoice: [PrivateVoiceEncode] = []
    /// Private room system encoder of each participant (-1: hears its codec's shared encode).
    private var voiceEncoderOf: [Int]
    private var sharedOpusEncodes = 0

    private let inputs: UnsafeMutableBufferPointer<Int16>
    private var hasInput: [Bool]
    private let sum: UnsafeMutableBufferPointer<Int32>
    private let scratch: UnsafeMutableBufferPointer<Int32>
    private let pcm: UnsafeMutableBufferPointer<Int16>
    /// This tick's shared mix, kept for encoders of former talkers that are handing over.
    private let sharedPCM: UnsafeMutableBufferPointer<Int16>
    /// For each private encoder: 0 when it serves a talker, else ticks since its talker stopped.
    private var drainTicks: [Int]
    static let maximumDrainTicks = 150

    /// - Parameter encoder: the mixes' Opus encoding. 64 kb/s: a talker's 32 kb/s speech decoded, mixed and encoded
    ///   again at 48 kb/s lost 0.12 PESQ-WB on a clean link, at 64 kb/s 0.05 (`vcbridge-bench jitter-replay --reencode`).
    public init(capacity: Int, talkers: TalkerSelector.Configuration = .init(),
                encoder: Opus.EncoderConfiguration = .init(bitrate: 64_000, complexity: 5, inbandFEC: true,
                                                          expectedPacketLossPercent: 0, dtx: false)) throws(OpusError) {
        self.capacity = capacity
        selector = TalkerSelector(capacity: capacity, configuration: talkers)
        // Everyone but the talkers hears the shared encode, once per tick: it gets the best quality.
        var sharedConfiguration = encoder
        sharedConfiguration.complexity = 9
        shared = try Opus.Encoder(configuration: sharedConfiguration)
        // Each talker's own mix reaches one site; it is encoded more cheaply.
        var privateConfiguration = encoder
        privateConfiguration.complexity = min(encoder.complexity, 3)
        privateComplexity = privateConfiguration.complexity
        // Room for the talkers and as many former talkers handing over to the shared mix.
        let pool = 2 * talkers.maximumTalkers
        var encoders: [Opus.Encoder] = []
        for _ in 0..<pool { encoders.append(try Opus.Encoder(configuration: privateConfiguration)) }
        privateEncoders = encoders
        privateLimiters = [Limiter](repeating: Limiter(), count: pool)
        sharedPayload = .allocate(byteCount: Opus.maxPacketBytes, alignment: 16)
        privatePayloads = (0..<pool).map { _ in .allocate(byteCount: Opus.maxPacketBytes, alignment: 16) }
        privateLengths = [Int](repeating: 0, count: pool)
        privateOwner = [Int](repeating: -1, count: pool)
        drainTicks = [Int](repeating: 0, count: pool)
        encoderOf = [Int](repeating: -1, count: capacity)
        formatOf = [VoicePayloadFormat?](repeating: nil, count: capacity)
        voiceEncoderOf = [Int](repeating: -1, count: capacity)
        privateVoice.reserveCapacity(3 * pool)
        inputs = .allocate(capacity: capacity * Self.frameSamples)
        inputs.initialize(repeating: 0)
        hasInput = [Bool](repeating: false, count: capacity)
        sum = .allocate(capacity: Self.frameSamples)
        sum.initialize(repeating: 0)
        scratch = .allocate(capacity: Self.frameSamples)
        scratch.initialize(repeating: 0)
        pcm = .allocate(capacity: Self.frameSamples)
        pcm.initialize(repeating: 0)
        sharedPCM = .allocate(capacity: Self.frameSamples)
        sharedPCM.initialize(repeating: 0)
    }

    deinit {
        sharedPayload.deallocate()
        for p in privatePayloads { p.deallocate() }
        inputs.deallocate()
        sum.deallocate()
        scratch.deallocate()
        pcm.deallocate()
        sharedPCM.deallocate()
    }

    public func setPresent(_ participant: Int, _ present: Bool) {
        selector.setPresent(participant, present)
        if !present {
            releaseEncoder(participant)
            formatOf[participant] = nil
        }
    }

    /// The codec participant `p` sends and hears: nil for Opus (the default), else G.722, PCMU or PCMA. The first
    /// participant on a codec makes that codec's encoders (the shared one and a talker pool); not per tick.
    public func setCodec(_ participant: Int, _ format: VoicePayloadFormat?) {
        releaseEncoder(participant)
        formatOf[participant] = format
        guard let format, sharedVoice[format.mixerIndex] == nil else { return }
        sharedVoice[format.mixerIndex] = SharedVoiceEncode(format: format)
        for _ in 0..<privateEncoders.count { privateVoice.append(PrivateVoiceEncode(format: format)) }
    }

    /// The codec participant `p` hears (nil: Opus).
    public func codec(of participant: Int) -> VoicePayloadFormat? { formatOf[participant] }

    /// How many times the shared mix was encoded in `format` (nil: Opus) since the mixer was made.
    public func sharedEncodes(of format: VoicePayloadFormat?) -> Int {
        guard let format else { return sharedOpusEncodes }
        return sharedVoice[format.mixerIndex]?.encodes ?? 0
    }

    public func isTalker(_ participant: Int) -> Bool { selector.isTalker[participant] }

    /// Updates the talkers from this tick's levels (dBov, nil when nothing was heard).
    public func selectTalkers(levels: (Int) -> Double?) {
        selector.update(levels: levels)
        for p in 0..<capacity {
            let talker = selector.isTalker[p]
            if let format = formatOf[p] {
                selectVoiceEncoder(p, format: format, talker: talker)
                continue
            }
            if talker && encoderOf[p] >= 0 {
                drainTicks[encoderOf[p]] = 0  // back before the hand-over finished: keep its encoder
            } else if talker {
                guard let free = privateOwner.firstIndex(of: -1) else { continue }
                privateOwner[free] = p
                encoderOf[p] = free
                privateEncoders[free].copyState(from: shared)
                // The clone carries the shared encoder's settings; a private mix is encoded more cheaply.
                var cheaper = privateEncoders[free].configuration
                cheaper.complexity = privateComplexity
                try? privateEncoders[free].apply(cheaper)
                privateLimiters[free] = sharedLimiter
            } else if !talker && encoderOf[p] >= 0 && drainTicks[encoderOf[p]] == 0 {
                drainTicks[encoderOf[p]] = 1  // start handing over to the shared mix
            }
        }
    }

    /// As for an Opus participant: a new talker takes a free private encoder of its codec, a former one hands over.
    private func selectVoiceEncoder(_ p: Int, format: VoicePayloadFormat, talker: Bool) {
        let e = voiceEncoderOf[p]
        if talker && e >= 0 {
            privateVoice[e].drainTicks = 0
        } else if talker {
            guard let free = privateVoice.firstIndex(where: { $0.owner == -1 && $0.encoder.format == format }) else { return }
            privateVoice[free].owner = p
            privateVoice[free].drainTicks = 0
            privateVoice[free].limiter = sharedLimiter
            voiceEncoderOf[p] = free
        } else if e >= 0 && privateVoice[e].drainTicks == 0 {
            privateVoice[e].drainTicks = 1
        }
    }

    private func releaseEncoder(_ participant: Int) {
        let v = voiceEncoderOf[participant]
        if v >= 0 {
            privateVoice[v].owner = -1
            privateVoice[v].drainTicks = 0
            voiceEncoderOf[participant] = -1
        }
        let e = encoderOf[participant]
        guard e >= 0 else { return }
        privateOwner[e] = -1
        drainTicks[e] = 0
        encoderOf[participant] = -1
    }

    /// Whether a former talker is still on its own encoder, handing over to the shared mix.
    public func isHandingOver(_ participant: Int) -> Bool {
        if voiceEncoderOf[participant] >= 0 { return privateVoice[voiceEncoderOf[participant]].drainTicks != 0 }
        return encoderOf[participant] >= 0 && drainTicks[encoderOf[participant]] != 0
    }

    /// Where the caller decodes a talker's frame for this tick (``frameSamples`` samples).
    public func input(for participant: Int) -> UnsafeMutableBufferPointer<Int16> {
        hasInput[participant] = true
        return UnsafeMutableBufferPointer(rebasing: inputs[(participant * Self.frameSamples)..<((participant + 1) * Self.frameSamples)])
    }

    /// Mixes this tick's talker inputs and encodes the shared mix and each talker's own mix.
    /// - Parameter sharedListeners: whether anyone on Opus hears the shared mix (skip its Opus encode if not);
    ///   the room system codecs' shared encodes are made when one of their participants hears them.
    public func mix(sharedListeners: Bool = true) throws(OpusError) {
        encodesLastTick = 0
        for e in 0..<drainTicks.count where drainTicks[e] < 0 { releaseEncoder(privateOwner[e]) }
        let voice = !privateVoice.isEmpty
        var voiceShared = false, voiceHandingOver = false
        if voice {
            for e in 0..<privateVoice.count where privateVoice[e].drainTicks < 0 { releaseEncoder(privateVoice[e].owner) }
            for case let encode? in sharedVoice { encode.listened = false }
            for p in 0..<capacity where voiceEncoderOf[p] < 0 && selector.isPresent(p) {
                guard let format = formatOf[p] else { continue }
                sharedVoice[format.mixerIndex]!.listened = true
                voiceShared = true
            }
            voiceHandingOver = privateVoice.contains { $0.drainTicks > 0 }
        }
        for i in 0..<Self.frameSamples { sum[i] = 0 }
        for p in 0..<capacity where hasInput[p] && selector.isTalker[p] {
            let base = p * Self.frameSamples
            for i in 0..<Self.frameSamples { sum[i] += Int32(inputs[base + i]) }
        }
        let handingOver = drainTicks.contains { $0 > 0 } || voiceHandingOver  // (released ones were freed above)
        if sharedListeners || handingOver || voiceShared {
            sharedLimiter.process(UnsafeBufferPointer(sum), into: sharedPCM)
        }
        if sharedListeners {
            sharedLength = try shared.encode(UnsafeBufferPointer(sharedPCM), into: sharedPayload)
            encodesLastTick += 1
            sharedOpusEncodes += 1
        }
        if voiceShared {
            for case let encode? in sharedVoice where encode.listened {
                // 960 samples into a 160-byte payload: cannot fail.
                encode.length = (try? encode.encoder.encode48k(UnsafeBufferPointer(sharedPCM), into: encode.payload)) ?? 0
                encode.encodes += 1
                encodesLastTick += 1
            }
        }
        var sharedQuiet = true
        if handingOver {
            var energy = 0.0
            for i in 0..<Self.frameSamples { energy += Double(sharedPCM[i]) * Double(sharedPCM[i]) }
            sharedQuiet = energy / Double(Self.frameSamples) < 100 * 100  // below about -50 dBFS
        }
        for e in 0..<privateEncoders.count {
            let p = privateOwner[e]
            guard p >= 0 else { continue }
            if drainTicks[e] > 0 {
                // A former talker: its encoder now carries the shared mix until the hand-over.
                privateLengths[e] = try privateEncoders[e].encode(UnsafeBufferPointer(sharedPCM), into: privatePayloads[e])
                encodesLastTick += 1
                drainTicks[e] += 1
                // Hand over in silence (or after 3 s at most); this tick's payload is still this encoder's.
                if sharedQuiet || drainTicks[e] > Self.maximumDrainTicks { drainTicks[e] = -1 }
                continue
            }
            mixMinus(p, limiter: &privateLimiters[e])
            privateLengths[e] = try privateEncoders[e].encode(UnsafeBufferPointer(pcm), into: privatePayloads[e])
            encodesLastTick += 1
        }
        if voice { encodePrivateVoice(sharedQuiet: sharedQuiet) }
        for p in 0..<capacity { hasInput[p] = false }
    }

    /// Writes into `pcm` what participant `p` hears of this tick's talkers: all of them but itself, limited.
    @inline(__always)
    private func mixMinus(_ p: Int, limiter: inout Limiter) {
        let base = p * Self.frameSamples
        let own = hasInput[p]
        for i in 0..<Self.frameSamples { scratch[i] = sum[i] - (own ? Int32(inputs[base + i]) : 0) }
        limiter.process(UnsafeBufferPointer(scratch), into: pcm)
    }

    /// The room system talkers' own mixes, and former talkers' encoders fed the shared mix until it falls quiet.
    private func encodePrivateVoice(sharedQuiet: Bool) {
        for e in 0..<privateVoice.count {
            let slot = privateVoice[e]
            let p = slot.owner
            guard p >= 0 else { continue }
            let input: UnsafeMutableBufferPointer<Int16>
            if slot.drainTicks > 0 {
                input = sharedPCM
                slot.drainTicks += 1
            } else {
                mixMinus(p, limiter: &slot.limiter)
                input = pcm
            }
            slot.length = (try? slot.encoder.encode48k(UnsafeBufferPointer(input), into: slot.payload)) ?? 0
            encodesLastTick += 1
            if slot.drainTicks > 0 && (sharedQuiet || slot.drainTicks > Self.maximumDrainTicks) { slot.drainTicks = -1 }
        }
    }

    /// The encoded frame participant `p` hears this tick (valid until the next ``mix()``).
    public func payload(for participant: Int) -> UnsafeRawBufferPointer {
        if let format = formatOf[participant] {
            let v = voiceEncoderOf[participant]
            if v >= 0 { return UnsafeRawBufferPointer(rebasing: privateVoice[v].payload[0..<privateVoice[v].length]) }
            guard let shared = sharedVoice[format.mixerIndex] else { return UnsafeRawBufferPointer(start: nil, count: 0) }
            return UnsafeRawBufferPointer(rebasing: shared.payload[0..<shared.length])
        }
        let e = encoderOf[participant]
        if e >= 0 { return UnsafeRawBufferPointer(rebasing: privatePayloads[e][0..<privateLengths[e]]) }
        return UnsafeRawBufferPointer(rebasing: sharedPayload[0..<sharedLength])
    }

    /// Tunes the encoders' in-band FEC to the loss their listeners report (RTCP receiver reports):
    /// the shared encoder to the worst of the participants who hear it, each private encoder to its
    /// talker's. No loss reported means no FEC overhead, so the bits go to the audio itself.
    /// - Parameter loss: the fraction (0...1) a participant reports losing, nil if not known.
    public func adaptToReportedLoss(_ loss: (Int) -> Double?) {
        func percent(_ fraction: Double) -> Int32 { Int32(min(25, (fraction * 100).rounded(.up))) }
        var shared: Int32 = 0
        for p in 0..<capacity where selector.isPresent(p) && encoderOf[p] < 0 && formatOf[p] == nil {
            if let l = loss(p) { shared = max(shared, percent(l)) }
        }
        retune(self.shared, to: shared)
        for e in 0..<privateEncoders.count where privateOwner[e] >= 0 {
            retune(privateEncoders[e], to: loss(privateOwner[e]).map(percent) ?? 0)
        }
    }

    private func retune(_ encoder: Opus.Encoder, to percent: Int32) {
        guard encoder.configuration.expectedPacketLossPercent != percent else { return }
        var c = encoder.configuration
        c.expectedPacketLossPercent = percent
        try? encoder.apply(c)
    }

    /// Whether participant `p` hears the shared mix.
    public func hearsSharedMix(_ participant: Int) -> Bool { encoderOf[participant] < 0 && voiceEncoderOf[participant] < 0 }
}
