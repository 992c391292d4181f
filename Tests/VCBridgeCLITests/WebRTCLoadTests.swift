import Admission
import DTLS
import Endpoint
import Foundation
import KeyDerivation
import Testing
import RTP
import Transport
@testable import VCBridgeCLI

/// The browser path driven by vcbridge's own WebRTC client (the load generator's): `loadtest --webrtc` joining a
/// meeting, and a peer whose DTLS certificate is not the one its proven offer named.
@Suite("WebRTC load generator", .serialized)
struct WebRTCLoadTests {
    @Test func theLoadGeneratorJoinsEverySiteAsABrowserDoesAndEachHearsTheMix() throws {
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        let web = String(bridge.web.dropFirst("http://".count))
        for profile in ["gcm", "cm"] {
            let run = try bridge.cli(["loadtest", "--sites", "3", "--talkers", "1", "--duration", "6s", "--bridge", bridge.signaling.description,
                                      "--webrtc", "--web", web, "--srtp", profile, "--json"])
            #expect(run.status == 0, "\(run.stderr)")
            let summary = try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any] ?? [:]
            let joins = summary["webRTC"] as? [String: Any] ?? [:]
            #expect(joins["joined"] as? Int == 3, "\(summary)")
            #expect((joins["failures"] as? [String])?.isEmpty == true, "\(joins)")
            #expect(joins["srtpProfiles"] as? [String: Int] == [profile == "gcm" ? "aeadAES128GCM" : "aesCM128HMACSHA1_80": 3], "\(joins)")
            #expect(joins["joinP99Ms"] as? Double ?? 10_000 < 3000, "\(joins)")
            // Every site got the mix: 50 packets a second, none failing authentication.
            #expect(summary["deliveryMinPerSecond"] as? Double ?? 0 >= 49, "\(summary)")
            #expect(summary["authenticationFailures"] as? Int == 0, "\(summary)")
            // They left (DELETE): the bridge no longer has them.
            #expect(try waitFor(5) { (try bridge.status()["sites"] as? [Any])?.isEmpty == true })
        }
        #expect(bridge.logText.contains("transport=webrtc"))
        let misuse = try bridge.cli(["loadtest", "--sites", "3", "--duration", "5s", "--bridge", bridge.signaling.description, "--srtp", "gcm"])
        #expect(misuse.status == 64 && misuse.stderr.contains("--webrtc"), "\(misuse.stderr)")
        let remote = try bridge.cli(["loadtest", "--sites", "3", "--duration", "5s", "--bridge", bridge.signaling.description,
                                     "--webrtc", "--web", "192.0.2.1:443"])
        #expect(remote.status == 64 && remote.stderr.contains("loopback"), "\(remote.stderr)")
        #expect(bridge.stop() == 0)
    }

    @Test func aPeerWhoseMediaComesButWhoseConsentStopsIsDroppedAfterTheConsentTime() throws {
        // lostAfterSeconds 3, consentSeconds 8: media without checks keeps the peer past 3 s, not past 8 s.
        let bridge = try RunningBridge(lostAfterSeconds: 3, quality: RunningBridge.withWeb, bridgeSettings: #""consentSeconds": 8"#)
        let web = try SocketAddress(parsing: String(bridge.web.dropFirst("http://".count)))
        let certificate = try DTLSCertificate.selfSigned()
        let offer = try WebRTCSignalling.Offer(fingerprint: certificate.fingerprint, audioSSRC: 4242, videoSSRC: 4343)
        let answer = try WebRTCSignalling.join(offer: offer, key: try bridge.key("lang-cong"), web: web)
        let link = try WebRTCLink(offer: offer, answer: answer, certificate: certificate, now: monotonicNanoseconds())
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let batch = DatagramBatch(capacity: 16, slotSize: 1500)
        var buffer = [UInt8](repeating: 0, count: 1500)
        var sequence: UInt16 = 1
        var connectedAt: Int64?
        var lostAfter: Double?
        var seen = false
        let start = monotonicNanoseconds()
        while monotonicNanoseconds() - start < 14_000_000_000, lostAfter == nil {
            let now = monotonicNanoseconds()
            if connectedAt == nil { link.advance(now: now) }  // checks only until connected: then no consent
            for datagram in link.takeOutgoing() { try socket.send(datagram, to: answer.media) }
            if let outbound = link.outbound {
                connectedAt = connectedAt ?? now
                // A quiet Opus frame every 20 ms, as a muted browser still sends.
                let length = try buffer.withUnsafeMutableBytes { raw in
                    let header = try RTPHeader.write(into: raw, payloadType: 111, sequenceNumber: sequence, timestamp: UInt32(sequence) * 960, ssrc: 4242)
                    raw[header] = 0xF8; raw[header + 1] = 0xFF; raw[header + 2] = 0xFE
                    return try outbound.protectRTP(raw, length: header + 3)
                }
                try socket.send(Array(buffer[0..<length]), to: answer.media)
                sequence &+= 1
                if (sequence % 25) == 0 {
                    let present = try bridge.siteStatus("lang-cong") != nil
                    if present { seen = true } else if seen { lostAfter = Double(now - connectedAt!) / 1e9 }
                }
            }
            if try socket.waitReadable(nanoseconds: 20_000_000) {
                for i in 0..<(try socket.receive(into: batch)) { _ = link.receive(UnsafeRawBufferPointer(batch.datagram(i)), now: now) }
            }
        }
        let lost = try #require(lostAfter, "the peer was never dropped")
        #expect(lost > 5 && lost < 11, "dropped \(lost) s after its last check")
        #expect(bridge.logText.contains("event=site-lost site=lang-cong"))
        #expect(bridge.stop() == 0)
    }

    /// Runs `link` over `socket` until it is connected and has received an authentic packet of the mix, or `seconds` pass.
    private func connect(_ link: WebRTCLink, _ answer: WebRTCSignalling.Answer, over socket: UDPSocket, seconds: Double) throws -> Bool {
        let batch = DatagramBatch(capacity: 16, slotSize: 1500)
        let deadline = monotonicNanoseconds() + Int64(seconds * 1e9)
        while monotonicNanoseconds() < deadline {
            link.advance(now: monotonicNanoseconds())
            for datagram in link.takeOutgoing() { try socket.send(datagram, to: answer.media) }
            if case .failed = link.state { return false }
            guard try socket.waitReadable(nanoseconds: 20_000_000) else { continue }
            for i in 0..<(try socket.receive(into: batch)) {
                var bytes = Array(batch.datagram(i))
                guard link.receive(UnsafeRawBufferPointer(batch.datagram(i)), now: monotonicNanoseconds()), let inbound = link.inbound,
                      bytes.count > 12, !(192...223).contains(bytes[1]) else { continue }
                if (try? bytes.withUnsafeMutableBytes { try inbound.unprotectRTP($0, length: $0.count) }) != nil { return true }
            }
        }
        return false
    }

    @Test func aBrowserThatJoinsAgainWithoutLeavingKeepsItsNewSession() throws {
        // A PC whose page was reloaded, or whose network dropped, joins again while its old session still stands.
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        let web = try SocketAddress(parsing: String(bridge.web.dropFirst("http://".count)))
        let host = try bridge.endpoint("song-lo", ["--tone", "440", "--duration", "12s"])
        var links: [WebRTCLink] = []
        for attempt in 1...2 {
            let certificate = try DTLSCertificate.selfSigned()
            let offer = try WebRTCSignalling.Offer(fingerprint: certificate.fingerprint, audioSSRC: UInt32(5000 + attempt), videoSSRC: UInt32(6000 + attempt))
            let answer = try WebRTCSignalling.join(offer: offer, key: try bridge.key("lang-cong"), web: web)
            let link = try WebRTCLink(offer: offer, answer: answer, certificate: certificate, now: monotonicNanoseconds())
            let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
            #expect(try connect(link, answer, over: socket, seconds: 5), "join \(attempt) did not connect: \(link.state)")
            links.append(link)
        }
        // The second session stands: no transport failure, still in status seconds later.
        Thread.sleep(forTimeInterval: 2)
        #expect(try bridge.siteStatus("lang-cong") != nil)
        #expect(!bridge.logText.contains("webrtc-transport-failed site=lang-cong"), "\(bridge.logText)")
        _ = bridge.finish(host)
        #expect(bridge.stop() == 0)
    }

    @Test func aDTLSCertificateThatIsNotTheOffersIsRefusedAndGetsNoMedia() throws {
        let bridge = try RunningBridge(quality: RunningBridge.withWeb)
        let web = try SocketAddress(parsing: String(bridge.web.dropFirst("http://".count)))
        // tam-son is in the meeting throughout, natively.
        let commune = try bridge.endpoint("tam-son", ["--tone", "440", "--duration", "8s", "--json"])
        #expect(try waitFor(5) { try bridge.siteStatus("tam-son") != nil })

        // lang-cong's offer proves certificate A (its key is genuine); the handshake then presents certificate B.
        let proven = try DTLSCertificate.selfSigned(commonName: "proven")
        let presented = try DTLSCertificate.selfSigned(commonName: "presented")
        let offer = try WebRTCSignalling.Offer(fingerprint: proven.fingerprint, audioSSRC: 1111, videoSSRC: 2222)
        let answer = try WebRTCSignalling.join(offer: offer, key: try bridge.key("lang-cong"), web: web)
        let link = try WebRTCLink(offer: offer, answer: answer, certificate: presented, now: monotonicNanoseconds())
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        let batch = DatagramBatch(capacity: 16, slotSize: 1500)
        var media = 0
        let deadline = monotonicNanoseconds() + 5_000_000_000
        while monotonicNanoseconds() < deadline {
            link.advance(now: monotonicNanoseconds())
            for datagram in link.takeOutgoing() { try socket.send(datagram, to: answer.media) }
            if case .failed = link.state { break }
            guard try socket.waitReadable(nanoseconds: 20_000_000) else { continue }
            for i in 0..<(try socket.receive(into: batch)) where link.receive(UnsafeRawBufferPointer(batch.datagram(i)), now: monotonicNanoseconds()) {
                media += 1
            }
        }
        // The bridge refused the handshake (its alert ends ours), named why, and ended the session.
        #expect(link.state != .connected && link.outbound == nil, "\(link.state)")
        #expect(try waitFor(5) { bridge.logText.contains("event=webrtc-transport-failed site=lang-cong") }, "\(bridge.logText)")
        #expect(bridge.logText.contains("fingerprintMismatch"), "\(bridge.logText)")
        #expect(try waitFor(5) { try bridge.siteStatus("lang-cong") == nil })
        // Nothing but the handshake's own records came back: no RTP or RTCP.
        #expect(try socket.waitReadable(nanoseconds: 1_000_000_000) == false || (0..<(try socket.receive(into: batch))).allSatisfy {
            batch.datagram($0).first.map { !(128...191).contains($0) } ?? true
        })
        #expect(media == 0)
        // The meeting went on: the commune was never dropped and heard its 50 packets a second.
        let finished = bridge.finish(commune)
        #expect(finished.status == 0, "\(finished.output)")
        #expect(try bridge.siteStatus("lang-cong") == nil)
        #expect(!bridge.logText.contains("site-lost site=tam-son"))
        #expect(bridge.stop() == 0)
    }
}

