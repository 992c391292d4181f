import Foundation
import ICE
import KeyDerivation
import Testing
import Transport
@testable import VCBridgeCLI

/// A WebRTC join made by hand (the offer a fixture of aiortc's shape, the proof as docs/PROTOCOL.md
/// says), so a test can then act as the peer on the media port: its STUN checks, or their absence.
struct HandMadeWebRTCJoin {
    let ufrag: String
    let password: String
    let remoteUfrag = "W8zQ"
    let media: SocketAddress

    init(bridge: RunningBridge, site: String) throws {
        let offer = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SDPTests/Fixtures/aiortc-1-offer.sdp").path, encoding: .utf8)
        let fingerprintLine = offer.split(whereSeparator: \.isNewline).first { $0.hasPrefix("a=fingerprint:sha-256 ") }!
        let fingerprint = fingerprintLine.dropFirst("a=fingerprint:sha-256 ".count).split(separator: ":").map { UInt8($0, radix: 16)! }
        let key = try bridge.key(site)
        let nonce = try SecureRandom.bytes(32)
        let time = Int64(Date().timeIntervalSince1970)
        let prk = try HKDF.extract(salt: nonce, inputKeyMaterial: key.secret)
        let auth = try HKDF.expand(pseudoRandomKey: prk, info: Array("vcbridge-webrtc-v1 auth \(site)".utf8), length: 32)
        let proof = try HMACSHA256.authenticationCode(key: auth, data: Array("vcbridge-webrtc-v1|site|\(site)|\(time)|".utf8) + nonce + fingerprint)
        func hex(_ b: [UInt8]) -> String { b.map { String(format: "%02x", $0) }.joined() }
        let response = try httpPost(bridge.web + "/webrtc/join", body: offer, headers: [
            "Content-Type": "application/sdp",
            "Authorization": #"VCBridge site="\#(site)", nonce="\#(hex(nonce))", time="\#(time)", proof="\#(hex(proof))""#,
        ])
        guard response.status == 201 else { throw CommandFailure("join refused: \(response)") }
        func attribute(_ name: String) -> String? {
            response.body.split(separator: "\n").first { $0.hasPrefix("a=\(name):") }.map {
                String($0.dropFirst(name.count + 3)).trimmingCharacters(in: .whitespacesAndNewlines)
            }
        }
        guard let ufrag = attribute("ice-ufrag"), let password = attribute("ice-pwd") else {
            throw CommandFailure("no ICE credentials in the answer: \(response.body)")
        }
        self.ufrag = ufrag
        self.password = password
        media = bridge.media
    }

    /// A Binding request as a controlling browser sends it, with integrity under `password`.
    func check(password: String, useCandidate: Bool = true) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: 200)
        let count = try bytes.withUnsafeMutableBytes { raw in
            var writer = try STUNMessageWriter(into: raw, type: .bindingRequest, transactionID: STUNTransactionID(try SecureRandom.bytes(12)))
            try writer.appendUsername("\(ufrag):\(remoteUfrag)")
            try writer.appendPriority(1_853_824_767)
            try writer.appendICEControlling(tieBreaker: 42)
            if useCandidate { try writer.appendUseCandidate() }
            try writer.appendMessageIntegrity(key: Array(password.utf8))
            return try writer.appendFingerprint()
        }
        return Array(bytes[0..<count])
    }
}

