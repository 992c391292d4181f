#if canImport(Glibc)
import Glibc
#endif
import DTLS
import KeyDerivation
import SIP
import Transport

/// The SIP listener for room systems (RFC 3261 over UDP and TCP on one port, and TLS on a second when configured, with
/// the bridge's certificate through NSS): one thread owns the sockets, every TCP or TLS connection, the transaction table and the calls; timers run from its loop (`advance(now:)`), never on the media
/// thread. What a call does is in `SIPFrontEnd+Calls.swift`; like the native join and the WebRTC front-end, it only
/// authenticates a site (digest, `SIPDigestPassword`), finds its booking and admits it through the session table.
///
/// Bounded: a datagram over 16 KiB is dropped, a stream message over 64 KiB closes its connection (the framer's
/// limits); at most ``Limits/maxConnections`` TCP connections, ``Limits/maxConnectionsPerPeer`` from one peer group,
/// each closed after ``Limits/firstMessageMilliseconds`` without a whole message and after
/// ``Limits/idleMilliseconds`` without a byte unless a call uses it; transactions by `SIPTransactionTable`'s caps.
/// Responses go only to where their request came from (the UDP source, `received`/`rport` written into the Via, or
/// the same TCP connection).
final class SIPFrontEnd: @unchecked Sendable {
    struct Limits {
        var maxConnections = 256
        var maxConnectionsPerPeer = 16
        var firstMessageMilliseconds: Int64 = 10_000
        var idleMilliseconds: Int64 = 120_000
        var maxCalls = 256
        var maxCallsPerPeer = 16
        /// Wrong digest answers from one peer for one username before it is refused with 403 (and for how long).
        var authenticationAttempts = 3
        var authenticationWindowMilliseconds: Int64 = 300_000
    }

    /// One TCP connection (accepted, or opened to call a hall) and the bytes of its next message.
    final class Stream {
        let connection: TCPConnection
        let peer: SocketAddress
        /// For a connection to the TLS port: NSS's side of it, and whether its handshake is done. Driven from the poll
        /// loop without waiting (each call's deadline is now: a record not yet whole is "not yet"). A connection the
        /// bridge opened over TLS comes with its client handshake done (`SIPDialResolver`).
        let tls: (any SIPTLSLink)?
        var handshaken = false
        var transport: SIPTransportKind { tls == nil ? .tcp : .tls }
        var framer = SIPStreamFramer()
        /// A connection the bridge opened to call a hall over TCP (`SIPDialResolver`), not one it accepted.
        var outgoing = false
        let acceptedAt: Int64
        var lastByteAt: Int64
        var lastMessageAt: Int64
        /// When the bytes the framer holds (the start of a message not yet whole) began to come; nil when it holds none.
        var partialSince: Int64?
        var messages = 0
        init(connection: TCPConnection, peer: SocketAddress, tls: (any SIPTLSLink)?, now: Int64) {
            self.connection = connection
            self.peer = peer
            self.tls = tls
            acceptedAt = now
            lastByteAt = now
            lastMessageAt = now
        }
    }

