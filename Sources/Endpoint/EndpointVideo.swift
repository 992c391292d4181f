import RTP
import VideoFormats

/// Sends a file of encoded frames as an RTP video stream at the file's frame rate, the way a
/// camera's encoder would: one frame's packets at a time, marker on the last, 90 kHz timestamps.
/// A keyframe request (PLI or FIR) makes it skip to the file's next keyframe, as an encoder would
/// encode one.
public struct VideoFileSender: Sendable {
    public let file: VideoFile
    public let payloadType: UInt8
    public let ssrc: UInt32
    public let loop: Bool
    let maximumPayload: Int
    private(set) var frameIndex = 0
    private(set) var sequence = UInt16.random(in: 0...UInt16.max)
    private(set) var timestamp = UInt32.random(in: 0...UInt32.max)
    private var pictureID = UInt16.random(in: 0...0x7FFF)
    private var skipToKeyframe = false
    /// Frames actually sent, in order (what every receiver should get).
    public private(set) var sent: [VideoFile.Frame] = []
    public private(set) var packetsSent = 0
    public private(set) var bytesSent = 0
    public private(set) var keyframeRequests = 0
    public private(set) var framesSkipped = 0

    public init(file: VideoFile, payloadType: UInt8, ssrc: UInt32, loop: Bool, maximumPacket: Int = 1200) {
        self.file = file
        self.payloadType = payloadType
        self.ssrc = ssrc
        self.loop = loop
        maximumPayload = maximumPacket - 12
    }

    public var finished: Bool { !loop && frameIndex >= file.frames.count }

    public mutating func keyframeRequested() {
        keyframeRequests += 1
        skipToKeyframe = true
    }

    /// The RTP packets (plain, unprotected) of the next frame, or nil when the file is done.
    public mutating func nextFrame() -> [[UInt8]]? {
        if frameIndex >= file.frames.count {
            guard loop, !file.frames.isEmpty else { return nil }
            frameIndex = 0
        }
        if skipToKeyframe, let next = file.frames[frameIndex...].firstIndex(where: \.isKeyframe) ?? (loop ? file.frames.firstIndex(where: \.isKeyframe) : nil) {
            framesSkipped += next >= frameIndex ? next - frameIndex : file.frames.count - frameIndex + next
            frameIndex = next
        }
        skipToKeyframe = false
        let frame = file.frames[frameIndex]
        frameIndex += 1
        let payloads: [[UInt8]]
        switch file.codec {
        case .vp8:
            payloads = VP8.packetize(frame: frame.data, pictureID: pictureID, maximumPayload: maximumPayload)
            pictureID = (pictureID + 1) & 0x7FFF
        case .h264:
            payloads = H264.packetize(accessUnit: H264.nalUnits(annexB: frame.data), maximumPayload: maximumPayload)
        }
        var packets: [[UInt8]] = []
        for (i, payload) in payloads.enumerated() {
            let packet = RTPPacket(marker: i == payloads.count - 1, payloadType: payloadType, sequenceNumber: sequence,
                                   timestamp: timestamp, ssrc: ssrc, payload: payload)
            guard let bytes = try? packet.serialized() else { continue }
            packets.append(bytes)
            sequence &+= 1
            packetsSent += 1
            bytesSent += bytes.count
        }
        timestamp &+= UInt32(VideoCodec.clockRate * file.scale / max(1, file.rate))
        sent.append(frame)
        return packets
    }
}

/// Receives one RTP video stream and rebuilds its frames as a decoder would get them: in sequence
/// order, waiting a moment for a missing packet (asking for it with a NACK at once, and again if the
/// repair does not come within about one and a half NACK round trips, at most three times), and after
/// a loss that is not repaired showing nothing new (a freeze) until the next keyframe (asking for one).
public struct VideoStreamRecorder: Sendable {
    public struct Statistics: Sendable, Equatable {
        public var packets = 0
        public var bytes = 0
        public var frames = 0
        public var keyframes = 0
        /// Packets never received (after waiting for repair).
        public var packetsLost = 0
        /// Packets that arrived after being asked for (NACK), or late.
        public var packetsRecovered = 0
        /// Frames that could not be shown (incomplete, or after a loss until a keyframe).
        public var framesDropped = 0
        /// Stretches of more than half a second without a new frame once the stream had begun,
        /// including a stream that stopped and never came back.
        public var freezes = 0
        public var freezeSeconds = 0.0
        public var nacksSent = 0
        public var keyframeRequestsSent = 0
        /// Frames whose RTP timestamp was not later than the previous frame's (a stream must never go back).
        public var timestampRegressions = 0
    }

