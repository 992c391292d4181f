// vcbridge-bench hostile-joins --target HOST:PORT --site ID [--seconds S] [--rate N] [--sources K] [--threads T]
//                              [--concurrency C] [--connect-wait-ms 250] [--answer-wait-ms 6000]
//
// Forged joins at the bridge's join (signalling) listener at N a second for S seconds (Scripts/hostile.sh),
// loopback only: each a TCP connection from one of K source addresses (127.0.2.1, 127.0.2.2, ...; the
// kernel picks the port per connection), one of five forgeries written at once, then whatever the bridge
// answers read until it closes (or 6 s). The forgeries, in turn:
//   wrong-proof   a hello for the real site ID with a fresh nonce, and a random proof
//   unknown-site  a hello for a site the bridge does not know
//   replay        the same hello and proof every time (as if captured and replayed), nonce included
//   malformed     a hello of the wrong version, or a nonce of the wrong length
//   garbage       random bytes, then a newline
// Stops by itself: no connection is started after S seconds, none is kept past S + 6 seconds (one not connected
// after 250 ms had its SYN dropped by a full listen queue: given up, counted as not accepted; one unanswered
// after 6 s is given up, counted as held open).
// Prints one JSON object: per forgery and in all, the joins started and written (all their bytes accepted
// by the kernel), bytes sent and received, and what the bridge answered (welcome = accepted: must be 0).
// Rates (over the attack's S seconds): ratePerSecond of joins written (that reached the bridge),
// startedPerSecond of connections attempted.
#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization

private enum Forgery: Int, CaseIterable {
    case wrongProof, unknownSite, replay, malformed, garbage
    var name: String { ["wrong-proof", "unknown-site", "replay", "malformed", "garbage"][rawValue] }
}

/// What one forgery (or all) achieved.
private struct JoinTally {
    var started = 0
    var connectFailed = 0
    var written = 0
    var sentBytes = 0
    var receivedBytes = 0
    var welcomed = 0
    var challenged = 0
    var refused = 0
    var closedSilently = 0
    var heldOpen = 0
    var notAccepted = 0

    mutating func add(_ other: JoinTally) {
        started += other.started; connectFailed += other.connectFailed; written += other.written
        sentBytes += other.sentBytes; receivedBytes += other.receivedBytes; welcomed += other.welcomed
        challenged += other.challenged; refused += other.refused; closedSilently += other.closedSilently
        heldOpen += other.heldOpen; notAccepted += other.notAccepted
    }

    func json(seconds: Double) -> String {
        let rate = Int((Double(written) / seconds).rounded())
        return #"{"started": \#(started), "written": \#(written), "connectFailed": \#(connectFailed), "sentBytes": \#(sentBytes), "#
            + #""receivedBytes": \#(receivedBytes), "accepted": \#(welcomed), "challenged": \#(challenged), "refused": \#(refused), "#
            + #""closedSilently": \#(closedSilently), "heldOpen": \#(heldOpen), "notAccepted": \#(notAccepted), "#
            + #""ratePerSecond": \#(rate), "startedPerSecond": \#(Int((Double(started) / seconds).rounded()))}"#
    }
}

/// One attacking thread: its own connections, polled without blocking, and its own tallies.
private final class JoinAttacker: @unchecked Sendable {
    /// Per open connection (by slot): what it is, what is left to write, what came back.
    private struct Connection {
        var fd: Int32 = -1
        var forgery = Forgery.garbage
        var payloadLength = 0
        var written = 0
        var started: Int64 = 0
        var answer = 0  // bytes kept of the answer (at most answerRoom)
        var received = 0
        var connected = false
    }

    static let payloadRoom = 512
    static let answerRoom = 512
    let target: sockaddr_in
    let site: [UInt8]
    let rate: Double
    let seconds: Double
    let sources: [in_addr]
    let concurrency: Int
    let connectWait: Int64
    let answerWait: Int64
    private var connections: [Connection]
    private var free: [Int]
    private var fds: [pollfd]
    private var slotOfPoll: [Int]
    private let payloads: UnsafeMutablePointer<UInt8>
    private let answers: UnsafeMutablePointer<UInt8>
    private var scratch = [UInt8](repeating: 0, count: 4096)
    private var random: UInt64
    var tallies = [JoinTally](repeating: JoinTally(), count: Forgery.allCases.count)
    /// The replayed hello's nonce and proof: the same on every connection of every thread.
    private static let replayNonce = String(repeating: "5a", count: 32)
    private static let replayProof = String(repeating: "c3", count: 32)

