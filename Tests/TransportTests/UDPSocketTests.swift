#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Transport

@Suite("UDP sockets with batched I/O")
struct UDPSocketTests {
    static let loopbacks = ["127.0.0.1", "::1"]

    @Test("sendmmsg batch arrives whole and in order through recvmmsg", arguments: loopbacks)
    func batchRoundTrip(host: String) throws {
        let receiver = try UDPSocket(bindTo: SocketAddress(ip: host, port: 0))
        let sender = try UDPSocket(bindTo: SocketAddress(ip: host, port: 0))
        #expect(receiver.localAddress.port != 0)

        let outgoing = DatagramBatch(capacity: 32, slotSize: 1500)
        for i in 0..<32 {
            let size = 20 + i * 37
            let slot = outgoing.slot(i)
            for j in 0..<size { slot[j] = UInt8(truncatingIfNeeded: i &* 31 &+ j) }
            outgoing.prepare(i, length: size, to: receiver.localAddress)
        }
        outgoing.count = 32
        #expect(try sender.send(outgoing) == 32)

        let incoming = DatagramBatch(capacity: 16, slotSize: 1500)
        var received: [[UInt8]] = []
        while received.count < 32 {
            #expect(try receiver.waitReadable(timeoutMilliseconds: 2000))
            let n = try receiver.receive(into: incoming)
            for i in 0..<n {
                #expect(incoming.address(i) == sender.localAddress)
                #expect(!incoming.isTruncated(i))
                received.append(Array(incoming.datagram(i)))
            }
        }
        for i in 0..<32 {
            let size = 20 + i * 37
            #expect(received[i] == (0..<size).map { UInt8(truncatingIfNeeded: i &* 31 &+ $0) })
        }
    }

    @Test func receiveWithNothingQueuedReturnsZeroAndWaitTimesOut() throws {
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let batch = DatagramBatch(capacity: 4, slotSize: 100)
        #expect(try socket.receive(into: batch) == 0)
        #expect(try !socket.waitReadable(timeoutMilliseconds: 20))
    }

    @Test func anOversizedDatagramIsMarkedTruncated() throws {
        let receiver = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let sender = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        try sender.send([UInt8](repeating: 7, count: 300), to: receiver.localAddress)
        let batch = DatagramBatch(capacity: 2, slotSize: 100)
        #expect(try receiver.waitReadable(timeoutMilliseconds: 2000))
        #expect(try receiver.receive(into: batch) == 1)
        #expect(batch.isTruncated(0))
        #expect(batch.length(0) == 100)
    }

    @Test func theKernelStampsWhenADatagramArrivedNotWhenItWasRead() throws {
        let receiver = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        try receiver.enableArrivalTimes()
        let sender = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        func wallNanoseconds() -> Int64 { let w = wallClock(); return w.seconds * 1_000_000_000 + Int64(w.nanoseconds) }
        func pause(_ nanoseconds: Int) {
            var interval = timespec(tv_sec: 0, tv_nsec: nanoseconds)
            nanosleep(&interval, nil)
        }
        let stamped = DatagramBatch(capacity: 2, slotSize: 100, arrivalTimes: true)
        // Linux turns arrival stamping on from a work queue: until it has, a datagram is stamped when it is
        // read. Wait (up to 2 s) until a probe that waited 5 ms in the socket shows it.
        var stampingOn = false
        for _ in 0..<200 where !stampingOn {
            try sender.send([0], to: receiver.localAddress)
            pause(5_000_000)
            #expect(try receiver.receive(into: stamped) == 1)
            stampingOn = wallNanoseconds() - (stamped.arrival(0) ?? .max) >= 4_000_000
        }
        #expect(stampingOn)
        let before = wallNanoseconds()
        try sender.send([1, 2, 3], to: receiver.localAddress)
        let sent = wallNanoseconds()
        pause(30_000_000)  // the datagram waits in the socket
        #expect(try receiver.receive(into: stamped) == 1)
        let read = wallNanoseconds()
        let arrival = try #require(stamped.arrival(0))
        #expect(arrival >= before - 1_000_000 && arrival <= sent + 1_000_000, "stamped \(arrival - before) ns after the send began")
        #expect(read - arrival >= 30_000_000)
        // A batch without room for stamps, or a socket that does not stamp, has none.
        try sender.send([4], to: receiver.localAddress)
        let plain = DatagramBatch(capacity: 2, slotSize: 100)
        #expect(try receiver.waitReadable(timeoutMilliseconds: 2000))
        #expect(try receiver.receive(into: plain) == 1 && plain.arrival(0) == nil)
        let unstamped = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        try sender.send([5], to: unstamped.localAddress)
        #expect(try unstamped.waitReadable(timeoutMilliseconds: 2000))
        #expect(try unstamped.receive(into: stamped) == 1 && stamped.arrival(0) == nil)
    }

    @Test func aBatchCanBeSentFromAnySlotOn() throws {
        let receiver = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let sender = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let batch = DatagramBatch(capacity: 6, slotSize: 16)
        for i in 0..<6 {
            batch.slot(i)[0] = UInt8(i)
            batch.prepare(i, length: 1, to: receiver.localAddress)
        }
        batch.count = 6
        #expect(try sender.send(batch, from: 4) == 2)
        let incoming = DatagramBatch(capacity: 8, slotSize: 16)
        var seen: [UInt8] = []
        while seen.count < 2, try receiver.waitReadable(timeoutMilliseconds: 2000) {
            let n = try receiver.receive(into: incoming)
            seen += (0..<n).map { incoming.datagram($0)[0] }
        }
        #expect(seen == [4, 5])
        #expect(try !receiver.waitReadable(timeoutMilliseconds: 50))
    }

    @Test func bindingAPortInUseIsANamedError() throws {
        let first = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        #expect(throws: SocketError.addressInUse) { try UDPSocket(bindTo: first.localAddress) }
    }

    @Test func addressesParseAndPrint() throws {
        #expect(try SocketAddress(parsing: "127.0.0.1:5004").description == "127.0.0.1:5004")
        #expect(try SocketAddress(parsing: "[::1]:6000").description == "[::1]:6000")
        #expect(try SocketAddress(ip: "10.1.2.3", port: 9).with(port: 10).description == "10.1.2.3:10")
        #expect(throws: SocketError.invalidArgument) { try SocketAddress(parsing: "bridge.local:5004") }
        #expect(throws: SocketError.invalidArgument) { try SocketAddress(parsing: "127.0.0.1") }
        #expect(throws: SocketError.invalidArgument) { try SocketAddress(parsing: "127.0.0.1:70000") }
        #expect(SocketError.addressInUse.description.contains("in use"))
    }
}
