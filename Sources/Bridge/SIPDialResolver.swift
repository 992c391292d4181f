#if canImport(Glibc)
import Glibc
#endif
import DTLS
import Dispatch
import Foundation
import SIP
import Synchronization
import Transport

/// Where a call the bridge places goes, found off the SIP thread: the hall's host name resolved (`getaddrinfo`, in
/// the SIP socket's address family) and, for TCP and TLS, a connection opened to the first address that takes one
/// (each connect bounded by ``connectTimeoutMilliseconds``), over TLS with the client handshake done and the far
/// end's certificate checked (`SIPDialTLS`: a pinned fingerprint, or the configured CA and the host's name; the
/// handshake bounded by ``handshakeTimeoutMilliseconds``). The SIP thread starts a lookup with ``start(_:host:port:transport:family:)``
/// and collects what is done with ``finished()`` on each turn of its loop, so it never waits on DNS or a connect.
/// At most ``maxInFlight`` lookups run at once (the dial plan rings at most 8 calls); more are refused at once.
final class SIPDialResolver: @unchecked Sendable {
    static let maxInFlight = 16
    static let connectTimeoutMilliseconds = 5_000
    static let handshakeTimeoutMilliseconds: Int64 = 5_000

    /// What a lookup found.
    enum Outcome {
        /// The numeric address to send to, and for TCP and TLS the open connection to it (and NSS's side of it).
        case ready(SocketAddress, TCPConnection?, TLSClientConnection?)
        /// Why the hall cannot be reached (a name that does not resolve, every address refusing a connection).
        case failed(String)
    }

    private let queue = DispatchQueue(label: "vcbridge.sip-dial-resolver", attributes: .concurrent)
    private let results = Mutex<(inFlight: Int, done: [(key: Int, outcome: Outcome)])>((0, []))

    /// Starts finding `host` (a name or a numeric address) for the call known as `key`.
    /// - Returns: false when ``maxInFlight`` lookups are running already (the caller counts the attempt as failed).
    func start(_ key: Int, host: String, port: UInt16, transport: SIPTransportKind, family: Int32, tls: SIPDialTLS) -> Bool {
        let admitted = results.withLock { state -> Bool in
            guard state.inFlight < Self.maxInFlight else { return false }
            state.inFlight += 1
            return true
        }
        guard admitted else { return false }
        queue.async { [self] in
            let outcome = Self.find(host: host, port: port, transport: transport, family: family, tls: tls)
            results.withLock {
                $0.inFlight -= 1
                $0.done.append((key, outcome))
            }
        }
        return true
    }

    /// The lookups finished since the last call.
    func finished() -> [(key: Int, outcome: Outcome)] {
        results.withLock { state in
            defer { state.done.removeAll() }
            return state.done
        }
    }

    /// Resolves and (TCP) connects; runs on the resolver's queue.
    static func find(host: String, port: UInt16, transport: SIPTransportKind, family: Int32, tls: SIPDialTLS) -> Outcome {
        if transport == .tls && !tls.canCheck {
            return .failed("no CA or pinned fingerprint is configured for TLS dial-out (sip.dialOutTLSFingerprints, "
                + "sip.dialOutTLSCAFile): the far end's certificate could not be checked")
        }
        let addresses: [SocketAddress]
        switch resolve(host, port: port, family: family) {
        case .success(let found): addresses = found
        case .failure(let refusal): return .failed(refusal.reason)
        }
        guard transport.isReliable else { return .ready(addresses[0], nil, nil) }
        var refusals: [String] = []
        for address in addresses.prefix(4) {
            switch connect(to: address) {
            case .success(let connection):
                guard transport == .tls else { return .ready(address, connection, nil) }
                switch secure(connection, to: address, host: host, tls: tls) {
                case .success(let client): return .ready(address, connection, client)
                case .failure(let refusal):
                    connection.close()
                    return .failed(refusal.reason)  // a certificate refused is not tried at the next address
                }
            case .failure(let refusal): refusals.append("\(address): \(refusal.reason)")
            }
        }
        return .failed("no TCP connection to \(host): " + refusals.joined(separator: "; "))
    }

    struct Refusal: Error { let reason: String }