    unowned let bridge: BridgeServer
    let limits: Limits
    let udp: UDPSocket
    let tcp: TCPListener
    /// Where SIP is reached (the UDP and TCP port are the same).
    let address: SocketAddress
    /// SIP over TLS: its listener and NSS context, when on.
    let tlsListener: TCPListener?
    let tlsContext: TLSServerContext?
    /// The SHA-256 of the bridge's certificate, as a far end calling it over TLS (or another bridge cascading up to
    /// it) pins it (`sip.dialOutTLSFingerprints`).
    let tlsFingerprint: String
    var tlsAddress: SocketAddress? { tlsListener?.localAddress }
    var table: SIPTransactionTable
    var challenger: DigestChallenger
    let validator = SIPRequestValidator()
    var streams: [SocketAddress: Stream] = [:]
    var calls: [String: SIPCall] = [:]
    /// Client transactions the bridge started (BYE, UPDATE refreshes), by the Call-ID of their call.
    var clientTransactions: [SIPTransactionID: String] = [:]
    /// Server INVITE transactions answered 200, by Call-ID (an unacknowledged 2xx ends its call).
    var invites: [SIPTransactionID: String] = [:]
    /// Wrong digest answers per peer host and username: how many, since when.
    var failures: [String: (count: Int, since: Int64)] = [:]
    var refusals = RefusalSummary()
    /// What each address that has no call may still be answered with (bytes received less bytes answered).
    var allowance = SIPSendAllowance()
    /// The halls this bridge calls itself and the calls it is placing (`SIPFrontEnd+DialOut.swift`).
    var dialOut = SIPDialOut()
    /// Per-site policy: registered addresses, plain RTP, keys only over TLS (`sip.sites`, `sip.keysRequireTLS`).
    var sitePolicies = SIPSitePolicies()
    private let datagrams = DatagramBatch(capacity: 16, slotSize: SIPLimits.datagram.maxMessageBytes + 1)
    private var readBuffer = [UInt8](repeating: 0, count: 16 * 1024)
    private var acceptTrouble = AcceptTrouble()
    /// After a failed accept the listener is not polled until then (nanoseconds), so the loop cannot spin.
    private var acceptPausedUntil: Int64 = 0

    /// Binds UDP and TCP on `host`'s address and `port` (0: one the kernel chooses, the same for both).
    init(bridge: BridgeServer, host: SocketAddress, port: UInt16, tlsPort: UInt16?, certificate: DTLSCertificate,
         limits: Limits = Limits()) throws {
        self.bridge = bridge
        self.limits = limits
        tlsFingerprint = String(certificate.fingerprint.sdpValue.dropFirst("sha-256 ".count))
        var bound: (UDPSocket, TCPListener)? = nil
        var lastError: Error? = nil
        for _ in 0..<(port == 0 ? 16 : 1) {
            do {
                let udp = try UDPSocket(bindTo: host.with(port: port), receiveBufferBytes: 1 << 20)
                do {
                    bound = (udp, try TCPListener(bindTo: host.with(port: udp.localAddress.port), backlog: 256))
                    break
                } catch {
                    udp.close()  // the kernel's UDP port is taken for TCP: try another
                    lastError = error
                }
            } catch {
                lastError = error
                break
            }
        }
        guard let bound else { throw BridgeError("cannot listen for SIP on port \(port): \(lastError.map { "\($0)" } ?? "-")") }
        (udp, tcp) = bound
        tcp.setNonBlocking()
        address = udp.localAddress
        if let tlsPort {
            do {
                tlsContext = try TLSServerContext(certificate: certificate)
                tlsListener = try TCPListener(bindTo: host.with(port: tlsPort), backlog: 256)
            } catch {
                throw BridgeError("cannot listen for SIP over TLS on port \(tlsPort): \(error)")
            }
            tlsListener?.setNonBlocking()
        } else {
            tlsContext = nil
            tlsListener = nil
        }
        let seed = (try? SecureRandom.bytes(6)).map(Self.hex) ?? "vcb"
        table = SIPTransactionTable(maxTransactions: 4096, maxPerPeer: 64, tagSeed: seed)
        challenger = DigestChallenger(realm: "vcbridge", secret: (try? SecureRandom.bytes(32)) ?? [])
        let settings = bridge.options.settings
        sitePolicies = try SIPSitePolicies(settings: settings, directory: bridge.directory)
        dialOut = try SIPDialOut(settings: settings.sipDialOut, ringSeconds: settings.sipDialOutRingSeconds,
                                 cascadeCredentials: settings.sipCascadeCredentials, directory: bridge.directory,
                                 tls: try SIPDialTLS(pinned: settings.sipDialOutTLSFingerprints, caFile: settings.sipDialOutTLSCAFile))
    }

    /// Milliseconds on the monotonic clock (the SIP layer's time).
    static func milliseconds() -> Int64 { monotonicNanoseconds() / 1_000_000 }

    static func hex(_ bytes: [UInt8]) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    /// A random token for tags and branches.
    static func token() -> String { hex((try? SecureRandom.bytes(8)) ?? [UInt8](repeating: 7, count: 8)) }

