// vcbridge-bench: micro-benchmarks driven by Scripts/bench-*.sh (never by the test suite).
//
//   vcbridge-bench srtp --profile cm|gcm --size BYTES --packets N
//   vcbridge-bench schedule-fill|schedule-load|schedule-book ... (see ScheduleBench.swift)
//   vcbridge-bench codecs [--frames N] (see CodecBench.swift)
//   vcbridge-bench mixer [--sites N] [--talkers K] [--g722 M] [--ticks T] (see MixerBench.swift)
//   vcbridge-bench jitter-replay --sent FILE --fate FILE --out WAV [--phase MS] [--stretch] (see JitterReplay.swift)
//   vcbridge-bench hostile-joins --target HOST:PORT --site ID [--seconds S] [--rate N] (forged joins; see HostileJoins.swift)
//
// Per packet: set sequence number and timestamp, SRTP protect, SRTP unprotect, parse the RTP
// header (the bridge's receive path plus its send path), all in one preallocated buffer.
// Prints `ns_per_packet=… allocations_per_packet=…`; allocations are counted only when the
// process runs with Scripts/bench/malloc_count.so preloaded (else "n/a").
#if canImport(Glibc)
import Glibc
#endif
import RTP
import SRTP
import Transport


/// The preloaded allocation counter, if any.
let allocationCount: (@convention(c) () -> UInt)? = {
    guard let symbol = dlsym(nil, "vcb_alloc_count") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) () -> UInt).self)
}()

func fail(_ message: String) -> Never {
    let line = "vcbridge-bench: \(message)\n"
    _ = line.withCString { write(2, $0, strlen($0)) }
    exit(64)
}

func option(_ name: String, in arguments: [String]) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

func runSRTP(_ arguments: [String]) {
    let profile: SRTPProfile
    switch option("--profile", in: arguments) ?? "cm" {
    case "cm": profile = .aesCM128HMACSHA1_80
    case "gcm": profile = .aeadAES128GCM
    case let other: fail("unknown --profile '\(other)' (cm or gcm)")
    }
    guard let size = Int(option("--size", in: arguments) ?? "100"), size >= 20, size <= 1400 else {
        fail("--size must be 20-1400 bytes")
    }
    guard let packets = Int(option("--packets", in: arguments) ?? "200000"), packets > 0 else {
        fail("--packets must be positive")
    }

    // The same fixed key as the C floor program, so both do identical work.
    let key = (0..<profile.keyingMaterialLength).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
    let sender: SRTPSession
    let receiver: SRTPSession
    do {
        sender = try SRTPSession(profile: profile, direction: .outbound, keyingMaterial: key)
        receiver = try SRTPSession(profile: profile, direction: .inbound, keyingMaterial: key)
    } catch {
        fail("\(error)")
    }

    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size + SRTPSession.maxTrailerLength, alignment: 16)
    defer { buffer.deallocate() }
    buffer.initializeMemory(as: UInt8.self, repeating: 0xAB)
    do {
        _ = try RTPHeader.write(into: buffer, payloadType: 111, sequenceNumber: 0, timestamp: 0, ssrc: 0xDECA_FBAD)
    } catch {
        fail("\(error)")
    }

    var checksum = 0
    func loop(_ count: Int, from start: Int) throws {
        for i in start..<(start + count) {
            let seq = UInt16(truncatingIfNeeded: i)
            buffer.storeBytes(of: seq.bigEndian, toByteOffset: 2, as: UInt16.self)
            buffer.storeBytes(of: (UInt32(truncatingIfNeeded: i) &* 960).bigEndian, toByteOffset: 4, as: UInt32.self)
            let protected = try sender.protectRTP(buffer, length: size)
            let plain = try receiver.unprotectRTP(buffer, length: protected)
            let header = try RTPHeader(parsing: UnsafeRawBufferPointer(rebasing: buffer[0..<plain]))
            checksum &+= header.payloadRange.count &+ Int(header.sequenceNumber)
        }
    }

    do {
        // Warm up (also creates libsrtp2's per-SSRC stream state, a one-time allocation).
        try loop(1000, from: 0)
        let allocationsBefore = allocationCount?() ?? 0
        let t0 = monotonicNanoseconds()
        try loop(packets, from: 1000)
        let t1 = monotonicNanoseconds()
        let allocationsAfter = allocationCount?() ?? 0
        let nsPerPacket = Double(t1 - t0) / Double(packets)
        let allocations = allocationCount == nil
            ? "n/a" : String(Double(allocationsAfter - allocationsBefore) / Double(packets))
        print("ns_per_packet=\(nsPerPacket) allocations_per_packet=\(allocations) checksum=\(checksum)")
    } catch {
        fail("\(error)")
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())
switch arguments.first {
case "srtp": runSRTP(Array(arguments.dropFirst()))
case "schedule-fill": runScheduleFill(Array(arguments.dropFirst()))
case "schedule-load": runScheduleLoad(Array(arguments.dropFirst()))
case "schedule-book": runScheduleBook(Array(arguments.dropFirst()))
case "opus-floor": runOpusFloor(Array(arguments.dropFirst()))
case "mouth-to-ear": runMouthToEar(Array(arguments.dropFirst()))
case "jitter-replay": runJitterReplay(Array(arguments.dropFirst()))
case "codecs": runCodecs(Array(arguments.dropFirst()))
case "mixer": runMixer(Array(arguments.dropFirst()))
case "hostile-joins": runHostileJoins(Array(arguments.dropFirst()))
default: fail("usage: vcbridge-bench srtp|schedule-fill|schedule-load|schedule-book|opus-floor|mouth-to-ear|codecs ...")
}
