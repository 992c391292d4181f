#if canImport(Glibc)
import Glibc
#endif
import Admission
import Foundation
import Synchronization
import Transport

/// The bridge's local control socket: an owner-only Unix socket through which the CLI and
/// technicians talk to the running bridge. One JSON request per line, one JSON answer per line;
/// clients are served concurrently, each with 2 s from accept to send its request and 5 s from
/// accept to have read the answer (a client that reads too slowly is reset).
///   {"command":"status"}          per-site media figures and the mixer clock
///   {"command":"quality"}         every site of the meetings in progress: state, quality figures, grade; open alerts
///   {"command":"quality","site":ID} the same with that site's last 10 minutes, second by second
///   {"command":"end","site":ID}   end a site's session now (used by `vcbridge site revoke`)
///   {"command":"floor","site":ID} give the floor (presenter video) of the site's meeting to it
///   {"command":"floor","meeting":N} give meeting N's floor back to its host
final class ControlSocket: @unchecked Sendable {
    let path: String
    private let listener: UnixListener
    /// Set by ``close()`` before the listener closes, so the accept that fails then is not reported as trouble.
    private let closing = Atomic(false)
    private unowned let server: BridgeServer

    init(path: String, server: BridgeServer) throws {
        self.path = path
        self.server = server
        do {
            listener = try UnixListener(path: path)
        } catch where error.code == ENAMETOOLONG {
            throw BridgeError("the control socket path \(path) is too long")
        } catch {
            throw BridgeError("cannot listen on \(path): \(String(cString: strerror(error.code)))")
        }
    }

    func close() {
        closing.store(true, ordering: .releasing)
        listener.close()
    }

    /// Clients served at once; more are told the bridge is busy.
    static let maxClients = 64
    /// Time from accept for a client to send its request line.
    static let requestTimeoutNanoseconds: Int64 = 2_000_000_000
    /// Time from accept for the client to have read the answer.
    static let answerTimeoutNanoseconds: Int64 = 5_000_000_000
    private let clients = Mutex(0)

    /// Accepts clients until ``close()``, each served on its own thread (at most ``maxClients`` at
    /// once), so a client that sends nothing delays no other. Survives any accept failure.
    func serve() {
        var trouble = AcceptTrouble()
        while true {
            let connection: TCPConnection
            do {
                connection = try listener.accept()
            } catch {
                if closing.load(ordering: .acquiring) || listener.isClosed { return }
                if trouble.failed(now: monotonicNanoseconds()) {
                    Log.warning("accept-failing", ["listener": "control", "error": String(cString: strerror(error.code))])
                }
                usleep(useconds_t(AcceptTrouble.backoffNanoseconds / 1000))
                continue
            }
            if let failures = trouble.ended(now: monotonicNanoseconds()) {
                Log.info("accepting-again", ["listener": "control", "failedAccepts": failures])
            }
            let admitted = clients.withLock { count -> Bool in
                guard count < Self.maxClients else { return false }
                count += 1
                return true
            }
            guard admitted else {
                // One short line into an empty socket buffer: the deadline is a formality.
                try? connection.send(line: JoinProtocol.encode(["type": "error", "error": "the bridge is busy with other control clients; try again"]),
                                     deadline: monotonicNanoseconds() + 100_000_000)
                connection.close()
                continue
            }
            let handoff = Handoff(value: (connection, monotonicNanoseconds()))
            Thread {
                self.answer(handoff.value.0, accepted: handoff.value.1)
                handoff.value.0.close()
                self.clients.withLock { $0 -= 1 }
            }.start()
        }
    }

    private func answer(_ connection: TCPConnection, accepted: Int64) {
        connection.maximumLine = 16 * 1024
        let sendBy = accepted + Self.answerTimeoutNanoseconds
        guard let line = try? connection.receiveLine(deadline: accepted + Self.requestTimeoutNanoseconds),
              let request = ControlRequest(line: line)
        else {
            try? connection.send(line: JoinProtocol.encode(["type": "error", "error": "expected one JSON request line"]), deadline: sendBy)
            return
        }
        var answer: [String: Any]
        switch request {
        case .status:
            answer = server.status()
            answer["type"] = "status"
        case let .end(siteID, reason):
            if let siteID, let site = server.directory.site(siteID) {
                server.end(site: site.index, reason: reason)
                answer = ["type": "ok"]
            } else {
                answer = ["type": "error", "error": "unknown site"]
            }
        case let .quality(site):
            answer = server.qualityView(site: site)
        case let .floor(site, meeting):
            answer = server.floorCommand(site: site, meeting: meeting)
        case .unknown:
            answer = ["type": "error", "error": "unknown command (status, quality, end, floor)"]
        }
        // Unsorted keys: sorting a status of every site costs more than building it.
        let reply = (try? JSONSerialization.data(withJSONObject: answer)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        do { try connection.send(line: reply, deadline: sendBy) } catch { connection.reset() }
    }
}
