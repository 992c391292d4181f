/// Encoded video as a sequence of frames, read from or written to the files encoders produce:
/// IVF for VP8 (the container of libvpx and ffmpeg `-f ivf`) and raw Annex B for H.264.
public struct VideoFile: Sendable, Equatable {
    public struct Frame: Sendable, Equatable {
        /// The frame's bytes: a VP8 frame, or an H.264 access unit in Annex B form.
        public var data: [UInt8]
        public var isKeyframe: Bool
        public init(data: [UInt8], isKeyframe: Bool) {
            self.data = data
            self.isKeyframe = isKeyframe
        }
    }

    public var codec: VideoCodec
    public var width: Int
    public var height: Int
    /// Frames per second as a fraction (IVF's timebase rate/scale).
    public var rate: Int
    public var scale: Int
    public var frames: [Frame]

    public init(codec: VideoCodec, width: Int = 0, height: Int = 0, rate: Int, scale: Int = 1, frames: [Frame] = []) {
        self.codec = codec
        self.width = width
        self.height = height
        self.rate = rate
        self.scale = scale
        self.frames = frames
    }

    /// Frame interval in nanoseconds.
    public var frameNanoseconds: Int64 { Int64(scale) * 1_000_000_000 / Int64(max(1, rate)) }

    /// The largest frame a reader accepts (a 4K key frame is well under this).
    public static let maximumFrameBytes = 4 << 20

    /// Reads an IVF file holding VP8.
    public static func parseIVF(_ bytes: [UInt8]) throws(VideoFormatError) -> VideoFile {
        guard bytes.count >= 32, bytes[0..<4].elementsEqual("DKIF".utf8) else { throw .badFile("no IVF signature (DKIF)") }
        func le16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func le32(_ o: Int) -> Int { le16(o) | le16(o + 2) << 16 }
        let headerLength = le16(6)
        guard headerLength >= 32, headerLength <= bytes.count else { throw .badFile("IVF header length \(headerLength)") }
        let fourcc = String(decoding: bytes[8..<12], as: UTF8.self)
        guard fourcc == "VP80" else { throw .badFile("IVF codec \(fourcc), only VP80 is supported") }
        let rate = le32(16)
        let scale = le32(20)
        guard rate > 0, scale > 0 else { throw .badFile("IVF time base \(scale)/\(rate)") }
        var file = VideoFile(codec: .vp8, width: le16(12), height: le16(14), rate: rate, scale: scale)
        var offset = headerLength
        while offset < bytes.count {
            guard bytes.count - offset >= 12 else { throw .badFile("IVF frame header cut short at byte \(offset)") }
            let size = le32(offset)
            guard size <= maximumFrameBytes else { throw .frameTooLarge("IVF frame of \(size) bytes at byte \(offset)") }
            guard size <= bytes.count - offset - 12 else { throw .badFile("IVF frame of \(size) bytes cut short at byte \(offset)") }
            let data = Array(bytes[(offset + 12)..<(offset + 12 + size)])
            file.frames.append(Frame(data: data, isKeyframe: VP8.isKeyframe(frame: data)))
            offset += 12 + size
        }
        return file
    }

    /// Reads an H.264 Annex B byte stream; the frame rate is not in the stream, so it is given.
    public static func parseAnnexB(_ bytes: [UInt8], framesPerSecond: Int) throws(VideoFormatError) -> VideoFile {
        guard framesPerSecond > 0 else { throw .badFile("frame rate \(framesPerSecond)") }
        let units = H264.accessUnits(annexB: bytes)
        guard !units.isEmpty else { throw .badFile("no Annex B start code") }
        var file = VideoFile(codec: .h264, rate: framesPerSecond)
        for unit in units {
            var data: [UInt8] = []
            for nal in unit { data += [0, 0, 0, 1] + nal }
            guard data.count <= maximumFrameBytes else { throw .frameTooLarge("access unit of \(data.count) bytes") }
            file.frames.append(Frame(data: data, isKeyframe: H264.isKeyframe(accessUnit: unit)))
        }
        return file
    }

    /// The file's bytes: IVF for VP8, Annex B for H.264.
    public func serialized() -> [UInt8] {
        switch codec {
        case .h264:
            return frames.flatMap(\.data)
        case .vp8:
            var out: [UInt8] = []
            func le16(_ v: Int) { out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF)] }
            func le32(_ v: Int) { le16(v & 0xFFFF); le16((v >> 16) & 0xFFFF) }
            out += Array("DKIF".utf8)
            le16(0)
            le16(32)
            out += Array("VP80".utf8)
            le16(width)
            le16(height)
            le32(rate)
            le32(scale)
            le32(frames.count)
            le32(0)
            for (i, frame) in frames.enumerated() {
                le32(frame.data.count)
                le32(i)
                le32(0)
                out += frame.data
            }
            return out
        }
    }
}
