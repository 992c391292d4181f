import AudioSignal
import OpusCodec
import VoiceCodecs
import Testing
@testable import Mixer

@Suite("Talker selection")
struct TalkerSelectionTests {
    @Test func onlyTheThreeLoudestOfSixTalk() {
        var selector = TalkerSelector(capacity: 8)
        for p in 0..<6 { selector.setPresent(p, true) }
        let levels: [Double] = [35, 10, 30, 15, 25, 20]  // dBov: lower is louder
        for _ in 0..<100 { selector.update { levels[$0] } }
        #expect(selector.talkerCount == 3)
        #expect((0..<6).filter { selector.isTalker[$0] } == [1, 3, 5])
    }

    @Test func equallyLoudSpeakersDoNotFlap() {
        var selector = TalkerSelector(capacity: 4)
        for p in 0..<4 { selector.setPresent(p, true) }
        var state: UInt64 = 42
        var switches = 0
        var previous = selector.isTalker
        for _ in 0..<3000 {
            state = state &* 6364136223846793005 &+ 1
            let wobble = Double(state >> 60) / 4  // 0 ... 3.75 dB
            selector.update { p in [10, 12, 20 + wobble, 23.5 - wobble][p] }
            if selector.isTalker != previous { switches += 1 }
            previous = selector.isTalker
        }
        #expect(selector.talkerCount == 3)
        #expect(switches <= 1, "the selection changed \(switches) times")
    }

    @Test func aClearlyLouderNewcomerReplacesTheWeakestAfterAWhile() {
        var selector = TalkerSelector(capacity: 4)
        for p in 0..<4 { selector.setPresent(p, true) }
        for _ in 0..<50 { selector.update { p in [10, 12, 30, nil][p] } }
        #expect(selector.isTalker == [true, true, true, false])
        var ticks = 0
        while !selector.isTalker[3] && ticks < 100 {
            selector.update { p in [10, 12, 30, 5][p] }
            ticks += 1
        }
        #expect(selector.isTalker == [true, true, false, true])
        #expect(ticks >= 15 && ticks <= 20)
    }

    @Test func shortPausesKeepATalkerLongSilenceReleasesIt() {
        var selector = TalkerSelector(capacity: 2)
        selector.setPresent(0, true)
        for _ in 0..<10 { selector.update { _ in 10 } }
        #expect(selector.isTalker[0])
        for _ in 0..<40 { selector.update { _ in nil } }
        #expect(selector.isTalker[0])
        for _ in 0..<20 { selector.update { _ in 127 } }
        #expect(!selector.isTalker[0])
    }
}

@Suite("Audio mixer")
struct AudioMixerTests {
    static let tones: [Double] = [440, 660, 880]

    @Test func talkersHearTheOthersNonTalkersHearAllWithOneSharedEncode() throws {
        let mixer = try AudioMixer(capacity: 6)
        for p in 0..<5 { mixer.setPresent(p, true) }
        var decoders = try (0..<5).map { _ in try Opus.Decoder() }
        var heard = [[Int16]](repeating: [], count: 5)
        for tick in 0..<60 {
            mixer.selectTalkers { p in p < 3 ? 12 : 120 }
            for p in 0..<3 where mixer.isTalker(p) {
                let tone = Tone.samples(frequency: Self.tones[p], amplitude: 0.25, start: tick * 960, count: 960)
                let input = mixer.input(for: p)
                for i in 0..<960 { input[i] = tone[i] }
            }
            try mixer.mix()
            if tick > 5 {
                #expect(mixer.encodesLastTick == 4, "three talkers plus one shared encode")
                // Every non-talker gets the very same bytes.
                #expect(Array(mixer.payload(for: 3)) == Array(mixer.payload(for: 4)))
                #expect(Array(mixer.payload(for: 0)) != Array(mixer.payload(for: 3)))
            }
            for p in 0..<5 {
                var pcm = [Int16](repeating: 0, count: 960)
                let n = try pcm.withUnsafeMutableBufferPointer { out in try decoders[p].decode(mixer.payload(for: p), into: out) }
                heard[p] += pcm[0..<n]
            }
        }
        decoders.removeAll()
        let probes = Self.tones + [550, 1000]
        for p in 0..<5 {
            let tail = heard[p].suffix(20 * 960)
            let power = probes.map { Tone.power(of: $0, in: tail) }
            let loudest = power.max()!
            for (i, f) in Self.tones.enumerated() {
                if p == i {
                    #expect(power[i] < loudest / 100, "participant \(p) hears itself at \(f) Hz")
                } else {
                    #expect(power[i] > loudest / 10, "participant \(p) does not hear \(f) Hz")
                }
            }
        }
    }