@Suite("WebRTC transport on the media port", .serialized)
struct WebRTCTransportTests {
    @Test func aCheckWithABadIntegrityGetsNothingAndAValidOneIsAnswered() throws {
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        let join = try HandMadeWebRTCJoin(bridge: bridge, site: "lang-cong")
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let batch = DatagramBatch(capacity: 4, slotSize: 1500)
        func answers(within seconds: Double) throws -> [[UInt8]] {
            var got: [[UInt8]] = []
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                guard try socket.waitReadable(nanoseconds: 100_000_000) else { continue }
                let n = try socket.receive(into: batch)
                for i in 0..<n { got.append(Array(batch.datagram(i))) }
            }
            return got
        }
        // Forged: the right ufrag, integrity under another password; and garbage of STUN's shape.
        for _ in 0..<20 { try socket.send(try join.check(password: "a-password-that-is-wrong-1234"), to: join.media) }
        try socket.send([0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42] + [UInt8](repeating: 7, count: 12), to: join.media)
        #expect(try answers(within: 1.5).isEmpty, "the bridge answered a check it could not verify")
        #expect(try waitFor(5) { try bridge.status()["refusedWebRTCPackets"] as? Int ?? 0 >= 21 })  // counted, for technicians
        // Genuine: answered with a success response, never larger than the request.
        let request = try join.check(password: join.password)
        try socket.send(request, to: join.media)
        let got = try answers(within: 2)
        #expect(got.count == 1 && got[0].count <= request.count, "\(got.map(\.count)) for a request of \(request.count)")
        #expect(got.first.map { $0[0] == 0x01 && $0[1] == 0x01 } == true)  // Binding success response
        let message = try got.first.map { bytes in try bytes.withUnsafeBytes { try STUNMessage(parsing: $0) } }
        #expect(message?.xorMappedAddress == socket.localAddress)
        #expect(bridge.stop() == 0)
    }

    @Test func aJoinDatedAtTheEndOfTimeIsRefusedAndTheBridgeGoesOn() throws {
        // time = Int64.min once trapped the bridge (abs(now - time)): one unauthenticated request ended every meeting.
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        let offer = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SDPTests/Fixtures/aiortc-1-offer.sdp").path, encoding: .utf8)
        for time in ["-9223372036854775808", "9223372036854775807"] {
            let response = try httpPost(bridge.web + "/webrtc/join", body: offer, headers: [
                "Content-Type": "application/sdp",
                "Authorization": #"VCBridge site="lang-cong", nonce="\#(String(repeating: "ab", count: 32))", time="\#(time)", proof="\#(String(repeating: "cd", count: 32))""#,
            ])
            #expect(response.status == 401, "\(response)")
        }
        #expect(try bridge.status()["pid"] != nil)  // still serving
        #expect(bridge.stop() == 0)
    }

    @Test func theFirstCheckRightAfterTheAnswerIsAnswered() throws {
        // The answer comes once the media thread has the session: a browser's first check, sent the moment it
        // has the answer, must not be dropped as unknown (its retransmission would come 100-250 ms later).
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let batch = DatagramBatch(capacity: 4, slotSize: 1500)
        for site in ["lang-cong", "tam-son", "song-lo"] {
            let join = try HandMadeWebRTCJoin(bridge: bridge, site: site)
            try socket.send(try join.check(password: join.password), to: join.media)
            #expect(try socket.waitReadable(nanoseconds: 1_000_000_000), "the first check of \(site) was not answered")
            #expect(try socket.receive(into: batch) == 1)
        }
        #expect(bridge.stop() == 0)
    }

    @Test func aPeerWhoseConsentChecksStopIsShownLost() throws {
        let bridge = try RunningBridge(lostAfterSeconds: 3, quality: RunningBridge.withWeb)
        let join = try HandMadeWebRTCJoin(bridge: bridge, site: "lang-cong")
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        for _ in 0..<4 {  // checks every second for a while: the site stays
            try socket.send(try join.check(password: join.password), to: join.media)
            Thread.sleep(forTimeInterval: 1)
        }
        #expect(try bridge.siteStatus("lang-cong") != nil)
        // Then silence: lost after lostAfterSeconds, and the log says so.
        #expect(try waitFor(10) { try bridge.siteStatus("lang-cong") == nil })
        #expect(bridge.logText.contains("event=site-lost site=lang-cong"), "\(bridge.logText)")
        #expect(bridge.stop() == 0)
    }
}
