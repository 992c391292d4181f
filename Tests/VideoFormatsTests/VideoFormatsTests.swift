import Testing
import VideoFormats

/// A VP8 frame as an encoder starts it: the P bit (lowest bit of byte 0) is 0 for a key frame.
private func vp8Frame(key: Bool, size: Int, seed: UInt8) -> [UInt8] {
    var frame = (0..<size).map { UInt8(truncatingIfNeeded: Int($0) &* 7 &+ Int(seed)) }
    frame[0] = key ? 0x10 : 0x11
    return frame
}

private func inspect(_ payload: [UInt8], _ codec: VideoCodec) throws -> VideoPacketInfo {
    try payload.withUnsafeBytes { raw in try VideoPacketInfo.inspect(raw, codec: codec) }
}

@Suite struct VP8Tests {
    @Test func packetizeAndAssembleRoundTrip() throws {
        let frame = vp8Frame(key: true, size: 5000, seed: 3)
        let payloads = VP8.packetize(frame: frame, pictureID: 0x1234, maximumPayload: 1200)
        #expect(payloads.count == 5)
        #expect(payloads.allSatisfy { $0.count <= 1200 })
        #expect(VP8.assemble(payloads) == frame)
        // Only the first packet starts the frame, and it says key frame.
        #expect(try inspect(payloads[0], .vp8) == VideoPacketInfo(startsFrame: true, isKeyframe: true))
        for p in payloads.dropFirst() { #expect(try inspect(p, .vp8).startsFrame == false) }
        let d = try payloads[0].withUnsafeBytes { try VP8.descriptor($0) }
        #expect(d.pictureID == UInt16(0x1234))
        #expect(d.length == 4)
    }

    @Test func deltaFrameIsNotKey() throws {
        let payloads = VP8.packetize(frame: vp8Frame(key: false, size: 300, seed: 1), pictureID: 7, maximumPayload: 1200)
        #expect(try inspect(payloads[0], .vp8) == VideoPacketInfo(startsFrame: true, isKeyframe: false))
    }

    @Test func missingFirstPacketIsNotAssembled() {
        let payloads = VP8.packetize(frame: vp8Frame(key: true, size: 3000, seed: 9), pictureID: 1, maximumPayload: 1200)
        #expect(VP8.assemble(Array(payloads.dropFirst())) == nil)
    }

    @Test(arguments: [
        [UInt8](), [0x80], [0x80, 0x80], [0x80, 0x80, 0x80], [0x90, 0x80, 0x81, 0x00], [0x10],
    ])
    func truncatedDescriptorsAreErrors(_ payload: [UInt8]) {
        #expect(throws: VideoFormatError.self) { try inspect(payload, .vp8) }
    }

    @Test func minimalDescriptor() throws {
        #expect(try inspect([0x10, 0x00, 0x9d], .vp8) == VideoPacketInfo(startsFrame: true, isKeyframe: true))
        #expect(try inspect([0x11, 0x00, 0x9d], .vp8) == VideoPacketInfo(startsFrame: false, isKeyframe: false))
    }
}

@Suite struct H264Tests {
    static let sps: [UInt8] = [0x67, 0x42, 0xC0, 0x1E, 0xDA, 0x02]
    static let pps: [UInt8] = [0x68, 0xCE, 0x3C, 0x80]
    static func slice(idr: Bool, size: Int) -> [UInt8] {
        [idr ? 0x65 : 0x41, 0x88] + (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251 + 1) }
    }

    static func annexB(_ units: [[UInt8]]) -> [UInt8] { units.flatMap { [0, 0, 0, 1] + $0 } }

    @Test func accessUnitsSplitAtFirstSlice() {
        let stream = Self.annexB([Self.sps, Self.pps, Self.slice(idr: true, size: 4000), Self.slice(idr: false, size: 900),
                                  Self.slice(idr: false, size: 50)])
        let units = H264.accessUnits(annexB: stream)
        #expect(units.count == 3)
        #expect(units.map(\.count) == [3, 1, 1])
        #expect(H264.isKeyframe(accessUnit: units[0]))
        #expect(!H264.isKeyframe(accessUnit: units[1]))
    }

