import Foundation
import Testing

/// ffmpeg (Debian's, /usr/bin/ffmpeg; Scripts/test.sh installs it): an independent G.722 and G.711
/// implementation to compare ours with.
enum FFmpeg {
    static let path: String? = {
        let candidates = ["/usr/bin/ffmpeg", "/usr/local/bin/ffmpeg"]
            + (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/ffmpeg" }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static var available: Bool { path != nil }
    static let skipReason: Comment = "ffmpeg is not installed (apt-get install ffmpeg; Scripts/test.sh installs it): comparison with ffmpeg skipped"

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs ffmpeg quietly with `arguments`; returns its standard output.
    static func run(_ arguments: [String]) throws -> Data {
        guard let path else { throw Failure(description: "ffmpeg not installed") }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-hide_banner", "-loglevel", "error", "-nostdin", "-y"] + arguments
        let out = Pipe()
        // Standard error goes to a file, so only one pipe has to be drained while ffmpeg runs.
        let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-ffmpeg-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errPath.path, contents: nil)
        let err = try FileHandle(forWritingTo: errPath)
        defer {
            try? err.close()
            try? FileManager.default.removeItem(at: errPath)
        }
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let stderrData = (try? Data(contentsOf: errPath)) ?? Data()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "ffmpeg \(arguments.joined(separator: " ")) exited \(process.terminationStatus): "
                + String(decoding: stderrData, as: UTF8.self))
        }
        return stdoutData
    }

    /// A scratch directory for one test's files, removed by `cleanup`.
    static func scratch() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-codecs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }
}

/// Raw little-endian 16-bit samples, as ffmpeg's `-f s16le` reads and writes them.
func s16le(_ samples: [Int16]) -> Data {
    var data = Data(capacity: samples.count * 2)
    for s in samples {
        let u = UInt16(bitPattern: s)
        data.append(UInt8(u & 0xFF))
        data.append(UInt8(u >> 8))
    }
    return data
}

func samples(fromS16LE data: Data) -> [Int16] {
    let bytes = [UInt8](data)
    return stride(from: 0, to: bytes.count - 1, by: 2).map { Int16(bitPattern: UInt16(bytes[$0]) | UInt16(bytes[$0 + 1]) << 8) }
}

/// Deterministic test signals (the machine has no speech recordings: /usr/share/sounds/alsa is absent).
enum Signals {
    /// A sine of `frequency` Hz at `amplitude` of full scale.
    static func tone(_ frequency: Double, amplitude: Double = 0.3, rate: Int, count: Int) -> [Int16] {
        (0..<count).map { Int16((sin(2 * .pi * frequency * Double($0) / Double(rate)) * amplitude * 32767).rounded()) }
    }

    /// A logarithmic sweep from 50 Hz to just under the Nyquist frequency.
    static func sweep(rate: Int, count: Int, amplitude: Double = 0.5) -> [Int16] {
        let f0 = 50.0, f1 = Double(rate) / 2 * 0.98
        let duration = Double(count) / Double(rate)
        let k = log(f1 / f0)
        return (0..<count).map { i in
            let t = Double(i) / Double(rate)
            let phase = 2 * .pi * f0 * duration / k * (exp(t / duration * k) - 1)
            return Int16((sin(phase) * amplitude * 32767).rounded())
        }
    }

    /// Seeded white noise over the whole Int16 range (exercises saturation and every quantizer level).
    static func noise(count: Int, seed: UInt64, amplitude: Double = 1.0) -> [Int16] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            let u = Double(Int64(bitPattern: state) >> 11) / Double(1 << 52)  // -1 ..< 1
            return Int16(max(-32768, min(32767, (u * amplitude * 32768).rounded())))
        }
    }

    /// Speech-like: a voiced vowel (120-140 Hz pitch with harmonics and formants) alternating every
    /// 150 ms with a fricative (noise shaped to 4-7 kHz, as in "s" and "f"), both at speech levels.
    static func speechLike(rate: Int, count: Int) -> [Int16] {
        var out = [Double](repeating: 0, count: count)
        var phase = 0.0
        let formants: [(Double, Double)] = [(700, 1.0), (1200, 0.6), (2600, 0.3)]
        var noiseState: UInt64 = 99
        var hp1 = 0.0, lp1 = 0.0, lp2 = 0.0
        for i in 0..<count {
            let t = Double(i) / Double(rate)
            let voiced = Int(t / 0.15) % 2 == 0
            if voiced {
                let f0 = 130 + 10 * sin(2 * .pi * 3 * t)
                phase += 2 * .pi * f0 / Double(rate)
                var v = 0.0
                var h = 1
                while Double(h) * f0 < Double(rate) / 2 * 0.9 && h <= 40 {
                    let f = Double(h) * f0
                    let gain = formants.reduce(0.0) { $0 + $1.1 / (1 + pow((f - $1.0) / 150, 2)) } + 0.02
                    v += gain * sin(Double(h) * phase) / Double(h).squareRoot()
                    h += 1
                }
                out[i] = v * 0.12
            } else {
                noiseState = noiseState &* 6364136223846793005 &+ 1442695040888963407
                let n = Double(Int64(bitPattern: noiseState) >> 11) / Double(1 << 52)
                // Crude band-pass: high-pass at about 4 kHz, then a two-pole low-pass near 7 kHz.
                let a = exp(-2 * .pi * 4000 / Double(rate))
                hp1 = a * (hp1 + n - lp1)
                lp1 = n
                let b = exp(-2 * .pi * 7000 / Double(rate))
                lp2 = b * lp2 + (1 - b) * hp1
                out[i] = lp2 * 0.5
            }
        }
        return out.map { Int16(max(-32768, min(32767, ($0 * 32767).rounded()))) }
    }
}

/// Least-squares fit of a sine of known frequency to `samples`: its amplitude (full scale 1.0) and the
/// ratio of its power to everything else (the SNR in dB). Independent of delay.
func sineFit(_ samples: ArraySlice<Int16>, frequency: Double, rate: Int) -> (amplitude: Double, snrDB: Double) {
    var ss = 0.0, cc = 0.0, sc = 0.0, xs = 0.0, xc = 0.0
    let w = 2 * Double.pi * frequency / Double(rate)
    for (k, v) in samples.enumerated() {
        let x = Double(v) / 32768
        let s = sin(w * Double(k)), c = cos(w * Double(k))
        ss += s * s; cc += c * c; sc += s * c; xs += x * s; xc += x * c
    }
    let det = ss * cc - sc * sc
    let a = (xs * cc - xc * sc) / det
    let b = (xc * ss - xs * sc) / det
    var signal = 0.0, residual = 0.0
    for (k, v) in samples.enumerated() {
        let x = Double(v) / 32768
        let fit = a * sin(w * Double(k)) + b * cos(w * Double(k))
        signal += fit * fit
        residual += (x - fit) * (x - fit)
    }
    return ((a * a + b * b).squareRoot(), 10 * log10(signal / max(residual, 1e-30)))
}

/// RMS level of a slice in dB relative to full scale.
func rmsDB(_ samples: ArraySlice<Int16>) -> Double {
    let sum = samples.reduce(0.0) { $0 + Double($1) * Double($1) }
    return 10 * log10(max(sum / Double(max(samples.count, 1)), 1e-30) / (32768.0 * 32768.0))
}
