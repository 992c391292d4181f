#if canImport(Glibc)
import Glibc
#endif
import DTLS
import Dispatch
import Synchronization
import Transport

/// The handshake thread: every WebRTC peer's DTLS session (NSS, off the media thread). The signalling
/// side starts a session when it admits the peer; the media thread hands over the DTLS records that
/// came from the address ICE selected (and that address); the thread sends its flights there from
/// the media socket and, once a handshake is done, posts the SRTP keys to the media thread (or the
/// failure, which ends the site's session). Each input names the session it is for (its site audio SSRC): when a
/// site joins again, what comes for its old session (a stop, a late record) must not touch the new handshake.
final class WebRTCHandshakes: Sendable {
    enum Input: Sendable {
        case start(site: Int, session: UInt32, peerFingerprint: DTLSFingerprint)
        case address(site: Int, session: UInt32, SocketAddress)
        case datagram(site: Int, session: UInt32, bytes: [UInt8], from: SocketAddress)
        case stop(site: Int, session: UInt32)
        case shutdown
    }

    let certificate: DTLSCertificate
    private let inbox = Mutex<[Input]>([])
    private let wake = DispatchSemaphore(value: 0)
    /// Bounded: a peer cannot queue more than this many records between two turns of the thread.
    static let maximumQueued = 4096

    init(certificate: DTLSCertificate) { self.certificate = certificate }

    func post(_ input: Input) {
        let posted = inbox.withLock { queue -> Bool in
            guard queue.count < Self.maximumQueued else { return false }
            queue.append(input)
            return true
        }
        if posted { wake.signal() }
    }

    /// Runs the handshakes until ``Input/shutdown``. The sessions live on this thread only.
    func run(socket: Handoff<UDPSocket>, mailbox: MediaMailbox) {
        final class Peer {
            let session: DTLSSession
            let id: UInt32
            var address: SocketAddress?
            var reported = false
            init(_ session: DTLSSession, id: UInt32) {
                self.session = session
                self.id = id
            }
        }
        var peers: [Int: Peer] = [:]

        func flush(_ site: Int, _ peer: Peer) {
            let outgoing = peer.session.takeOutgoing()
            if let address = peer.address {
                for datagram in outgoing { try? socket.value.send(datagram, to: address) }
            }
            guard !peer.reported else { return }
            switch peer.session.state {
            case .established(let keys):
                peer.reported = true
                mailbox.post(.keys(site: site, session: peer.id, keys))
            case .failed(let error):
                peer.reported = true
                mailbox.post(.transportFailed(site: site, session: peer.id, reason: "DTLS: \(error)"))
            case .closed:
                peer.reported = true
                mailbox.post(.transportFailed(site: site, session: peer.id, reason: "DTLS closed by the peer"))
            case .handshaking:
                break
            }
        }

        while true {
            let deadline = peers.values.compactMap { $0.session.nextTimeout }.min()
            let now = monotonicNanoseconds()
            let wait = deadline.map { max(0, min($0 - now, 1_000_000_000)) } ?? 1_000_000_000
            _ = wake.wait(timeout: .now() + .nanoseconds(Int(wait)))
            let inputs = inbox.withLock { queue -> [Input] in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            let time = monotonicNanoseconds()
            for input in inputs {
                switch input {
                case .start(let site, let id, let fingerprint):
                    if let old = peers.removeValue(forKey: site) {
                        old.reported = true  // the old session is over already: say nothing of it
                        old.session.close()
                        flush(site, old)
                    }
                    do {
                        peers[site] = Peer(try DTLSSession(role: .server, certificate: certificate, peerFingerprint: fingerprint, now: time), id: id)
                    } catch {
                        mailbox.post(.transportFailed(site: site, session: id, reason: "DTLS: \(error)"))
                    }
                case .address(let site, let id, let address):
                    if let peer = peers[site], peer.id == id { peer.address = address }
                case .datagram(let site, let id, let bytes, let from):
                    guard let peer = peers[site], peer.id == id else { continue }
                    peer.address = from
                    peer.session.receive(bytes, now: time)
                    flush(site, peer)
                case .stop(let site, let id):
                    if let peer = peers[site], peer.id == id {
                        peers[site] = nil
                        peer.reported = true
                        peer.session.close()
                        flush(site, peer)
                    }
                case .shutdown:
                    for (site, peer) in peers {
                        peer.session.close()
                        flush(site, peer)
                    }
                    return
                }
            }
            for (site, peer) in peers where (peer.session.nextTimeout ?? .max) <= time {
                peer.session.handleTimeout(now: time)
                flush(site, peer)
            }
            if mailbox.structures.isDue("dtls", now: time) { mailbox.structures.publish(["dtls.peers": peers.count]) }
        }
    }
}