    public let codec: VideoCodec
    public private(set) var frames: [VideoFile.Frame] = []
    public private(set) var statistics = Statistics()
    private var packets: [UInt16: (timestamp: UInt32, marker: Bool, payload: [UInt8], arrival: Int64)] = [:]
    private var missingSince: [UInt16: Int64] = [:]
    /// Per missing packet: when it was last asked for, and how many times.
    private var asked: [UInt16: (at: Int64, times: Int)] = [:]
    /// Smoothed time from a first NACK to the packet's arrival (starts at 100 ms).
    private var repairTime: Int64 = 100_000_000
    private var nextSequence: UInt16?
    private var highestSequence: UInt16 = 0
    private var broken = true  // until the first keyframe
    /// A frame could not be shown: ask for a keyframe.
    private var needKeyframe = false
    private var lastFrameAt: Int64?
    /// A freeze is under way (counted when it was seen, its length added when it ends).
    private var frozen = false
    private var lastFrameTimestamp: UInt32?
    private var lastKeyframeRequestAt: Int64 = .min / 2
    /// How long a missing packet is waited for before it counts as lost.
    let repairWait: Int64 = 250_000_000
    /// No new frame for longer than this is a freeze.
    static let freezeNanoseconds: Int64 = 500_000_000
    static let nacksPerPacket = 3

    /// How long after a NACK to ask again: one and a half smoothed repair times, within 40-150 ms.
    var nackRetryInterval: Int64 { min(150_000_000, max(40_000_000, repairTime * 3 / 2)) }

    public init(codec: VideoCodec) { self.codec = codec }

    /// Takes a packet; returns sequence numbers newly found missing (to NACK).
    public mutating func insert(_ header: RTPHeader, payload: [UInt8], arrival: Int64) -> [UInt16] {
        statistics.packets += 1
        statistics.bytes += payload.count + header.headerLength
        let sequence = header.sequenceNumber
        var missing: [UInt16] = []
        if let next = nextSequence {
            guard Wrapping.sequenceDistance(from: next, to: sequence) >= 0, packets[sequence] == nil else { return [] }  // old or duplicate
            if missingSince.removeValue(forKey: sequence) != nil {
                statistics.packetsRecovered += 1
                if let request = asked.removeValue(forKey: sequence), request.times == 1 {
                    repairTime += (max(0, arrival - request.at) - repairTime) / 8
                }
            }
            let gap = Wrapping.sequenceDistance(from: highestSequence, to: sequence)
            if gap > 1 && gap < 200 {
                for i in 1..<gap {
                    let lost = highestSequence &+ UInt16(i)
                    missingSince[lost] = arrival
                    asked[lost] = (arrival, 1)
                    missing.append(lost)
                }
            }
            if gap > 0 { highestSequence = sequence }
        } else {
            nextSequence = sequence
            highestSequence = sequence
        }
        packets[sequence] = (header.timestamp, header.marker, payload, arrival)
        if !missing.isEmpty { statistics.nacksSent += 1 }
        return missing
    }

    /// Missing packets to ask for again now (their last NACK was a retry interval ago, the repair could
    /// still come in time, and they were asked for fewer than ``nacksPerPacket`` times).
    public mutating func nacksDue(now: Int64) -> [UInt16] {
        var due: [UInt16] = []
        for (sequence, request) in asked where request.times < Self.nacksPerPacket && now - request.at >= nackRetryInterval {
            guard let since = missingSince[sequence], now - since < repairWait else { continue }
            asked[sequence] = (now, request.times + 1)
            due.append(sequence)
        }
        if !due.isEmpty { statistics.nacksSent += 1 }
        return due.sorted { Wrapping.sequenceDistance(from: $0, to: $1) > 0 }
    }