    init(target: sockaddr_in, site: String, rate: Double, seconds: Double, sources: [in_addr], concurrency: Int, seed: UInt64,
         connectWaitMilliseconds: Int, answerWaitMilliseconds: Int) {
        connectWait = Int64(connectWaitMilliseconds) * 1_000_000
        answerWait = Int64(answerWaitMilliseconds) * 1_000_000
        self.target = target
        self.site = Array(site.utf8)
        self.rate = rate
        self.seconds = seconds
        self.sources = sources
        self.concurrency = concurrency
        connections = [Connection](repeating: Connection(), count: concurrency)
        free = Array((0..<concurrency).reversed())
        fds = []
        fds.reserveCapacity(concurrency)
        slotOfPoll = []
        slotOfPoll.reserveCapacity(concurrency)
        payloads = .allocate(capacity: concurrency * Self.payloadRoom)
        answers = .allocate(capacity: concurrency * Self.answerRoom)
        random = seed | 1
    }

    deinit {
        payloads.deallocate()
        answers.deallocate()
    }

    private func next() -> UInt64 {  // xorshift64*: forgeries need not be unpredictable, only varied
        random ^= random >> 12; random ^= random << 25; random ^= random >> 27
        return random &* 2_685_821_657_736_338_717
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Writes the forgery's bytes into `out`; returns their length (at most payloadRoom).
    private func forge(_ forgery: Forgery, into out: UnsafeMutablePointer<UInt8>) -> Int {
        var n = 0
        func put(_ s: String) { for b in s.utf8 where n < Self.payloadRoom { out[n] = b; n += 1 } }
        func put(_ bytes: [UInt8]) { for b in bytes where n < Self.payloadRoom { out[n] = b; n += 1 } }
        func hex(_ count: Int) {
            var word = next()
            for i in 0..<count where n < Self.payloadRoom {
                if i % 16 == 0 { word = next() }
                out[n] = Self.hexDigits[Int(word & 15)]; word >>= 4; n += 1
            }
        }
        switch forgery {
        case .wrongProof:
            put(#"{"type":"hello","version":1,"site":""#); put(site); put(#"","nonce":""#); hex(64)
            put(#""}"# + "\n" + #"{"type":"proof","proof":""#); hex(64); put(#""}"# + "\n")
        case .unknownSite:
            put(#"{"type":"hello","version":1,"site":"forged-"#); hex(12); put(#"","nonce":""#); hex(64)
            put(#""}"# + "\n" + #"{"type":"proof","proof":""#); hex(64); put(#""}"# + "\n")
        case .replay:
            put(#"{"type":"hello","version":1,"site":""#); put(site); put(#"","nonce":""# + Self.replayNonce)
            put(#""}"# + "\n" + #"{"type":"proof","proof":""# + Self.replayProof + #""}"# + "\n")
        case .malformed:
            if next() & 1 == 0 {
                put(#"{"type":"hello","version":2,"site":""#); put(site); put(#"","nonce":""#); hex(64); put(#""}"# + "\n")
            } else {
                put(#"{"type":"hello","version":1,"site":""#); put(site); put(#"","nonce":""#); hex(30); put(#""}"# + "\n")
            }
        case .garbage:
            let length = 1 + Int(next() % 300)
            for _ in 0..<length {
                let b = UInt8(truncatingIfNeeded: next() >> 7)
                out[n] = b == 10 ? 11 : b; n += 1
            }
            out[n] = 10; n += 1
        }
        return n
    }

    private func startConnection(_ count: Int, now: Int64) {
        guard let slot = free.popLast() else { return }
        let forgery = Forgery(rawValue: count % Forgery.allCases.count)!
        tallies[forgery.rawValue].started += 1
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else {
            tallies[forgery.rawValue].connectFailed += 1
            free.append(slot)
            return
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_IP), 24 /* IP_BIND_ADDRESS_NO_PORT: the port chosen per destination */, &one, 4)
        // Closed with a reset: no TIME_WAIT, so 600,000 connections a minute do not run out of ports.
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        var source = sockaddr_in()
        source.sin_family = sa_family_t(AF_INET)
        source.sin_addr = sources[count % sources.count]
        var destination = target
        let bound = withUnsafePointer(to: &source) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected = bound == 0 ? withUnsafePointer(to: &destination) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } : -1
        guard bound == 0, connected == 0 || errno == EINPROGRESS else {
            close(fd)
            tallies[forgery.rawValue].connectFailed += 1
            free.append(slot)
            return
        }
        let length = forge(forgery, into: payloads + slot * Self.payloadRoom)
        connections[slot] = Connection(fd: fd, forgery: forgery, payloadLength: length, written: 0, started: now, answer: 0, received: 0,
                                       connected: false)
        fds.append(pollfd(fd: fd, events: Int16(POLLOUT | POLLIN), revents: 0))
        slotOfPoll.append(slot)
    }

    /// Closes the connection at poll position `i` and tallies how it ended.
    private func finish(_ i: Int, heldOpen: Bool = false) {
        let slot = slotOfPoll[i]
        let c = connections[slot]
        close(c.fd)
        var t = tallies[c.forgery.rawValue]
        t.receivedBytes += c.received
        let answer = UnsafeBufferPointer(start: answers + slot * Self.answerRoom, count: c.answer)
        func has(_ word: String) -> Bool {
            let w = Array(word.utf8)
            guard answer.count >= w.count else { return false }
            return (0...(answer.count - w.count)).contains { start in (0..<w.count).allSatisfy { answer[start + $0] == w[$0] } }
        }
        if has(#""welcome""#) { t.welcomed += 1 }
        if has(#""challenge""#) { t.challenged += 1 }
        if has(#""refused""#) { t.refused += 1 }
        if heldOpen && !c.connected {
            t.notAccepted += 1  // the listener's queue was full: the kernel dropped its SYNs
        } else if heldOpen {
            t.heldOpen += 1
        } else if c.received == 0 {
            t.closedSilently += 1
        }
        tallies[c.forgery.rawValue] = t
        free.append(slot)
        fds.swapAt(i, fds.count - 1); fds.removeLast()
        slotOfPoll.swapAt(i, slotOfPoll.count - 1); slotOfPoll.removeLast()
    }

    private func service(_ i: Int) -> Bool {  // false: the connection is over
        let slot = slotOfPoll[i]
        let revents = Int32(fds[i].revents)
        if revents & Int32(POLLOUT) != 0 { connections[slot].connected = true }
        if revents & Int32(POLLOUT) != 0, connections[slot].written < connections[slot].payloadLength {
            let c = connections[slot]
            let n = send(c.fd, payloads + slot * Self.payloadRoom + c.written, c.payloadLength - c.written, Int32(MSG_NOSIGNAL))
            if n > 0 {
                connections[slot].written += n
                tallies[c.forgery.rawValue].sentBytes += n
                if connections[slot].written == c.payloadLength {
                    tallies[c.forgery.rawValue].written += 1
                    fds[i].events = Int16(POLLIN)
                }
            } else if n < 0 && errno != EAGAIN && errno != EINPROGRESS {
                return false
            }
        }
        if revents & Int32(POLLIN | POLLHUP | POLLERR) != 0 {
            while true {
                let n = scratch.withUnsafeMutableBytes { recv(connections[slot].fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n > 0 {
                    let keep = min(n, Self.answerRoom - connections[slot].answer)
                    if keep > 0 {
                        scratch.withUnsafeBytes { source in
                            (answers + slot * Self.answerRoom + connections[slot].answer)
                                .update(from: source.bindMemory(to: UInt8.self).baseAddress!, count: keep)
                        }
                        connections[slot].answer += keep
                    }
                    connections[slot].received += n
                    continue
                }
                if n == 0 { return false }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                return false
            }
        }
        return revents & Int32(POLLERR | POLLNVAL) == 0
    }

    func run() {
        let start = monotonic()
        let end = start + Int64(seconds * 1e9)
        var count = 0
        var nextSweep = start
        while true {
            let now = monotonic()
            if now >= end && fds.isEmpty { break }
            if now < end {
                let due = Int(Double(now - start) / 1e9 * rate) - count
                for _ in 0..<min(max(0, due), 256) where !free.isEmpty {
                    startConnection(count, now: now)
                    count += 1
                }
            }
            let ready = poll(&fds, nfds_t(fds.count), 1)
            if ready > 0 {
                var i = fds.count - 1
                while i >= 0 {
                    if fds[i].revents != 0, !service(i) { finish(i) }
                    i -= 1
                }
            }
            // A connection unanswered after `answerWait` is given up (the bridge closes an unauthenticated one 5 s
            // after accept: 6 s shows that). One not connected after `connectWait` had its SYN dropped (the listen
            // queue was full; the kernel would retry after 1 s): given up too, so that the attempts go on at the
            // rate asked whatever the bridge accepts. (Checked every 50 ms.)
            let late = monotonic()
            if late >= nextSweep {
                nextSweep = late + 50_000_000
                var i = fds.count - 1
                while i >= 0 {
                    let c = connections[slotOfPoll[i]]
                    if late - c.started > answerWait || late >= end + answerWait || (!c.connected && late - c.started > connectWait) {
                        finish(i, heldOpen: true)
                    }
                    i -= 1
                }
            }
        }
    }
}

private func monotonic() -> Int64 {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Int64(t.tv_sec) * 1_000_000_000 + Int64(t.tv_nsec)
}

func runHostileJoins(_ arguments: [String]) {
    guard let targetText = option("--target", in: arguments), let colon = targetText.lastIndex(of: ":"),
          let port = UInt16(targetText[targetText.index(after: colon)...]) else { fail("--target HOST:PORT is required") }
    var address = in_addr()
    guard inet_pton(AF_INET, String(targetText[..<colon]), &address) == 1, UInt32(bigEndian: address.s_addr) >> 24 == 127 else {
        fail("--target must be a loopback IPv4 address (127.x.x.x): the attack never leaves this machine")
    }
    guard let site = option("--site", in: arguments), !site.isEmpty, site.utf8.allSatisfy({ $0 > 32 && $0 != 34 && $0 != 92 && $0 < 127 })
    else { fail("--site ID (a site of the meeting, named in the forged hellos) is required") }
    guard let seconds = Double(option("--seconds", in: arguments) ?? "10"), seconds > 0, seconds <= 3600 else {
        fail("--seconds must be 0-3600")
    }
    guard let rate = Double(option("--rate", in: arguments) ?? "10000"), rate > 0, rate <= 200_000 else { fail("--rate must be 1-200000") }
    guard let sourceCount = Int(option("--sources", in: arguments) ?? "500"), sourceCount >= 1, sourceCount <= 250 * 200 else {
        fail("--sources must be 1-50000")
    }
    guard let threads = Int(option("--threads", in: arguments) ?? "2"), threads >= 1, threads <= 16 else { fail("--threads must be 1-16") }
    guard let concurrency = Int(option("--concurrency", in: arguments) ?? "12000"), concurrency >= 1, concurrency <= 30_000 else {
        fail("--concurrency must be 1-30000")
    }
    guard let connectWait = Int(option("--connect-wait-ms", in: arguments) ?? "250"), connectWait >= 10, connectWait <= 10_000 else {
        fail("--connect-wait-ms must be 10-10000")
    }
    guard let answerWait = Int(option("--answer-wait-ms", in: arguments) ?? "6000"), answerWait >= 10, answerWait <= 10_000 else {
        fail("--answer-wait-ms must be 10-10000")
    }
    var limit = rlimit()
    getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    limit.rlim_cur = limit.rlim_max
    setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)

    var target = sockaddr_in()
    target.sin_family = sa_family_t(AF_INET)
    target.sin_port = port.bigEndian
    target.sin_addr = address
    // 127.0.2.1 ... 127.0.2.250, 127.0.3.1 ...: the bridge caps pending joins per address.
    let sources = (0..<sourceCount).map { (i: Int) -> in_addr in
        let host: UInt32 = 127 << 24 | UInt32(2 + i / 250) << 8 | UInt32(1 + i % 250)
        return in_addr(s_addr: host.bigEndian)
    }
    let attackers = (0..<threads).map { t in
        JoinAttacker(target: target, site: site, rate: rate / Double(threads), seconds: seconds,
                     sources: stride(from: t, to: sources.count, by: threads).map { sources[$0] },
                     concurrency: max(1, concurrency / threads), seed: UInt64(getpid()) << 8 | UInt64(t + 1),
                     connectWaitMilliseconds: connectWait, answerWaitMilliseconds: answerWait)
    }
    let done = DispatchGroup()
    for attacker in attackers {
        done.enter()
        Thread { attacker.run(); done.leave() }.start()
    }
    done.wait()
    var all = JoinTally()
    var kinds: [String] = []
    for forgery in Forgery.allCases {
        var t = JoinTally()
        for attacker in attackers { t.add(attacker.tallies[forgery.rawValue]) }
        all.add(t)
        kinds.append("\"\(forgery.name)\": \(t.json(seconds: seconds))")
    }
    let whole = all.json(seconds: seconds)
    print(#"{"listener": "join (TCP) forged", "seconds": \#(seconds), "targetRate": \#(Int(rate)), "sources": \#(sourceCount), "#
          + whole.dropFirst().dropLast() + #", "sent": \#(all.written), "forgeries": {\#(kinds.joined(separator: ", "))}}"#)
}