/// The session a join page reads and the floor its chair gives, through vcbridge's own WebRTC client.
@Suite("WebRTC session for the join page", .serialized)
struct WebRTCSessionTests {
    /// A request to the web listener with a body; the status and the JSON answer.
    private func request(_ method: String, _ path: String, web: SocketAddress, body: [UInt8] = [], headers: [(String, String)] = [])
        throws -> (status: Int, json: [String: Any])
    {
        let response = try HTTPExchange.perform(method: method, path: path, at: web, headers: headers, body: body, timeoutMilliseconds: 5000)
        let json = (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
        let status = response.status
        return (status, json)
    }

    private func floorRequest(_ body: String, key: SiteKey, path: String, web: SocketAddress, proofOver: String? = nil) throws
        -> (status: Int, json: [String: Any])
    {
        let nonce = try SecureRandom.bytes(32)
        let time = Int64(Date().timeIntervalSince1970)
        let a = try WebRTCJoinProof.authenticationKey(secret: key.secret, site: key.site, nonce: nonce)
        let proof = try WebRTCJoinProof.proof(.floor, key: a, site: key.site, time: time, nonce: nonce,
                                              fingerprints: [Array((proofOver ?? body).utf8)])
        let credentials = WebRTCJoinProof.Credentials(site: key.site, nonce: nonce, time: time, proof: proof)
        return try request("POST", path + "/floor", web: web, body: Array(body.utf8), headers: [
            ("Content-Type", "application/json"), ("Authorization", credentials.authorization),
        ])
    }

    private func join(_ site: String, bridge: RunningBridge, web: SocketAddress) throws -> WebRTCSignalling.Answer {
        let certificate = try DTLSCertificate.selfSigned()
        let offer = try WebRTCSignalling.Offer(fingerprint: certificate.fingerprint, audioSSRC: .random(in: 1...UInt32.max),
                                               videoSSRC: .random(in: 1...UInt32.max))
        return try WebRTCSignalling.join(offer: offer, key: try bridge.key(site), web: web)
    }

    @Test func thePageSeesItsMeetingAndNoticesAndOnlyTheChairGivesTheFloor() throws {
        // Four minutes left: the 5-minute warning is due at once.
        let bridge = try RunningBridge(duration: "4m", quality: RunningBridge.withWeb)
        let web = try SocketAddress(parsing: String(bridge.web.dropFirst("http://".count)))
        let host = try join("song-lo", bridge: bridge, web: web)
        let commune = try join("lang-cong", bridge: bridge, web: web)

        let state = try request("GET", host.sessionPath, web: web)
        #expect(state.status == 200, "\(state)")
        #expect(state.json["site"] as? String == "song-lo" && state.json["chair"] as? Bool == true)
        let meeting = state.json["meeting"] as? [String: Any] ?? [:]
        #expect(meeting["title"] as? String == "Kiểm thử cầu nối" && meeting["host"] as? String == "song-lo", "\(meeting)")
        let sites = (state.json["sites"] as? [[String: Any]] ?? []).compactMap { $0["site"] as? String }
        #expect(Set(sites) == ["song-lo", "lang-cong", "tam-son"], "\(sites)")
        #expect(try waitFor(10) {
            let notices = try request("GET", commune.sessionPath, web: web).json["notices"] as? [[String: Any]] ?? []
            return notices.contains { $0["type"] as? String == "warning" && (3...4).contains($0["minutesLeft"] as? Int ?? 0) }
        }, "no end warning (4 minutes left) for the WebRTC session")
        #expect(try request("GET", commune.sessionPath, web: web).json["chair"] as? Bool == false)

