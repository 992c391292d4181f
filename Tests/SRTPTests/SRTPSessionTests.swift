#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
import RTP
@testable import SRTP

private func hexBytes(_ hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var chars = hex.filter { !$0.isWhitespace }.makeIterator()
    while let a = chars.next(), let b = chars.next() { bytes.append(UInt8(String([a, b]), radix: 16)!) }
    return bytes
}

/// A packet in a buffer with trailer room, as the media path keeps them.
private struct Packet {
    var buffer: [UInt8]
    var length: Int

    init(_ bytes: [UInt8]) {
        buffer = bytes + [UInt8](repeating: 0, count: SRTPSession.maxTrailerLength)
        length = bytes.count
    }

    var bytes: [UInt8] { Array(buffer[0..<length]) }

    mutating func apply(_ transform: (UnsafeMutableRawBufferPointer, Int) throws -> Int) throws {
        let current = length
        length = try buffer.withUnsafeMutableBytes { raw in try transform(raw, current) }
    }
}

private func rtp(_ seq: UInt16, payloadSize: Int = 100) -> [UInt8] {
    try! RTPPacket(payloadType: 111, sequenceNumber: seq, timestamp: UInt32(seq) * 960, ssrc: 0xCAFE_0001,
                   payload: (0..<payloadSize).map { UInt8(truncatingIfNeeded: $0 &* 7) }).serialized()
}

private func pair(_ profile: SRTPProfile, key: [UInt8]? = nil) throws -> (SRTPSession, SRTPSession) {
    let material = key ?? (0..<profile.keyingMaterialLength).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
    return (try SRTPSession(profile: profile, direction: .outbound, keyingMaterial: material),
            try SRTPSession(profile: profile, direction: .inbound, keyingMaterial: material))
}

@Suite("SRTP sessions")
struct SRTPSessionTests {
    @Test("protect then unprotect returns the original RTP bytes", arguments: SRTPProfile.allCases, [100, 1200])
    func rtpRoundTrip(profile: SRTPProfile, size: Int) throws {
        let (sender, receiver) = try pair(profile)
        for seq in UInt16(1)...50 {
            let original = rtp(seq, payloadSize: size)
            var p = Packet(original)
            try p.apply(sender.protectRTP)
            #expect(p.length > original.count)
            #expect(Array(p.bytes[12...]) != Array(original[12...]), "payload must be encrypted")
            #expect(Array(p.bytes[0..<12]) == Array(original[0..<12]), "RTP header stays in clear")
            try p.apply(receiver.unprotectRTP)
            #expect(p.bytes == original)
        }
    }

    @Test("protect then unprotect returns the original RTCP bytes", arguments: SRTPProfile.allCases)
    func rtcpRoundTrip(profile: SRTPProfile) throws {
        let (sender, receiver) = try pair(profile)
        let original = try RTCPCompound.serialize([
            .receiverReport(ReceiverReport(ssrc: 5)),
            .sourceDescription(SourceDescription(ssrc: 5, cname: "vinh-yen")),
        ])
        var p = Packet(original)
        try p.apply(sender.protectRTCP)
        #expect(p.length > original.count)
        try p.apply(receiver.unprotectRTCP)
        #expect(p.bytes == original)
        #expect(try RTCPCompound.parse(p.bytes).count == 2)
        // The same SRTCP packet twice is a replay.
        var again = Packet(original)
        let (sender2, receiver2) = try pair(profile)
        try again.apply(sender2.protectRTCP)
        var copy = again
        try again.apply(receiver2.unprotectRTCP)
        #expect(throws: SRTPError.replay) { try copy.apply(receiver2.unprotectRTCP) }
    }

    @Test("one flipped bit anywhere is an authentication failure", arguments: SRTPProfile.allCases)
    func flippedBit(profile: SRTPProfile) throws {
        let (sender, _) = try pair(profile)
        var protected = Packet(rtp(9))
        try protected.apply(sender.protectRTP)
        for position in [1, 5, 12, 60, protected.length - 1] {
            let (_, receiver) = try pair(profile)
            var tampered = protected
            tampered.buffer[position] ^= 0x04
            #expect(throws: SRTPError.authenticationFailure) { try tampered.apply(receiver.unprotectRTP) }
        }
    }

    @Test("the same packet unprotected twice is a replay", arguments: SRTPProfile.allCases)
    func replay(profile: SRTPProfile) throws {
        let (sender, receiver) = try pair(profile)
        var p = Packet(rtp(77))
        try p.apply(sender.protectRTP)
        let copy = p
        try p.apply(receiver.unprotectRTP)
        var second = copy
        #expect(throws: SRTPError.replay) { try second.apply(receiver.unprotectRTP) }
    }

    @Test func packetsOlderThanTheWindowAreRefused() throws {
        let (sender, receiver) = try pair(.aesCM128HMACSHA1_80)
        var old = Packet(rtp(1))
        try old.apply(sender.protectRTP)
        for seq in UInt16(2)...300 {
            var p = Packet(rtp(seq))
            try p.apply(sender.protectRTP)
            try p.apply(receiver.unprotectRTP)
        }
        #expect(throws: SRTPError.replayTooOld) { try old.apply(receiver.unprotectRTP) }
    }

