#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import Transport

@Suite("Listener parts")
struct ListenerPartsTests {
    static let second: Int64 = 1_000_000_000

    @Test func acceptTroubleIsReportedOncePerEpisode() {
        var trouble = AcceptTrouble(quietNanoseconds: 10 * Self.second)
        var reported = 0
        var ended: [Int] = []
        // An hour: failures every 50 ms for 2 minutes, a quiet spell, then another burst.
        for tick in 0..<(3600 * 20) {
            let now = Int64(tick) * 50_000_000
            let failing = tick < 2400 || (tick >= 36_000 && tick < 36_100)
            if failing, trouble.failed(now: now) { reported += 1 }
            if let n = trouble.ended(now: now) { ended.append(n) }
        }
        #expect(reported == 2)
        #expect(ended == [2400, 100])
        #expect(!trouble.troubled)
    }

    @Test func aLineReadWithADeadlineEndsThereHoweverTheBytesTrickle() throws {
        let listener = try TCPListener(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let client = try TCPConnection(connectingTo: listener.localAddress)
        let server = try listener.accept()
        let writer = Thread {
            for _ in 0..<30 {
                guard (try? client.send([UInt8(ascii: " ")])) != nil else { return }
                usleep(100_000)
            }
        }
        writer.start()
        let start = monotonicNanoseconds()
        let line = try server.receiveLine(deadline: start + Self.second)
        let took = monotonicNanoseconds() - start
        #expect(line == nil)
        #expect(took >= Self.second && took < 2 * Self.second)
        client.close()
    }

    @Test func nonBlockingAcceptAndReadsReturnAtOnce() throws {
        let listener = try TCPListener(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        listener.setNonBlocking()
        #expect(try listener.acceptIfReady() == nil)
        let client = try TCPConnection(connectingTo: listener.localAddress)
        var accepted: TCPConnection? = nil
        for _ in 0..<100 where accepted == nil {
            accepted = try listener.acceptIfReady()
            if accepted == nil { usleep(10_000) }
        }
        let server = try #require(accepted)
        server.maximumLine = 16
        #expect(try server.readAvailable())
        #expect(try server.bufferedLine() == nil)
        try client.send(line: "hello")
        usleep(50_000)
        #expect(try server.readAvailable())
        #expect(try server.bufferedLine() == "hello")
        try client.send(Array(repeating: UInt8(ascii: "x"), count: 100))
        usleep(50_000)
        _ = try server.readAvailable()
        #expect(throws: SocketError.self) { try server.bufferedLine() }
        // A peer that leaves is seen at once.
        let leaving = try TCPConnection(connectingTo: listener.localAddress)
        leaving.close()
        usleep(50_000)
        let other = try #require(try listener.acceptIfReady())
        #expect(try other.readAvailable() == false)
        #expect(other.peerClosed)
        client.close()
    }
}
