/// A room system's G.722/G.711 packets of any multiple of 10 ms up to 60 ms, as the 20 ms frames the bridge's
/// jitter buffer and mixer work in.
///
/// Many room systems send 30 ms (some 10 or 40 ms) packets whatever the SDP's `ptime` says. For all three formats
/// 10 ms is 80 payload bytes and 80 RTP timestamp ticks (8 kHz clock), so a packet is cut on a 20 ms grid laid from
/// the stream's first timestamp: a frame wholly inside a packet is handed on in place; a frame split between two
/// packets (the middle one of two 30 ms packets, every frame of 10 ms packets) is assembled from its two halves,
/// whichever comes first, in a small table of half-filled frames (an entry whose other half never comes is pushed
/// out by newer ones: that frame is concealed downstream, as a lost one). Frames are numbered by their place on the
/// grid, which is the sequence number handed on (a missing frame leaves a gap, as a lost packet does).
///
/// Allocation-free after `init`; one stream, one thread. Payloads of 20 ms need none of this (callers pass them
/// on as they are).
public final class VoicePacketReframer {
    /// Payload bytes, and RTP timestamp ticks, of 10 ms in G.722 (64 kbit/s), PCMA and PCMU.
    public static let bytesPer10Milliseconds = 80
    /// The longest packet taken (RFC 3551's usual maximum for these codecs).
    public static let maximumPacketMilliseconds = 60
    static let frameBytes = 2 * bytesPer10Milliseconds
    /// Half-filled frames kept at once (reordering of a few packets).
    static let pendingCapacity = 4

    private let storage: UnsafeMutableRawBufferPointer
    private var pendingFrame = [Int64](repeating: 0, count: pendingCapacity)
    /// Bit 0: the first 10 ms is here; bit 1: the second; 0: the entry is free.
    private var pendingHalves = [UInt8](repeating: 0, count: pendingCapacity)
    private var started = false
    /// The stream's grid: its first timestamp, and timestamps unwrapped (ticks since it) against the newest seen.
    private var origin: UInt32 = 0
    private var newestRaw: UInt32 = 0
    private var newestTicks: Int64 = 0

    /// Frames handed on, and 10 ms halves dropped because their frame's other half never came.
    public private(set) var framesAssembled = 0
    public private(set) var halvesDropped = 0

    public init() {
        storage = .allocate(byteCount: Self.pendingCapacity * Self.frameBytes, alignment: 16)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit { storage.deallocate() }

    /// Whether a payload of this many bytes is taken: a whole number of 10 ms, at most 60 ms.
    public static func accepts(payloadBytes: Int) -> Bool {
        payloadBytes > 0 && payloadBytes % bytesPer10Milliseconds == 0
            && payloadBytes <= maximumPacketMilliseconds / 10 * bytesPer10Milliseconds
    }

    /// Cuts one packet into 20 ms frames and hands each completed frame to `deliver`: its sequence number (its
    /// place on the grid, modulo 2^16), its RTP timestamp (8 kHz, on the stream's clock) and its 160 bytes (valid
    /// only during the call).
    /// - Returns: the frames handed on.
    /// - Throws: ``VoiceCodecError/inputLength(count:multipleOf:)`` unless ``accepts(payloadBytes:)``.
    @discardableResult
    public func reframe(
        timestamp: UInt32, payload: UnsafeRawBufferPointer,
        _ deliver: (_ sequence: UInt16, _ timestamp: UInt32, _ frame: UnsafeRawBufferPointer) -> Void
    ) throws(VoiceCodecError) -> Int {
        guard Self.accepts(payloadBytes: payload.count), let base = payload.baseAddress else {
            throw .inputLength(count: payload.count, multipleOf: Self.bytesPer10Milliseconds)
        }
        var ticks = position(of: timestamp)
        if ticks % Int64(Self.bytesPer10Milliseconds) != 0 {
            // Off the 10 ms grid (the sender moved its timeline): start a new grid here.
            restart(at: timestamp)
            ticks = 0
        }
        let unit = Int(ticks / Int64(Self.bytesPer10Milliseconds))
        let units = payload.count / Self.bytesPer10Milliseconds
        var delivered = 0
        var j = 0
        while j < units {
            let u = unit + j
            let frame = Int64(u >> 1)  // (floor division: u may be negative for a packet older than the first)
            let bytes = UnsafeRawBufferPointer(start: base + j * Self.bytesPer10Milliseconds, count: Self.bytesPer10Milliseconds)
            if u & 1 == 0, j + 1 < units {
                deliver(frameSequence(frame), frameTimestamp(frame),
                        UnsafeRawBufferPointer(start: base + j * Self.bytesPer10Milliseconds, count: Self.frameBytes))
                delivered += 1
                j += 2
                continue
            }
            if add(half: u & 1, of: frame, bytes: bytes, deliver) { delivered += 1 }
            j += 1
        }
        framesAssembled += delivered
        return delivered
    }

    /// Ticks since the grid's origin (negative for a packet older than the first), the newest timestamp moved on.
    private func position(of timestamp: UInt32) -> Int64 {
        guard started else {
            restart(at: timestamp)
            return 0
        }
        let ticks = newestTicks + Int64(Int32(bitPattern: timestamp &- newestRaw))
        if ticks > newestTicks {
            newestTicks = ticks
            newestRaw = timestamp
        }
        return ticks
    }

    private func restart(at timestamp: UInt32) {
        started = true
        origin = timestamp
        newestRaw = timestamp
        newestTicks = 0
        for i in 0..<Self.pendingCapacity where pendingHalves[i] != 0 {
            halvesDropped += 1
            pendingHalves[i] = 0
        }
    }

    private func frameSequence(_ frame: Int64) -> UInt16 { UInt16(truncatingIfNeeded: frame) }

    private func frameTimestamp(_ frame: Int64) -> UInt32 {
        origin &+ UInt32(truncatingIfNeeded: frame &* Int64(Self.frameBytes))
    }

    /// Files one 10 ms half; hands the frame on when both halves are here.
    /// - Returns: whether a frame was handed on.
    private func add(half: Int, of frame: Int64, bytes: UnsafeRawBufferPointer,
                     _ deliver: (UInt16, UInt32, UnsafeRawBufferPointer) -> Void) -> Bool {
        var entry = -1
        for i in 0..<Self.pendingCapacity where pendingHalves[i] != 0 && pendingFrame[i] == frame {
            entry = i
            break
        }
        if entry < 0 {
            // A free entry, else the oldest frame's (its missing half is given up).
            var oldest = 0
            for i in 0..<Self.pendingCapacity {
                if pendingHalves[i] == 0 {
                    entry = i
                    break
                }
                if pendingFrame[i] < pendingFrame[oldest] { oldest = i }
            }
            if entry < 0 {
                entry = oldest
                halvesDropped += 1
            }
            pendingFrame[entry] = frame
            pendingHalves[entry] = 0
        }
        let slot = UnsafeMutableRawBufferPointer(rebasing: storage[(entry * Self.frameBytes)..<((entry + 1) * Self.frameBytes)])
        UnsafeMutableRawBufferPointer(rebasing: slot[(half * Self.bytesPer10Milliseconds)...]).copyMemory(from: bytes)
        pendingHalves[entry] |= UInt8(1 << half)
        guard pendingHalves[entry] == 3 else { return false }
        pendingHalves[entry] = 0
        deliver(frameSequence(frame), frameTimestamp(frame), UnsafeRawBufferPointer(slot))
        return true
    }
}