        // The commune cannot take the floor; a wrong proof is refused; the host gives it and takes it back.
        let communeTry = try floorRequest(#"{"site":"lang-cong"}"#, key: try bridge.key("lang-cong"), path: commune.sessionPath, web: web)
        #expect(communeTry.status == 403 && communeTry.json["reason"] as? String == "not-chair", "\(communeTry)")
        let tampered = try floorRequest(#"{"site":"lang-cong"}"#, key: try bridge.key("song-lo"), path: host.sessionPath, web: web,
                                        proofOver: #"{"site":"tam-son"}"#)
        #expect(tampered.status == 401, "\(tampered)")
        let stranger = try floorRequest(#"{"site":"central"}"#, key: try bridge.key("song-lo"), path: host.sessionPath, web: web)
        #expect(stranger.status == 400 && stranger.json["reason"] as? String == "not-in-meeting", "\(stranger)")
        let given = try floorRequest(#"{"site":"lang-cong"}"#, key: try bridge.key("song-lo"), path: host.sessionPath, web: web)
        #expect(given.status == 200 && given.json["floor"] as? String == "lang-cong", "\(given)")
        #expect(try waitFor(5) { bridge.logText.contains("event=floor meeting=1 site=lang-cong") }, "\(bridge.logText)")
        #expect(try request("GET", commune.sessionPath, web: web).json["floor"] as? String == "lang-cong")
        let back = try floorRequest(#"{"site":null}"#, key: try bridge.key("song-lo"), path: host.sessionPath, web: web)
        #expect(back.status == 200 && back.json["floor"] is NSNull, "\(back)")

        // Gone sessions answer 404 "ended", which tells the page to join again.
        #expect(try request("DELETE", commune.sessionPath, web: web).status == 204)
        let gone = try request("GET", commune.sessionPath, web: web)
        #expect(gone.status == 404 && gone.json["reason"] as? String == "ended", "\(gone)")
        #expect(bridge.stop() == 0)
    }
}
