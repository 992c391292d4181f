// vcbridge-bench mixer [--sites N] [--talkers K] [--g722 M] [--ticks T]
//
// The meeting's mixer tick as the media thread runs it, without sockets: N participants, the K
// loudest talking (distinct tones), the last M of them on G.722 (room systems: when M > 0 the last
// talker is one of them), every tick the talkers' inputs filled, `mix`, and every participant's
// payload fetched. Prints the median ns per tick, the encodes per tick and, with
// Scripts/bench/malloc_count.so preloaded, allocations per tick.
#if canImport(Glibc)
import Glibc
#endif
import AudioSignal
import Mixer
import Transport
import VoiceCodecs

func runMixer(_ arguments: [String]) {
    guard let sites = Int(option("--sites", in: arguments) ?? "147"), sites > 0, sites <= 256 else { fail("--sites must be 1-256") }
    guard let talkers = Int(option("--talkers", in: arguments) ?? "3"), talkers >= 0, talkers <= min(sites, 8) else {
        fail("--talkers must be 0-8 and at most --sites")
    }
    guard let g722 = Int(option("--g722", in: arguments) ?? "0"), g722 >= 0, g722 <= sites else { fail("--g722 must be 0-sites") }
    guard let ticks = Int(option("--ticks", in: arguments) ?? "3000"), ticks > 0, ticks <= 1_000_000 else {
        fail("--ticks must be 1-1000000")
    }
    var selection = TalkerSelector.Configuration()
    selection.maximumTalkers = max(1, talkers)
    let mixer: AudioMixer
    do { mixer = try AudioMixer(capacity: 256, talkers: selection) } catch { fail("\(error)") }
    // The talkers: the first K-1 sites and, when some sites are on G.722, the last site (a room system).
    var talking = [Bool](repeating: false, count: sites)
    for p in 0..<max(0, talkers - 1) { talking[p] = true }
    if talkers > 0 { talking[g722 > 0 ? sites - 1 : talkers - 1] = true }
    for p in 0..<sites {
        mixer.setCodec(p, p >= sites - g722 ? .g722 : nil)
        mixer.setPresent(p, true)
    }
    let tones: [[Int16]] = (0..<sites).map { p in
        talking[p] ? Tone.samples(frequency: 300 + 110 * Double(p % 20), amplitude: 0.2, count: 100 * 960) : []
    }
    var times = [Int64](repeating: 0, count: ticks)
    var bytes = 0
    func tick(_ t: Int) {
        mixer.selectTalkers { p in p < sites && talking[p] ? 12 : 120 }
        for p in 0..<sites where talking[p] && mixer.isTalker(p) {
            let input = mixer.input(for: p)
            let base = (t % 100) * 960
            tones[p].withUnsafeBufferPointer { tone in
                for i in 0..<960 { input[i] = tone[base + i] }
            }
        }
        do { try mixer.mix(sharedListeners: true) } catch { fail("\(error)") }
        for p in 0..<sites { bytes &+= mixer.payload(for: p).count }
    }
    for t in 0..<100 { tick(t) }
    let before = allocationCount?() ?? 0
    for t in 0..<ticks {
        let t0 = monotonicNanoseconds()
        tick(100 + t)
        times[t] = monotonicNanoseconds() - t0
    }
    let after = allocationCount?() ?? 0
    times.sort()
    let allocations = allocationCount == nil ? "n/a" : String(Double(after - before) / Double(ticks))
    print("sites=\(sites) talkers=\(talkers) g722_sites=\(g722) tick_ns=\(times[ticks / 2]) tick_p99_ns=\(times[ticks * 99 / 100]) "
          + "encodes_per_tick=\(mixer.encodesLastTick) allocations_per_tick=\(allocations) bytes=\(bytes)")
}