    /// The address without its port (IPv6 without brackets), as SIP writes hosts in Via `received`.
    static func host(of address: SocketAddress) -> String {
        let text = address.description
        if text.hasPrefix("["), let end = text.firstIndex(of: "]") { return String(text[text.index(after: text.startIndex)..<end]) }
        return String(text[..<(text.lastIndex(of: ":") ?? text.endIndex)])
    }

    // MARK: The loop

    func run() {
        if let tlsAddress {
            Log.info("sip-listening", ["address": address, "transports": "udp,tcp", "tls": tlsAddress, "tlsFingerprint": tlsFingerprint])
        } else {
            Log.info("sip-listening", ["address": address, "transports": "udp,tcp", "tls": "off"])
        }
        var descriptors: [pollfd] = []
        var order: [SocketAddress] = []
        while bridge.isRunning {
            let now = Self.milliseconds()
            descriptors.removeAll(keepingCapacity: true)
            order.removeAll(keepingCapacity: true)
            descriptors.append(pollfd(fd: udp.descriptorForPolling, events: Int16(POLLIN), revents: 0))
            let listening = monotonicNanoseconds() < acceptPausedUntil ? -1 : tcp.pollDescriptor
            descriptors.append(pollfd(fd: listening, events: Int16(POLLIN), revents: 0))
            let listeningTLS = monotonicNanoseconds() < acceptPausedUntil ? -1 : (tlsListener?.pollDescriptor ?? -1)
            descriptors.append(pollfd(fd: listeningTLS, events: Int16(POLLIN), revents: 0))
            for (peer, stream) in streams {
                order.append(peer)
                descriptors.append(pollfd(fd: stream.connection.pollDescriptor, events: Int16(POLLIN), revents: 0))
            }
            var wait: Int64 = 100
            if let deadline = table.nextDeadline { wait = max(0, min(wait, deadline - now)) }
            let ready = (try? pollReadable(&descriptors, nanoseconds: wait * 1_000_000)) ?? 0
            let after = Self.milliseconds()
            if ready > 0 {
                if descriptors[0].revents != 0 { receiveDatagrams(now: after) }
                if descriptors[1].revents != 0 { acceptConnections(on: tcp, now: after) }
                if descriptors[2].revents != 0, let tlsListener { acceptConnections(on: tlsListener, now: after) }
                for (index, peer) in order.enumerated() where descriptors[index + 3].revents != 0 {
                    if let stream = streams[peer] { read(stream, now: after) }
                }
            }
            if let failed = acceptTrouble.ended(now: monotonicNanoseconds()) { Log.info("sip-accept-recovered", ["failures": failed]) }
            deliver(table.advance(now: after), now: after)
            followCalls(now: after)
            sendPictureFastUpdates(now: after)  // SIPFrontEnd+Video.swift
            followDialOut(now: after)
            closeIdleStreams(now: after)
            for line in refusals.due(now: monotonicNanoseconds()) { Self.log(line) }
            if bridge.mailbox.structures.isDue("sip", now: monotonicNanoseconds()) {
                bridge.mailbox.structures.publish([
                    "sip.streams": streams.count, "sip.calls": calls.count, "sip.transactions": table.count,
                    "sip.transactionIndexes": table.indexCount, "sip.clientTransactions": clientTransactions.count,
                    "sip.invites": invites.count, "sip.failures": failures.count, "sip.sendAllowances": allowance.count,
                    "sip.refusalWindows": refusals.count,
                ])
            }
        }
        for peer in Array(streams.keys) { close(peer) }
        udp.close()
        tcp.close()
        tlsListener?.close()
    }

