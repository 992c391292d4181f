#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
import Testing
@testable import Transport

@Suite("Unix listener")
struct UnixListenerTests {
    func connect(_ path: String) -> TCPConnection? {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: Array(path.utf8))
            raw[path.utf8.count] = 0
        }
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard ok == 0 else {
            close(fd)
            return nil
        }
        return TCPConnection(descriptor: fd, peer: nil)
    }

    @Test func ownerOnlyLinesBothWaysAndACloseFromAnotherThreadEndsABlockedAccept() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("ul-\(UUID().uuidString.prefix(8)).sock").path
        let listener = try UnixListener(path: path)
        var st = stat()
        #expect(stat(path, &st) == 0 && st.st_mode & 0o777 == 0o600)
        let client = try #require(connect(path))
        let server = try listener.accept()
        #expect(server.peer == nil)
        try client.send(line: "status", deadline: monotonicNanoseconds() + 1_000_000_000)
        #expect(try server.receiveLine(timeoutMilliseconds: 2000) == "status")
        // A thread blocked in accept is woken by a close from this one, with an error, and the path is gone.
        let ended = Atomic(false)
        let done = DispatchSemaphore(value: 0)
        Thread {
            if (try? listener.accept()) == nil { ended.store(true, ordering: .releasing) }
            done.signal()
        }.start()
        usleep(100_000)
        listener.close()
        #expect(done.wait(timeout: .now() + 5) == .success, "the accept did not return after close")
        #expect(ended.load(ordering: .acquiring) && listener.isClosed)
        #expect(access(path, F_OK) != 0)
        #expect(throws: SocketError.self) { try listener.accept() }
    }

    @Test func aPathTooLongIsNamed() {
        #expect(throws: SocketError("bind", code: ENAMETOOLONG)) { try UnixListener(path: "/tmp/" + String(repeating: "x", count: 200)) }
    }
}
