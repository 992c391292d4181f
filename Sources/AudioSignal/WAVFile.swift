import Foundation

/// 16-bit PCM mono WAV files: what the reference endpoint plays and records.
public enum WAVFile {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Reads a 16-bit PCM WAV (mono, or the first channel of a multi-channel file), resampled to
    /// `rate` Hz by linear interpolation if needed.
    public static func read(_ path: String, rate: Int = 48_000) throws -> [Int16] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(description: "cannot read \(path)")
        }
        let bytes = [UInt8](data)
        func u16(_ o: Int) -> Int { Int(bytes[o]) | Int(bytes[o + 1]) << 8 }
        func u32(_ o: Int) -> Int { u16(o) | u16(o + 2) << 16 }
        guard bytes.count >= 12, bytes[0..<4].elementsEqual("RIFF".utf8), bytes[8..<12].elementsEqual("WAVE".utf8) else {
            throw Failure(description: "\(path) is not a WAV file")
        }
        var offset = 12
        var channels = 0, sampleRate = 0, bits = 0
        var samples: [Int16]? = nil
        while offset + 8 <= bytes.count {
            let id = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
            let size = u32(offset + 4)
            let body = offset + 8
            guard body + size <= bytes.count || id == "data" else { break }
            if id == "fmt " && size >= 16 {
                guard u16(body) == 1 else { throw Failure(description: "\(path) is not PCM") }
                channels = u16(body + 2)
                sampleRate = u32(body + 4)
                bits = u16(body + 14)
            } else if id == "data" {
                guard bits == 16, channels >= 1 else { throw Failure(description: "\(path) must be 16-bit PCM") }
                let end = min(bytes.count, body + size)
                let frame = 2 * channels
                samples = stride(from: body, to: end - frame + 1, by: frame).map { Int16(bitPattern: UInt16(u16($0))) }
            }
            offset = body + size + (size & 1)
        }
        guard let samples, sampleRate > 0 else { throw Failure(description: "\(path) has no audio data") }
        return resample(samples, from: sampleRate, to: rate)
    }

    static func resample(_ samples: [Int16], from: Int, to: Int) -> [Int16] {
        guard from != to, !samples.isEmpty else { return samples }
        let count = samples.count * to / from
        return (0..<count).map { i in
            let position = Double(i) * Double(from) / Double(to)
            let j = Int(position)
            let fraction = position - Double(j)
            let a = Double(samples[min(j, samples.count - 1)])
            let b = Double(samples[min(j + 1, samples.count - 1)])
            return Int16((a + (b - a) * fraction).rounded())
        }
    }

    /// Writes mono 16-bit PCM at `rate` Hz.
    public static func write(_ samples: [Int16], to path: String, rate: Int = 48_000) throws {
        var out = Data()
        func u16(_ v: Int) { out.append(UInt8(v & 0xFF)); out.append(UInt8((v >> 8) & 0xFF)) }
        func u32(_ v: Int) { u16(v & 0xFFFF); u16((v >> 16) & 0xFFFF) }
        out.append(contentsOf: Array("RIFF".utf8)); u32(36 + 2 * samples.count)
        out.append(contentsOf: Array("WAVEfmt ".utf8)); u32(16); u16(1); u16(1); u32(rate); u32(2 * rate); u16(2); u16(16)
        out.append(contentsOf: Array("data".utf8)); u32(2 * samples.count)
        samples.withUnsafeBytes { out.append(contentsOf: $0) }
        do {
            try out.write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw Failure(description: "cannot write \(path): \(error.localizedDescription)")
        }
    }
}