    private func receiveDatagrams(now: Int64) {
        for _ in 0..<8 {  // at most 128 datagrams before the rest of the loop runs again
            guard let count = try? udp.receive(into: datagrams), count > 0 else { return }
            for index in 0..<count {
                guard let from = datagrams.address(index) else { continue }
                let peer = SIPPeer(host: Self.host(of: from), port: from.port, transport: .udp)
                guard !datagrams.isTruncated(index) else {
                    allowance.received(SIPLimits.datagram.maxMessageBytes, from: peer.host, now: now)
                    refuse("sip-malformed", peer: peer, detail: "datagram over \(SIPLimits.datagram.maxMessageBytes) bytes")
                    continue
                }
                let bytes = Array(UnsafeRawBufferPointer(datagrams.datagram(index)))
                allowance.received(bytes.count, from: peer.host, now: now)
                if bytes.allSatisfy({ $0 == 13 || $0 == 10 }) { continue }  // a keep-alive
                do {
                    received(try SIPMessage.parse(datagram: bytes), from: peer, now: now)
                } catch {
                    refuse("sip-malformed", peer: peer, detail: "\(error)")  // UDP: dropped, never answered
                }
            }
            if count < datagrams.capacity { return }
        }
    }

    private func acceptConnections(on listener: TCPListener, now: Int64) {
        for _ in 0..<64 {
            let connection: TCPConnection?
            do {
                connection = try listener.acceptIfReady()
            } catch {
                if acceptTrouble.failed(now: monotonicNanoseconds()) { Log.warning("sip-accept-failed", ["error": error]) }
                acceptPausedUntil = monotonicNanoseconds() + AcceptTrouble.backoffNanoseconds
                return
            }
            guard let connection else { return }
            guard let peer = connection.peer else {
                connection.close()
                continue
            }
            let group = peer.peerGroup
            if streams.count >= limits.maxConnections, streams.values.lazy.filter({ $0.peer.peerGroup == group }).count < limits.maxConnectionsPerPeer {
                evictOldestStream(now: now)  // a crowd of idle connections from many addresses cannot keep a hall out
            }
            if streams.count >= limits.maxConnections
                || streams.values.lazy.filter({ $0.peer.peerGroup == group }).count >= limits.maxConnectionsPerPeer {
                refuse("sip-too-many-connections", peer: SIPPeer(host: Self.host(of: peer), port: peer.port, transport: .tcp),
                       detail: "at most \(limits.maxConnections) connections, \(limits.maxConnectionsPerPeer) from one peer")
                connection.reset()
                continue
            }
            var tls: TLSServerConnection? = nil
            if listener !== tcp, let tlsContext {
                do { tls = try TLSServerConnection(context: tlsContext, socket: connection.pollDescriptor) } catch {
                    Log.warning("sip-tls-failed", ["peer": peer, "error": error])
                    connection.close()
                    continue
                }
            }
            streams[peer] = Stream(connection: connection, peer: peer, tls: tls, now: now)
        }
    }

    /// Closes the oldest connection that no call uses, one that has not sent a whole message first: the SIP listener's
    /// answer to a full table (as the join listener's `JoinEviction`), so idle or trickling connections held from many
    /// addresses cannot keep a room system out. A connection carrying a call is never closed for room.
    private func evictOldestStream(now: Int64) {
        var inCalls = Set<String>()
        for call in calls.values where call.peer.transport.isReliable { inCalls.insert("\(call.peer.host) \(call.peer.port)") }
        let candidates = streams.values.filter { !inCalls.contains("\(Self.host(of: $0.peer)) \($0.peer.port)") }
        guard let victim = candidates.min(by: { ($0.messages > 0 ? 1 : 0, $0.acceptedAt) < ($1.messages > 0 ? 1 : 0, $1.acceptedAt) })
        else { return }
        refuse("sip-connection-evicted", peer: SIPPeer(host: Self.host(of: victim.peer), port: victim.peer.port, transport: victim.transport),
               detail: "the oldest of \(streams.count) connections without a call, closed to make room")
        close(victim.peer)
    }

