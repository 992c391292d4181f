#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Synchronization
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

    @Test func aSendWithADeadlineEndsThereHoweverThePeerReads() throws {
        let listener = try TCPListener(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let client = try TCPConnection(connectingTo: listener.localAddress)
        let server = try listener.accept()
        let bytes = [UInt8](repeating: 0x55, count: 64 << 20)  // far more than socket buffers hold
        // A peer that reads nothing.
        var start = monotonicNanoseconds()
        #expect(throws: SocketError("send", code: ETIMEDOUT)) { try server.send(bytes, deadline: start + Self.second / 2) }
        var took = monotonicNanoseconds() - start
        #expect(took >= Self.second / 2 && took < 3 * Self.second, "\(took) ns")
        // A peer that reads 64 KiB every 100 ms: progress on every send, and still the deadline holds.
        let reading = Atomic(true)
        let reader = Thread {
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            while reading.load(ordering: .relaxed) {
                guard chunk.withUnsafeMutableBytes({ recv(client.pollDescriptor, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }) != 0 else { return }
                usleep(100_000)
            }
        }
        reader.start()
        start = monotonicNanoseconds()
        #expect(throws: SocketError("send", code: ETIMEDOUT)) { try server.send(bytes, deadline: start + Self.second) }
        took = monotonicNanoseconds() - start
        #expect(took >= Self.second && took < 4 * Self.second, "\(took) ns")
        reading.store(false, ordering: .relaxed)
        // Bytes that fit go out at once, and the peer gets them whole.
        let fresh = try TCPConnection(connectingTo: listener.localAddress)
        let accepted = try listener.accept()
        try accepted.send(line: "hello", deadline: monotonicNanoseconds() + Self.second)
        #expect(try fresh.receiveLine(timeoutMilliseconds: 2000) == "hello")
        client.close()
    }

    @Test func aLineOverTheLimitIsAnErrorFromEveryReaderEvenWithItsNewline() throws {
        let listener = try TCPListener(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        listener.setNonBlocking()
        for reader in ["timeout", "deadline", "non-blocking"] {
            let client = try TCPConnection(connectingTo: listener.localAddress)
            try client.send(Array(repeating: UInt8(ascii: "x"), count: 100) + [10] + Array("next\n".utf8))
            var accepted: TCPConnection? = nil
            for _ in 0..<200 where accepted == nil {
                accepted = try listener.acceptIfReady()
                if accepted == nil { usleep(10_000) }
            }
            let server = try #require(accepted)
            server.maximumLine = 16
            usleep(50_000)  // the whole line and its newline have arrived
            #expect(throws: SocketError("receive", code: EMSGSIZE), "\(reader)") {
                switch reader {
                case "timeout": _ = try server.receiveLine(timeoutMilliseconds: 1000)
                case "deadline": _ = try server.receiveLine(deadline: monotonicNanoseconds() + Self.second)
                default:
                    _ = try server.readAvailable()
                    _ = try server.bufferedLine()
                }
            }
            client.close()
        }
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