    /// Counts a freeze as soon as the stream has shown no new frame for ``freezeNanoseconds`` (so a
    /// stream that stops for good is a freeze too, not only one that comes back). Call with the time
    /// now, regularly.
    public mutating func watchForFreeze(now: Int64) {
        guard let lastFrameAt, !frozen, now - lastFrameAt > Self.freezeNanoseconds else { return }
        statistics.freezes += 1
        frozen = true
    }

    /// The end of reception at `now`: a freeze still under way counts up to then.
    public mutating func finish(now: Int64) {
        watchForFreeze(now: now)
        if frozen, let lastFrameAt {
            statistics.freezeSeconds += Double(now - lastFrameAt) / 1e9
            self.lastFrameAt = now
            frozen = false
        }
    }

    /// Moves complete frames out (in order); gives up on packets missing for too long.
    /// - Returns: whether a keyframe should be requested now.
    public mutating func advance(now: Int64) -> Bool {
        while let first = nextSequence {
            guard let head = packets[first] else {
                guard let since = missingSince[first], now - since >= repairWait else { break }
                // Lost for good: the frame it belonged to cannot be shown, nor anything until a keyframe.
                missingSince[first] = nil
                asked[first] = nil
                statistics.packetsLost += 1
                broken = true
                needKeyframe = true
                nextSequence = first &+ 1
                continue
            }
            // Gather the frame: consecutive packets with the head's timestamp, up to the marker.
            var payloads: [[UInt8]] = [head.payload]
            var last = first
            var complete = head.marker
            var gap: UInt16? = nil
            while !complete {
                let s = last &+ 1
                guard let p = packets[s] else {
                    gap = s
                    break
                }
                guard p.timestamp == head.timestamp else {
                    complete = true  // the next frame began without a marker on this one
                    break
                }
                payloads.append(p.payload)
                last = s
                complete = p.marker
            }
            if let gap {
                // Not arrived yet, or missing and still waited for: come back later.
                if Wrapping.sequenceDistance(from: highestSequence, to: gap) > 0 { break }
                if let since = missingSince[gap], now - since < repairWait { break }
                // Lost for good: drop the incomplete frame.
                missingSince[gap] = nil
                asked[gap] = nil
                statistics.packetsLost += 1
                statistics.framesDropped += 1
                broken = true
                needKeyframe = true
                var q = first
                while q != gap {
                    packets[q] = nil
                    q &+= 1
                }
                nextSequence = gap &+ 1
                continue
            }
            guard complete else { break }
            var s = first
            while true {
                packets[s] = nil
                if s == last { break }
                s &+= 1
            }
            nextSequence = last &+ 1
            let data: [UInt8]? = codec == .vp8 ? VP8.assemble(payloads) : H264.assemble(payloads)
            let key = data.map { codec == .vp8 ? VP8.isKeyframe(frame: $0) : H264.isKeyframe(accessUnit: H264.nalUnits(annexB: $0)) } ?? false
            guard let data, key || !broken else {
                statistics.framesDropped += 1
                needKeyframe = true
                continue
            }
            broken = false
            if key { needKeyframe = false }
            if let previous = lastFrameTimestamp, !Wrapping.isLaterTimestamp(head.timestamp, than: previous) {
                statistics.timestampRegressions += 1
            }
            lastFrameTimestamp = head.timestamp
            frames.append(VideoFile.Frame(data: data, isKeyframe: key))
            statistics.frames += 1
            if key { statistics.keyframes += 1 }
            if let lastFrameAt, head.arrival - lastFrameAt > Self.freezeNanoseconds {
                if !frozen { statistics.freezes += 1 }
                statistics.freezeSeconds += Double(head.arrival - lastFrameAt) / 1e9
            }
            frozen = false
            lastFrameAt = head.arrival
        }
        guard needKeyframe, now - lastKeyframeRequestAt >= 500_000_000 else { return false }
        lastKeyframeRequestAt = now
        statistics.keyframeRequestsSent += 1
        return true
    }
}