    @Test func onlyTalkersReachTheMix() throws {
        let mixer = try AudioMixer(capacity: 6)
        for p in 0..<6 { mixer.setPresent(p, true) }
        let decoder = try Opus.Decoder()
        var heard: [Int16] = []
        let frequencies: [Double] = [300, 500, 700, 1100, 1300, 1700]
        let levels: [Double] = [20, 8, 25, 10, 30, 12]  // 500, 1100 and 1700 Hz are the loudest three
        for tick in 0..<60 {
            mixer.selectTalkers { levels[$0] }
            // Everyone sends audio; the mixer takes only the talkers'.
            for p in 0..<6 where mixer.isTalker(p) {
                let tone = Tone.samples(frequency: frequencies[p], amplitude: 0.2, start: tick * 960, count: 960)
                let input = mixer.input(for: p)
                for i in 0..<960 { input[i] = tone[i] }
            }
            try mixer.mix()
            #expect(mixer.encodesLastTick <= 4)
            var pcm = [Int16](repeating: 0, count: 960)
            let n = try pcm.withUnsafeMutableBufferPointer { try decoder.decode(mixer.payload(for: 0), into: $0) }
            heard += pcm[0..<n]
        }
        let tail = heard.suffix(20 * 960)
        let power = frequencies.map { Tone.power(of: $0, in: tail) }
        let loudest = power.max()!
        for i in [1, 3, 5] { #expect(power[i] > loudest / 10) }
        for i in [0, 2, 4] { #expect(power[i] < loudest / 100) }
    }

    @Test func theLimiterKeepsALoudSumFromWrapping() {
        var limiter = Limiter()
        let tone = Tone.samples(frequency: 500, amplitude: 0.9, count: 960)
        var sum = [Int32](repeating: 0, count: 960)
        for i in 0..<960 { sum[i] = 4 * Int32(tone[i]) }  // four loud talkers: far past 16 bits
        var out = [Int16](repeating: 0, count: 960)
        for _ in 0..<10 {
            sum.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer { limiter.process(s, into: $0) } }
            #expect(out.map { Int32($0).magnitude }.max()! <= UInt32(Limiter.ceiling))
        }
        // Still the same tone, not wrapped noise.
        #expect(Tone.dominant(among: [250, 500, 1000, 1500], in: out)?.frequency == 500)
        #expect(Tone.dominant(among: [250, 500, 1000, 1500], in: out)!.share > 0.95)
    }

    @Test func aClonedEncoderContinuesExactlyLikeTheOriginal() throws {
        let a = try Opus.Encoder()
        let b = try Opus.Encoder()
        for i in 0..<20 { _ = try a.encode(Tone.samples(frequency: 600, start: i * 960, count: 960)) }
        b.copyState(from: a)
        for i in 20..<30 {
            let frame = Tone.samples(frequency: 600, start: i * 960, count: 960)
            #expect(try a.encode(frame) == b.encode(frame))
        }
    }
}

@Suite("FEC follows reported loss")
struct LossAdaptationTests {
    /// The shared mix carries a 440 Hz talker for 25 frames, then 1000 Hz; frame 25 is lost on the
    /// way to a listener. Only with in-band FEC can the listener rebuild it (as 1000 Hz) from frame 26.
    func rebuiltFrequency(reportedLoss: Double) throws -> Double? {
        let mixer = try AudioMixer(capacity: 3)
        for p in 0..<3 { mixer.setPresent(p, true) }
        var payloads: [[UInt8]] = []
        for tick in 0..<27 {
            mixer.selectTalkers { p in p == 0 ? 10 : 120 }
            mixer.adaptToReportedLoss { p in p == 0 ? 0 : reportedLoss }
            if mixer.isTalker(0) {
                let tone = Tone.samples(frequency: tick < 25 ? 440 : 1000, amplitude: 0.3, start: tick * 960, count: 960)
                let input = mixer.input(for: 0)
                for i in 0..<960 { input[i] = tone[i] }
            }
            try mixer.mix()
            payloads.append(Array(mixer.payload(for: 1)))
        }
        let decoder = try Opus.Decoder()
        var pcm = [Int16](repeating: 0, count: 960)
        for tick in 0..<25 {
            _ = try payloads[tick].withUnsafeBytes { p in try pcm.withUnsafeMutableBufferPointer { try decoder.decode(p, into: $0) } }
        }
        _ = try payloads[26].withUnsafeBytes { p in try pcm.withUnsafeMutableBufferPointer { try decoder.decodeFEC(from: p, into: $0) } }
        return Tone.dominant(among: [440, 1000], in: pcm)?.frequency
    }

