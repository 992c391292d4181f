/// How many bytes the SIP listener may still answer a UDP address that has no call with: what it received from that
/// address, less what it answered. A forged UDP source (the victim of a reflection attack) thus never gets more from
/// the bridge than the attacker spent, 100 Trying and retransmitted 401s included; a peer with a call is not counted
/// (the caller checks that). Bounded: at most ``capacity`` addresses; when full, those quiet for
/// ``quietMilliseconds`` are forgotten, or all if none is (a forgotten allowance is lost, the safe way round).
struct SIPSendAllowance {
    private var bytes: [String: (left: Int, touched: Int64)] = [:]
    /// Addresses the allowance remembers.
    var count: Int { bytes.count }
    let capacity: Int
    let quietMilliseconds: Int64
    /// Answers not sent for want of allowance (for `status`-style counting and tests).
    private(set) var withheld = 0

    init(capacity: Int = 4096, quietMilliseconds: Int64 = 10_000) {
        self.capacity = capacity
        self.quietMilliseconds = quietMilliseconds
    }

    /// Bytes came from `host` (a whole datagram, or what a stream delivered).
    mutating func received(_ count: Int, from host: String, now: Int64) {
        if bytes[host] == nil, bytes.count >= capacity {
            bytes = bytes.filter { now - $0.value.touched < quietMilliseconds }
            if bytes.count >= capacity { bytes.removeAll(keepingCapacity: true) }
        }
        let left = bytes[host]?.left ?? 0
        bytes[host] = (left: min(left + count, 1 << 24), touched: now)
    }

    /// Takes `count` bytes of `host`'s allowance: false (nothing taken) when it has fewer left.
    mutating func spend(_ count: Int, to host: String) -> Bool {
        guard let entry = bytes[host], entry.left >= count else {
            withheld += 1
            return false
        }
        bytes[host] = (left: entry.left - count, touched: entry.touched)
        return true
    }
}
