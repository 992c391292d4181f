#if canImport(Glibc)
import Glibc
#endif
import Transport

/// A seeded user-space UDP impairment relay (this kernel has no netem): endpoints send their media
/// to it, it forwards each client's packets to the bridge from a socket of that client's own (so the
/// bridge sees one address per site) and the bridge's answers back, delaying, dropping and
/// duplicating packets in each direction by its profile. Runs until `stop` or `duration`.
public final class ImpairmentRelay {
    public struct Counters: Sendable, Equatable {
        public var forwarded = 0
        public var dropped = 0
        public var duplicated = 0
    }

    private struct Pending {
        let at: Int64
        let order: Int
        let bytes: [UInt8]
        let socket: Int  // index into sockets
        let destination: SocketAddress
    }

    public let listenAddress: SocketAddress
    private let listening: UDPSocket
    private let target: SocketAddress
    private let upstream: ImpairmentProfile
    private let downstream: ImpairmentProfile
    private let seed: UInt64
    private var sockets: [UDPSocket] = []
    private var clientOf: [Int: SocketAddress] = [:]  // socket index -> client
    private var socketFor: [SocketAddress: Int] = [:]
    private var upModels: [Int: ImpairmentModel] = [:]
    private var downModels: [Int: ImpairmentModel] = [:]
    private var queue: [Pending] = []
    private var order = 0
    /// Per client, the fate of each upstream packet in order: its delivery delays (empty: lost),
    /// and whether it was RTCP.
    public private(set) var upstreamFates: [SocketAddress: [(rtcp: Bool, delays: [Double])]] = [:]
    public private(set) var up = Counters()
    public private(set) var down = Counters()

    public init(listen: SocketAddress, target: SocketAddress, upstream: ImpairmentProfile, downstream: ImpairmentProfile, seed: UInt64) throws {
        listening = try UDPSocket(bindTo: listen, receiveBufferBytes: 4 << 20)
        listenAddress = listening.localAddress
        self.target = target
        self.upstream = upstream
        self.downstream = downstream
        self.seed = seed
        sockets = [listening]
    }

    @discardableResult
    private func schedule(_ bytes: [UInt8], model: inout ImpairmentModel, counters: inout Counters, socket: Int, to destination: SocketAddress, at time: Int64) -> [Double] {
        let delays = model.fate()
        if delays.isEmpty { counters.dropped += 1 }
        if delays.count > 1 { counters.duplicated += 1 }
        for d in delays {
            queue.append(Pending(at: time + Int64(d * 1_000_000), order: order, bytes: bytes, socket: socket, destination: destination))
            order += 1
        }
        return delays
    }

    /// Relays until `shouldStop` returns true (checked every 50 ms) or `seconds` pass.
    public func run(seconds: Double?, shouldStop: () -> Bool = { false }) throws {
        let start = monotonicNanoseconds()
        let batch = DatagramBatch(capacity: 32, slotSize: 2048)
        var fds: [pollfd] = []
        while true {
            let t = monotonicNanoseconds()
            if let seconds, Double(t - start) / 1e9 >= seconds { break }
            if shouldStop() { break }
            // Deliver what is due, in due order.
            queue.sort { $0.at != $1.at ? $0.at < $1.at : $0.order < $1.order }
            var delivered = 0
            for p in queue where p.at <= t {
                p.bytes.withUnsafeBytes { try? sockets[p.socket].send($0, to: p.destination) }
                delivered += 1
            }
            if delivered > 0 { queue.removeFirst(delivered) }
            let wait = queue.first.map { max(0, Int32(($0.at - t) / 1_000_000)) } ?? 50
            fds = sockets.map { pollfd(fd: $0.descriptorForPolling, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), min(wait, 50))
            guard ready > 0 else { continue }
            let arrival = monotonicNanoseconds()
            for i in 0..<fds.count where fds[i].revents & Int16(POLLIN) != 0 {
                let count = try sockets[i].receive(into: batch)
                for j in 0..<count {
                    guard let from = batch.address(j) else { continue }
                    let bytes = Array(batch.datagram(j))
                    if i == 0 {
                        // From a client: forward to the bridge from that client's own socket.
                        let index: Int
                        if let known = socketFor[from] {
                            index = known
                        } else {
                            let socket = try UDPSocket(bindTo: try SocketAddress(ip: target.description.hasPrefix("[") ? "::1" : "127.0.0.1", port: 0))
                            sockets.append(socket)
                            index = sockets.count - 1
                            socketFor[from] = index
                            clientOf[index] = from
                            upModels[index] = ImpairmentModel(profile: upstream, seed: seed &+ UInt64(index) &* 2)
                            downModels[index] = ImpairmentModel(profile: downstream, seed: seed &+ UInt64(index) &* 2 &+ 1)
                        }
                        let delays = schedule(bytes, model: &upModels[index]!, counters: &up, socket: index, to: target, at: arrival)
                        upstreamFates[from, default: []].append((bytes.count > 1 && bytes[1] >= 200 && bytes[1] <= 206, delays))
                        up.forwarded += 1
                    } else if let client = clientOf[i] {
                        schedule(bytes, model: &downModels[i]!, counters: &down, socket: 0, to: client, at: arrival)
                        down.forwarded += 1
                    }
                }
            }
        }
    }
}