    @Test func withReportedLossTheSharedMixCarriesFEC() throws {
        #expect(try rebuiltFrequency(reportedLoss: 0.07) == 1000)
    }

    @Test func withoutReportedLossNoBitsGoToFEC() throws {
        #expect(try rebuiltFrequency(reportedLoss: 0) != 1000)
    }
}

@Suite("Leaving the talkers")
struct HandOverTests {
    @Test func aFormerTalkerKeepsItsEncoderUntilTheMixFallsQuiet() throws {
        let mixer = try AudioMixer(capacity: 3)
        for p in 0..<3 { mixer.setPresent(p, true) }
        var states: [Int: (handingOver: Bool, hearsShared: Bool, sameAsListener: Bool)] = [:]
        for tick in 0..<160 {
            let talking0 = tick < 50
            let talking1 = tick < 120
            mixer.selectTalkers { p in p == 0 ? (talking0 ? 10 : 127) : p == 1 ? (talking1 ? 10 : 127) : 127 }
            for (p, on, hz) in [(0, talking0, 440.0), (1, talking1, 660.0)] where mixer.isTalker(p) || mixer.isHandingOver(p) {
                let input = mixer.input(for: p)
                let tone = Tone.samples(frequency: hz, amplitude: on ? 0.2 : 0, start: tick * 960, count: 960)
                for i in 0..<960 { input[i] = tone[i] }
            }
            try mixer.mix()
            states[tick] = (mixer.isHandingOver(0), mixer.hearsSharedMix(0),
                            Array(mixer.payload(for: 0)) == Array(mixer.payload(for: 2)))
        }
        // Talker 0 falls silent at tick 50 and, after the hangover, stops being a talker (about tick 101)
        // while talker 1 still speaks: it keeps its own encoder, fed the shared mix.
        #expect(states[110]!.handingOver && !states[110]!.hearsShared && !states[110]!.sameAsListener)
        // Talker 1 stops at 120: the mix goes quiet and participant 0 moves to the shared encode.
        #expect(!states[150]!.handingOver && states[150]!.hearsShared && states[150]!.sameAsListener)
        #expect(!mixer.isTalker(0))
    }
}

@Suite("Room system codecs in the mix")
struct VoiceCodecMixTests {
    /// Opus participants 0 (talker, 660 Hz), 1 and 2 (listeners); G.722 participants 3 (talker, 440 Hz), 4 and 5
    /// (listeners); PCMU participant 6 (listener).
    @Test func oneSharedEncodePerCodecAndAG722TalkerDoesNotHearItself() throws {
        let mixer = try AudioMixer(capacity: 8)
        let formats: [VoicePayloadFormat?] = [nil, nil, nil, .g722, .g722, .g722, .pcmu]
        for p in 0..<7 {
            mixer.setCodec(p, formats[p])
            mixer.setPresent(p, true)
        }
        let tones: [Int: Double] = [0: 660, 3: 440]
        let g722Talker = VoiceFrameDecoder(format: .g722), g722Listener = VoiceFrameDecoder(format: .g722)
        let pcmuListener = VoiceFrameDecoder(format: .pcmu)
        let opusListener = try Opus.Decoder()
        var heard: [String: [Int16]] = [:]
        func decode(_ name: String, _ payload: UnsafeRawBufferPointer, _ decoder: VoiceFrameDecoder) throws {
            var pcm = [Int16](repeating: 0, count: 960)
            let n = try pcm.withUnsafeMutableBufferPointer { try decoder.decode48k(payload, into: $0) }
            #expect(n == 960 && payload.count == 160)
            heard[name, default: []] += pcm
        }
        let ticks = 60
        for tick in 0..<ticks {
            mixer.selectTalkers { p in tones[p] != nil ? 10 : 127 }
            for (p, hz) in tones where mixer.isTalker(p) {
                let tone = Tone.samples(frequency: hz, amplitude: 0.25, start: tick * 960, count: 960)
                let input = mixer.input(for: p)
                for i in 0..<960 { input[i] = tone[i] }
            }
            try mixer.mix(sharedListeners: true)
            if mixer.isTalker(0) && mixer.isTalker(3) {
                #expect(mixer.encodesLastTick == 5, "Opus, G.722 and PCMU shared encodes plus two talkers'")
                // Listeners of one codec get the very same bytes: the shared mix was encoded once for them.
                #expect(mixer.payload(for: 1).baseAddress == mixer.payload(for: 2).baseAddress)
                #expect(mixer.payload(for: 4).baseAddress == mixer.payload(for: 5).baseAddress)
                #expect(mixer.payload(for: 3).baseAddress != mixer.payload(for: 4).baseAddress)
            }
            try decode("g722 talker", mixer.payload(for: 3), g722Talker)
            try decode("g722 listener", mixer.payload(for: 4), g722Listener)
            try decode("pcmu listener", mixer.payload(for: 6), pcmuListener)
            var pcm = [Int16](repeating: 0, count: 960)
            let n = try pcm.withUnsafeMutableBufferPointer { try opusListener.decode(mixer.payload(for: 1), into: $0) }
            heard["opus listener", default: []] += pcm[0..<n]
        }
        #expect(mixer.sharedEncodes(of: nil) == ticks)
        #expect(mixer.sharedEncodes(of: .g722) == ticks)
        #expect(mixer.sharedEncodes(of: .pcmu) == ticks)
        #expect(mixer.sharedEncodes(of: .pcma) == 0)
        func power(_ name: String, _ hz: Double) -> Double { Tone.power(of: hz, in: heard[name]!.suffix(20 * 960)) }
        // The G.722 talker hears the Opus talker, not itself.
        #expect(power("g722 talker", 660) > 100 * power("g722 talker", 440))
        for name in ["g722 listener", "pcmu listener", "opus listener"] {
            let both = min(power(name, 660), power(name, 440)), other = max(power(name, 550), power(name, 1000))
            #expect(both > 100 * other, "\(name) hears both talkers")
        }
    }

    @Test func aRoomSystemCodecAppearsOnlyWhenAParticipantUsesIt() throws {
        let mixer = try AudioMixer(capacity: 4)
        for p in 0..<3 { mixer.setPresent(p, true) }
        for _ in 0..<10 {
            mixer.selectTalkers { p in p == 0 ? 10 : 127 }
            try mixer.mix(sharedListeners: true)
        }
        #expect(mixer.sharedEncodes(of: .g722) == 0 && mixer.sharedEncodes(of: nil) == 10)
        #expect(mixer.encodesLastTick == 2)
    }
}