    private func read(_ stream: Stream, now: Int64) {
        let bytes: ArraySlice<UInt8>
        if let tls = stream.tls {
            do {
                if !stream.handshaken {
                    try tls.handshake(deadline: monotonicNanoseconds())
                    stream.handshaken = true
                    stream.lastByteAt = now
                }
                let received = try tls.receive(atMost: readBuffer.count, deadline: monotonicNanoseconds())
                if received.isEmpty { return close(stream.peer) }
                bytes = received[...]
            } catch {
                if error == .handshakeTimedOut || error == .readTimedOut { return }  // not yet: the rest of a record
                refuse("sip-tls-failed", peer: SIPPeer(host: Self.host(of: stream.peer), port: stream.peer.port, transport: .tls),
                       detail: "\(error)")
                return close(stream.peer)
            }
        } else {
            let fd = stream.connection.pollDescriptor
            let n = readBuffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { return }
                return close(stream.peer)
            }
            if n == 0 { return close(stream.peer) }
            bytes = readBuffer[0..<n]
        }
        stream.lastByteAt = now
        let peer = SIPPeer(host: Self.host(of: stream.peer), port: stream.peer.port, transport: stream.transport)
        do {
            let messages = try stream.framer.append(bytes)
            // A message must come whole within its bound from its first byte, however its bytes trickle in.
            if stream.framer.bufferedCount == 0 {
                stream.partialSince = nil
            } else if !messages.isEmpty || stream.partialSince == nil {
                stream.partialSince = now
            }
            if !messages.isEmpty { stream.lastMessageAt = now }
            for message in messages {
                stream.messages += 1
                received(message, from: peer, now: now)
            }
        } catch {
            refuse("sip-malformed", peer: peer, detail: "\(error)")
            if let response = SIPRequestValidator.response(to: error, transport: stream.transport) {
                write(response.serialized(), on: stream)
            }
            close(stream.peer)
        }
    }

    /// Closes a connection without a whole first message ``Limits/firstMessageMilliseconds`` after accept, one whose
    /// next message has been coming for as long (a byte a second keeps nothing open), and one that no call uses
    /// ``Limits/idleMilliseconds`` after its last message (keep-alives alone do not hold it).
    private func closeIdleStreams(now: Int64) {
        for (peer, stream) in streams {
            if stream.outgoing && dialOutUses(peer) { continue }  // a call the bridge placed rings on it
            if stream.messages == 0 && now - stream.acceptedAt > limits.firstMessageMilliseconds {
                close(peer)
            } else if let since = stream.partialSince, now - since > limits.firstMessageMilliseconds {
                refuse("sip-slow-message", peer: SIPPeer(host: Self.host(of: peer), port: peer.port, transport: stream.transport),
                       detail: "a message not whole \(limits.firstMessageMilliseconds) ms after its first byte")
                close(peer)
            } else if now - stream.lastMessageAt > limits.idleMilliseconds,
                      !calls.values.contains(where: { $0.peer.transport.isReliable && $0.peer.host == Self.host(of: peer) && $0.peer.port == peer.port }) {
                close(peer)
            }
        }
    }

    func close(_ peer: SocketAddress) {
        guard let stream = streams.removeValue(forKey: peer) else { return }
        stream.tls?.close()
        stream.connection.close()
    }

    /// Writes on a stream (through TLS for the TLS port); a peer that cannot take the bytes within 200 ms is closed.
    private func write(_ bytes: [UInt8], on stream: Stream) {
        do {
            if let tls = stream.tls {
                guard stream.handshaken else { return }
                try tls.send(bytes, timeoutMilliseconds: 200)
            } else {
                try stream.connection.send(bytes, deadline: monotonicNanoseconds() + 200_000_000)
            }
        } catch {
            close(stream.peer)
        }
    }

    // MARK: Messages

    /// A whole message from a peer: checked, then through the transaction table.
    func received(_ message: SIPMessage, from peer: SIPPeer, now: Int64) {
        if message.isRequest {
            switch validator.validate(request: message) {
            case .ok: break
            case .drop(let reason):
                return refuse("sip-malformed", peer: peer, detail: reason)
            case .reject(let status, let reason, let headers):
                refuse("sip-malformed", peer: peer, detail: "\(status) \(reason)")
                guard message.method != "ACK", var response = SIPMessage.response(
                    to: message, status: status, reason: reason, toTag: Self.token(), receivedFrom: udpSource(peer))
                else { return }
                for header in headers { response.add(header.name, header.value) }
                return send(response.serialized(), to: peer)
            }
        }
        deliver(table.receive(message, from: peer, now: now), now: now)
    }

    /// Carries out what the transaction table asks.
    func deliver(_ events: [SIPTableEvent], now: Int64) {
        for event in events {
            switch event {
            case .send(let bytes, let peer):
                send(bytes, to: peer)
            case .request(let request, let peer, let transaction):
                handle(request, from: peer, transaction: transaction, now: now)
            case .response(let response, let transaction):
                if dialOut.attempts[transaction] != nil {
                    dialled(response, transaction: transaction, now: now)
                } else {
                    handle(response, transaction: transaction, now: now)
                }
            case .cancelled:
                break  // the INVITE is answered at once, so a CANCEL can only find it already answered
            case .timedOut(let transaction, _):
                if dialOut.attempts[transaction] != nil { dialTimedOut(transaction, now: now) } else { timedOut(transaction, now: now) }
            case .terminated(let transaction):
                clientTransactions[transaction] = nil
                invites[transaction] = nil
                dialOut.attempts[transaction] = nil
            }
        }
    }

    /// Sends to a peer: a UDP datagram to its address, or on its TCP connection (closed if it cannot take the bytes
    /// within 200 ms).
    func send(_ bytes: [UInt8], to peer: SIPPeer) {
        guard mayAnswer(bytes, to: peer), let address = try? SocketAddress(ip: peer.host, port: peer.port) else { return }
        switch peer.transport {
        case .udp:
            try? udp.send(bytes, to: address)
        case .tcp, .tls:
            guard let stream = streams[address], stream.transport == peer.transport else { return }
            write(bytes, on: stream)
        }
    }

    func udpSource(_ peer: SIPPeer) -> SIPPeer? { peer.transport == .udp ? peer : nil }

    /// Whether a response may go to `peer`: over UDP, whose source address can be forged (a reflection attack aims
    /// the answers at a victim), always to an address with a call, to any other only within what it sent
    /// (``SIPSendAllowance``) and never a 100 Trying (optional here: every request is answered at once; the allowance
    /// is kept for the final response; a UAC resends its request meanwhile, which adds to it). A TCP or TLS peer
    /// proved its address in the handshake: it gets what it asks for, within the connection limits.
    func mayAnswer(_ bytes: [UInt8], to peer: SIPPeer) -> Bool {
        let host = peer.host
        guard peer.transport == .udp, bytes.starts(with: Self.responsePrefix),
              !calls.values.contains(where: { $0.peer.host == host }) else { return true }
        if bytes.starts(with: Self.tryingPrefix) { return false }
        return allowance.spend(bytes.count, to: host)
    }

    static let responsePrefix = Array("SIP/2.0 ".utf8)
    static let tryingPrefix = Array("SIP/2.0 100 ".utf8)

    // MARK: Refusals

    /// Counts a refusal of an unauthenticated peer: the first of a quiet reason is logged, the rest summarised.
    func refuse(_ reason: String, peer: SIPPeer, site: String? = nil, detail: String) {
        if let line = refusals.refused(reason: reason, peer: "\(peer.host):\(peer.port)", site: site, now: monotonicNanoseconds()) {
            Self.log(line, detail: line.count == 1 ? detail : nil)
        }
    }

    static func log(_ line: RefusalSummary.Line, detail: String? = nil) {
        if let seconds = line.seconds {
            Log.warning("sip-refused", ["reason": line.reason, "count": line.count, "seconds": seconds,
                                        "peers": line.peers.joined(separator: ",")])
        } else {
            Log.warning("sip-refused", ["reason": line.reason, "site": line.site ?? "-", "peer": line.peers.first ?? "-",
                                        "detail": String((detail ?? "-").prefix(200)),
                                        "note": "more refusals for this reason are counted and summarised each minute"])
        }
    }
}

/// NSS's side of a SIP connection over TLS: a server connection on the TLS port, or the client connection of a call
/// the bridge placed over TLS.
protocol SIPTLSLink: AnyObject {
    func handshake(deadline: Int64) throws(TLSError)
    func receive(atMost limit: Int, deadline: Int64) throws(TLSError) -> [UInt8]
    func send(_ bytes: [UInt8], timeoutMilliseconds: Int) throws(TLSError)
    func close()
}

extension TLSServerConnection: SIPTLSLink {}
extension TLSClientConnection: SIPTLSLink {}