    /// `host`'s addresses in `family` (AF_INET or AF_INET6), in getaddrinfo's order, without duplicates.
    static func resolve(_ host: String, port: UInt16, family: Int32) -> Result<[SocketAddress], SIPDialResolver.Refusal> {
        var hints = addrinfo()
        hints.ai_family = family
        hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>? = nil
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let list else {
            let why = status == EAI_SYSTEM ? String(cString: strerror(errno)) : String(cString: gai_strerror(status))
            return .failure(Refusal(reason: "the host name \(host) does not resolve: \(why)"))
        }
        defer { freeaddrinfo(list) }
        var found: [SocketAddress] = []
        var next: UnsafeMutablePointer<addrinfo>? = list
        while let entry = next {
            if let text = numericHost(entry.pointee), let address = try? SocketAddress(ip: text, port: port),
               !found.contains(address) {
                found.append(address)
            }
            next = entry.pointee.ai_next
        }
        guard !found.isEmpty else {
            return .failure(Refusal(reason: "the host name \(host) has no \(family == AF_INET6 ? "IPv6" : "IPv4") address"))
        }
        return .success(found)
    }

    private static func numericHost(_ entry: addrinfo) -> String? {
        guard let address = entry.ai_addr else { return nil }
        var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard getnameinfo(address, entry.ai_addrlen, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0 else { return nil }
        return String(cString: text)
    }

    /// The client handshake on `connection`, the far end's certificate checked; bounded by
    /// ``handshakeTimeoutMilliseconds``.
    static func secure(_ connection: TCPConnection, to address: SocketAddress, host: String,
                       tls: SIPDialTLS) -> Result<TLSClientConnection, SIPDialResolver.Refusal> {
        let client: TLSClientConnection
        do {
            client = try TLSClientConnection(socket: connection.pollDescriptor, host: host, pinnedSHA256: tls.pinned,
                                             caCertificate: tls.caCertificate)
        } catch {
            return .failure(Refusal(reason: "TLS to \(address): \(error)"))
        }
        do {
            try client.handshake(deadline: monotonicNanoseconds() + handshakeTimeoutMilliseconds * 1_000_000)
            return .success(client)
        } catch {
            let why = client.refusal.map { "refused: \($0)" } ?? "\(error)"
            client.close()
            return .failure(Refusal(reason: "TLS to \(address) \(why)"))
        }
    }

    /// A TCP connection to `address`, the connect bounded by ``connectTimeoutMilliseconds``.
    static func connect(to address: SocketAddress) -> Result<TCPConnection, SIPDialResolver.Refusal> {
        do {
            return .success(try TCPConnection(connectingTo: address, timeoutMilliseconds: Int32(connectTimeoutMilliseconds)))
        } catch {
            return .failure(Refusal(reason: "\(error)"))
        }
    }
}

/// What a call over TLS checks the far end's certificate against (`sip.dialOutTLSFingerprints`,
/// `sip.dialOutTLSCAFile`, read when the bridge starts).
struct SIPDialTLS: Sendable {
    var pinned: [[UInt8]] = []
    /// The CA certificate, DER.
    var caCertificate: [UInt8]? = nil

    var canCheck: Bool { !pinned.isEmpty || caCertificate != nil }

    init() {}

    /// - Throws: `BridgeError` naming a CA file that cannot be read or holds no certificate.
    init(pinned: [[UInt8]], caFile: String) throws {
        self.pinned = pinned
        guard !caFile.isEmpty else { return }
        guard let data = FileManager.default.contents(atPath: caFile) else {
            throw BridgeError("sip.dialOutTLSCAFile: cannot read '\(caFile)'")
        }
        let text = String(decoding: data, as: UTF8.self)
        if let begin = text.range(of: "-----BEGIN CERTIFICATE-----"),
           let end = text.range(of: "-----END CERTIFICATE-----", range: begin.upperBound..<text.endIndex) {
            guard let der = Data(base64Encoded: String(text[begin.upperBound..<end.lowerBound]), options: .ignoreUnknownCharacters),
                  !der.isEmpty else {
                throw BridgeError("sip.dialOutTLSCAFile: the certificate in '\(caFile)' is not valid base64")
            }
            caCertificate = Array(der)
        } else if data.first == 0x30 {
            caCertificate = Array(data)  // DER
        } else {
            throw BridgeError("sip.dialOutTLSCAFile: '\(caFile)' holds no certificate (PEM CERTIFICATE block or DER)")
        }
    }
}