    @Test("a packet from another key is rejected", arguments: SRTPProfile.allCases)
    func otherKey(profile: SRTPProfile) throws {
        let (sender, _) = try pair(profile, key: [UInt8](repeating: 0x11, count: profile.keyingMaterialLength))
        let (_, receiver) = try pair(profile, key: [UInt8](repeating: 0x22, count: profile.keyingMaterialLength))
        var p = Packet(rtp(3))
        try p.apply(sender.protectRTP)
        #expect(throws: SRTPError.authenticationFailure) { try p.apply(receiver.unprotectRTP) }
    }

    @Test func knownAnswerAESCM128HMACSHA1_80() throws {
        // libsrtp's own reference packet and key (test/srtp_driver.c), checking that key and salt
        // reach libsrtp2 in the right order.
        let key = hexBytes("e1f97a0d3e018be0d64fa32c06de4139 0ec675ad498afeebb6960b3aabe6")
        let plain = hexBytes("800f1234decafbadcafebabe" + String(repeating: "ab", count: 16))
        let expected = hexBytes("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb")
        let sender = try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .outbound, keyingMaterial: key)
        var p = Packet(plain)
        try p.apply(sender.protectRTP)
        #expect(p.bytes == expected)
    }

    @Test func badInputsAreNamedErrors() throws {
        #expect(throws: SRTPError.wrongKeyLength) {
            try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .outbound, keyingMaterial: [1, 2, 3])
        }
        #expect(throws: SRTPError.wrongKeyLength) {
            try SRTPSession(profile: .aeadAES128GCM, direction: .outbound, keyingMaterial: [UInt8](repeating: 1, count: 30))
        }
        #expect(throws: SRTPError.badParameter) {
            try SRTPSession(profile: .aesCM128HMACSHA1_80, direction: .inbound,
                            keyingMaterial: [UInt8](repeating: 1, count: 30), replayWindow: 1)
        }
        let (sender, receiver) = try pair(.aesCM128HMACSHA1_80)
        var noRoom = rtp(1)
        let length = noRoom.count
        #expect(throws: SRTPError.bufferTooSmall) {
            try noRoom.withUnsafeMutableBytes { raw in _ = try sender.protectRTP(raw, length: length) }
        }
        var short = Packet([0x80, 0, 0])
        #expect(throws: SRTPError.self) { try short.apply(receiver.unprotectRTP) }
        #expect(SRTPError.authenticationFailure.description == "SRTP authentication failure")
        #expect(SRTPError(rawValue: 99).description == "SRTP error status 99")
    }

    /// 300 sessions live at once (150 sender/receiver pairs, one key each, as 150 sites' streams in
    /// the bridge) keep to their own keys: each receiver takes its sender's packets and refuses the
    /// packets of every other pair, so no state is shared through the one library initialisation.
    @Test func threeHundredSessionsAtOnceEachKeepToTheirOwnKey() throws {
        let profile = SRTPProfile.aeadAES128GCM
        let pairs = try (0..<150).map { i in
            try pair(profile, key: (0..<profile.keyingMaterialLength).map { UInt8(truncatingIfNeeded: i &* 131 &+ $0 &* 7) })
        }
        #expect(Set(pairs.map { ObjectIdentifier($0.0) }).count == 150)
        // Every sender protects the same RTP packet: only the key tells the results apart.
        let original = rtp(42)
        var protected: [Packet] = []
        for (sender, _) in pairs {
            var p = Packet(original)
            try p.apply(sender.protectRTP)
            protected.append(p)
        }
        #expect(Set(protected.map(\.bytes)).count == 150, "two keys gave the same ciphertext")
        // Other pairs' receivers first (the next pair's, and one far away): authentication failures.
        // (Before its own packet: after that, a packet of the same index would be refused as a replay.)
        for i in pairs.indices {
            for other in [(i + 1) % pairs.count, (i + 75) % pairs.count] {
                var foreign = protected[i]
                #expect(throws: SRTPError.authenticationFailure, "pair \(other) took pair \(i)'s packet") {
                    try foreign.apply(pairs[other].1.unprotectRTP)
                }
            }
        }
        for i in pairs.indices {
            var own = protected[i]
            try own.apply(pairs[i].1.unprotectRTP)
            #expect(own.bytes == original, "pair \(i)")
        }
        #expect(SRTPSession.libraryVersion.hasPrefix("libsrtp2"))
    }

    /// Each session frees its libsrtp2 context: creating and dropping 6,000 sessions (kilobytes of
    /// C heap each, over 10 MB if kept) leaves the memory in use where it was. Measured in a child
    /// process so other tests' allocations do not count.
    @Test func droppedSessionsFreeTheirContexts() async {
        await #expect(processExitsWith: .success) {
            // Resident memory, from /proc/self/statm (pages): what is freed is reused, what leaks adds up.
            func heapInUse() -> Int {
                let statm = (try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8)) ?? ""
                let pages = statm.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
                return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
            }
            func churn() {
                for round in 0..<20 {
                    let sessions = (0..<300).map { i in
                        try! SRTPSession(profile: .aesCM128HMACSHA1_80, direction: i % 2 == 0 ? .outbound : .inbound,
                                         keyingMaterial: [UInt8](repeating: UInt8(truncatingIfNeeded: round &+ i), count: 30))
                    }
                    precondition(sessions.count == 300)
                }
            }
            churn()  // the library's own one-time allocations happen here
            let before = heapInUse()
            churn()
            let grown = heapInUse() - before
            if grown > 4 << 20 {
                print("the heap grew by \(grown) bytes over 6,000 dropped sessions")
                exit(1)
            }
        }
    }
}