    @Test func fragmentationRoundTrip() throws {
        let unit: [ArraySlice<UInt8>] = [Self.sps[...], Self.pps[...], Self.slice(idr: true, size: 4000)[...]]
        let payloads = H264.packetize(accessUnit: unit, maximumPayload: 1200)
        #expect(payloads.allSatisfy { $0.count <= 1200 })
        #expect(payloads.count == 2 + 4)
        #expect(H264.assemble(payloads) == Self.annexB([Self.sps, Self.pps, Self.slice(idr: true, size: 4000)]))
        #expect(try inspect(payloads[0], .h264).isKeyframe)  // SPS
        #expect(try inspect(payloads[2], .h264) == VideoPacketInfo(startsFrame: true, isKeyframe: true))  // FU-A start of IDR
        #expect(try inspect(payloads[3], .h264) == VideoPacketInfo(startsFrame: false, isKeyframe: false))
        // A fragmented NAL unit whose first fragment is missing cannot be assembled (a missing middle
        // fragment shows only in the sequence numbers, which the caller checks).
        var lossy = payloads
        lossy.remove(at: 2)
        #expect(H264.assemble(lossy) == nil)
    }

    @Test func stapAIsReadForKeyframes() throws {
        let stap: [UInt8] = [0x78, 0, UInt8(Self.sps.count)] + Self.sps + [0, UInt8(Self.pps.count)] + Self.pps
        #expect(try inspect(stap, .h264) == VideoPacketInfo(startsFrame: true, isKeyframe: true))
        #expect(H264.assemble([stap]) == Self.annexB([Self.sps, Self.pps]))
        #expect(throws: VideoFormatError.self) { try inspect([0x78, 0, 40, 0x67], .h264) }
        #expect(throws: VideoFormatError.self) { try inspect([0x7C, 0x85], .h264) }
        #expect(throws: VideoFormatError.self) { try inspect([0x00, 0x85], .h264) }
        #expect(throws: VideoFormatError.self) { try inspect([], .h264) }
    }
}

@Suite struct VideoFileTests {
    @Test func ivfRoundTrip() throws {
        let file = VideoFile(codec: .vp8, width: 320, height: 240, rate: 30, scale: 1, frames: [
            .init(data: vp8Frame(key: true, size: 3000, seed: 1), isKeyframe: true),
            .init(data: vp8Frame(key: false, size: 200, seed: 2), isKeyframe: false),
        ])
        let bytes = file.serialized()
        #expect(bytes.count == 32 + 12 + 3000 + 12 + 200)
        #expect(try VideoFile.parseIVF(bytes) == file)
        #expect(file.frameNanoseconds == 33_333_333)
    }

    @Test func badIVFNamesTheProblem() throws {
        var bytes = VideoFile(codec: .vp8, rate: 25, frames: [.init(data: vp8Frame(key: true, size: 100, seed: 0), isKeyframe: true)]).serialized()
        #expect(throws: VideoFormatError.badFile("")) { try VideoFile.parseIVF(Array(bytes.dropLast(5))) }
        #expect(throws: VideoFormatError.badFile("")) { try VideoFile.parseIVF(Array("RIFF".utf8) + bytes.dropFirst(4)) }
        bytes[8] = UInt8(ascii: "A")
        let error = #expect(throws: VideoFormatError.self) { try VideoFile.parseIVF(bytes) }
        #expect(error?.description.contains("AP80") == true)
    }

    @Test func annexBRoundTrip() throws {
        let stream = H264Tests.annexB([H264Tests.sps, H264Tests.pps, H264Tests.slice(idr: true, size: 2000),
                                       H264Tests.slice(idr: false, size: 300)])
        let file = try VideoFile.parseAnnexB(stream, framesPerSecond: 25)
        #expect(file.frames.map(\.isKeyframe) == [true, false])
        #expect(file.serialized() == stream)
        #expect(throws: VideoFormatError.self) { try VideoFile.parseAnnexB([1, 2, 3], framesPerSecond: 25) }
    }

    @Test func randomBytesNeverTrap() {
        var state: UInt64 = 0x9E3779B97F4A7C15
        for _ in 0..<20_000 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let length = Int(state >> 58)
            var bytes = [UInt8](repeating: 0, count: length)
            for i in 0..<length {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                bytes[i] = UInt8(truncatingIfNeeded: state >> 33)
            }
            _ = try? inspect(bytes, .vp8)
            _ = try? inspect(bytes, .h264)
            _ = VP8.assemble([bytes])
            _ = H264.assemble([bytes])
            _ = try? VideoFile.parseIVF(Array("DKIF".utf8) + bytes)
        }
    }
}
