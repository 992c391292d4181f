import Admission
import DTLS
import Foundation
import KeyDerivation
import SDP
import Transport

/// The signalling half of a join the way a browser makes it (`docs/PROTOCOL.md`, "Joining from a browser"): an SDP
/// offer with the site's proof `POST`ed to the bridge's web listener, the answer and the bridge's proof checked.
/// Plain HTTP, so only for a web listener on loopback (the load generator and tests; browsers use HTTPS).
public enum WebRTCSignalling {
    /// This side of a session: what its offer announces.
    public struct Offer: Sendable {
        public let ufrag: String
        public let password: String
        public let fingerprint: DTLSFingerprint
        public let audioSSRC: UInt32
        public let videoSSRC: UInt32
        /// The RFC 6464 audio-level extension's id in the offer.
        public static let audioLevelID: UInt8 = 1
        public static let audioPayloadType: UInt8 = 111
        public static let videoPayloadType: UInt8 = 96

        public init(fingerprint: DTLSFingerprint, audioSSRC: UInt32, videoSSRC: UInt32) throws {
            let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
            let random = try SecureRandom.bytes(30)
            ufrag = String(decoding: random[0..<8].map { alphabet[Int($0) % 64] }, as: UTF8.self)
            password = String(decoding: random[8..<30].map { alphabet[Int($0) % 64] }, as: UTF8.self)
            self.fingerprint = fingerprint
            self.audioSSRC = audioSSRC
            self.videoSSRC = videoSSRC
        }

        /// A browser-shaped offer: BUNDLE of Opus audio (sendrecv, level extension), the camera's VP8 (sendrecv,
        /// nack, pli, ccm fir, goog-remb) and the second stream's VP8 (recvonly); `a=setup:actpass`, rtcp-mux.
        public var text: String {
            let video = Self.videoPayloadType
            func section(_ kind: String, mid: Int, direction: String, ssrc: UInt32?, formats: [String]) -> [String] {
                var lines = ["m=\(kind) 9 UDP/TLS/RTP/SAVPF \(kind == "audio" ? "\(Self.audioPayloadType)" : "\(video)")",
                             "c=IN IP4 0.0.0.0", "a=rtcp:9 IN IP4 0.0.0.0", "a=ice-ufrag:\(ufrag)", "a=ice-pwd:\(password)",
                             "a=fingerprint:\(fingerprint.sdpValue)", "a=setup:actpass", "a=mid:\(mid)", "a=\(direction)",
                             "a=rtcp-mux"]
                lines += formats
                if let ssrc { lines += ["a=msid:vcbridge-loadtest \(kind)\(mid)", "a=ssrc:\(ssrc) cname:vcbridge-loadtest"] }
                return lines
            }
            let videoFormats = ["a=rtpmap:\(video) VP8/90000", "a=rtcp-fb:\(video) nack", "a=rtcp-fb:\(video) nack pli",
                                "a=rtcp-fb:\(video) ccm fir", "a=rtcp-fb:\(video) goog-remb"]
            let lines = ["v=0", "o=- \(audioSSRC) 1 IN IP4 127.0.0.1", "s=-", "t=0 0", "a=group:BUNDLE 0 1 2", "a=msid-semantic:WMS *"]
                + section("audio", mid: 0, direction: "sendrecv", ssrc: audioSSRC, formats: [
                    "a=extmap:\(Self.audioLevelID) urn:ietf:params:rtp-hdrext:ssrc-audio-level",
                    "a=rtpmap:\(Self.audioPayloadType) opus/48000/2",
                    "a=fmtp:\(Self.audioPayloadType) minptime=10;useinbandfec=1",
                ])
                + section("video", mid: 1, direction: "sendrecv", ssrc: videoSSRC, formats: videoFormats)
                + section("video", mid: 2, direction: "recvonly", ssrc: nil, formats: videoFormats)
            return lines.joined(separator: "\r\n") + "\r\n"
        }
    }

    /// What the bridge's answer says.
    public struct Answer: Sendable {
        /// The session's URL path (`DELETE` it to leave).
        public let sessionPath: String
        /// The bridge's media address (its host candidate).
        public let media: SocketAddress
        public let ufrag: String
        public let password: String
        public let fingerprint: DTLSFingerprint
        /// The mix's SSRC and the two video streams'.
        public let audioSSRC: UInt32
        public let presenterSSRC: UInt32
        public let speakerSSRC: UInt32
    }

    /// Posts `offer` for `key`'s site to the web listener at `web`, checks the bridge's proof and reads the answer.
    /// - Throws: ``EndpointError`` naming the refusal (`refusal` is the bridge's reason, e.g. "not-booked") or what
    ///   was wrong with the answer.
    public static func join(offer: Offer, key: SiteKey, web: SocketAddress, timeoutMilliseconds: Int64 = 5000) throws -> Answer {
        let nonce = try SecureRandom.bytes(JoinProtocol.nonceLength)
        let time = Int64(Date().timeIntervalSince1970)
        let authentication = try WebRTCJoinProof.authenticationKey(secret: key.secret, site: key.site, nonce: nonce)
        let proof = try WebRTCJoinProof.proof(.site, key: authentication, site: key.site, time: time, nonce: nonce,
                                              fingerprints: [offer.fingerprint.bytes])
        let credentials = WebRTCJoinProof.Credentials(site: key.site, nonce: nonce, time: time, proof: proof)
        let response = try HTTPExchange.perform(
            method: "POST", path: "/webrtc/join", at: web,
            headers: [("Content-Type", "application/sdp"), ("Authorization", credentials.authorization)],
            body: Array(offer.text.utf8), timeoutMilliseconds: timeoutMilliseconds)
        guard response.status == 201 else {
            let body = (try? JSONSerialization.jsonObject(with: Data(response.body))) as? [String: Any]
            let reason = body?["reason"] as? String
            var detail = body.map { b in b.keys.sorted().map { "\($0)=\(b[$0]!)" }.joined(separator: ", ") }
                ?? String(decoding: response.body.prefix(200), as: UTF8.self)
            if detail.isEmpty { detail = "no body" }
            throw EndpointError("the bridge refused the WebRTC join with \(response.status): \(detail)", refusal: reason)
        }
        guard let bridgeProof = response.header("VCBridge-Proof").flatMap({ JoinProtocol.bytes(hex: $0, length: 32) }) else {
            throw EndpointError("the bridge's answer has no VCBridge-Proof")
        }
        let answer = try parseAnswer(String(decoding: response.body, as: UTF8.self), location: response.header("Location"))
        let expected = try WebRTCJoinProof.proof(.bridge, key: authentication, site: key.site, time: time, nonce: nonce,
                                                 fingerprints: [offer.fingerprint.bytes, answer.fingerprint.bytes])
        guard HMACSHA256.constantTimeEqual(expected, bridgeProof) else {
            throw EndpointError("the bridge's proof is wrong: it does not hold this site's key, or the answer was altered")
        }
        return answer
    }

    /// Leaves: `DELETE` of the session's URL.
    public static func leave(_ answer: Answer, web: SocketAddress) throws {
        let response = try HTTPExchange.perform(method: "DELETE", path: answer.sessionPath, at: web, headers: [], body: [],
                                                timeoutMilliseconds: 5000)
        guard response.status == 204 || response.status == 404 else {
            throw EndpointError("leaving was answered with \(response.status)")
        }
    }

    static func parseAnswer(_ text: String, location: String?) throws -> Answer {
        guard let location, location.hasPrefix("/webrtc/sessions/") else { throw EndpointError("the answer has no session Location") }
        let sdp: SessionDescription
        do { sdp = try SessionDescription(parsing: text) } catch { throw EndpointError("the answer is not SDP: \(error)") }
        guard let audio = sdp.media.first(where: { $0.kind == "audio" && $0.port != 0 }) else {
            throw EndpointError("the answer has no audio")
        }
        guard let ice = sdp.iceCredentials(for: audio) else { throw EndpointError("the answer has no ICE credentials") }
        guard let fingerprint = sdp.fingerprints(for: audio).first(where: { $0.hashFunction == "sha-256" }),
              let dtls = try? DTLSFingerprint(sdpValue: "sha-256 " + fingerprint.hexadecimal)
        else { throw EndpointError("the answer has no sha-256 fingerprint") }
        // "<foundation> <component> udp <priority> <address> <port> typ host ..."
        let fields = audio.candidates.first?.split(separator: " ") ?? []
        guard fields.count >= 6, let port = UInt16(fields[5]), let media = try? SocketAddress(ip: String(fields[4]), port: port) else {
            throw EndpointError("the answer has no usable host candidate")
        }
        func ssrc(ofTrack track: String) throws -> UInt32 {
            guard let section = sdp.media.first(where: { $0.msid?.appData == track }), let ssrc = section.primarySSRCs.first else {
                throw EndpointError("the answer carries no \(track) stream")
            }
            return ssrc
        }
        return Answer(sessionPath: location, media: media, ufrag: ice.ufrag, password: ice.pwd, fingerprint: dtls,
                      audioSSRC: try ssrc(ofTrack: "mix"), presenterSSRC: try ssrc(ofTrack: "presenter"),
                      speakerSSRC: try ssrc(ofTrack: "speaker"))
    }
}

/// One HTTP/1.1 request and its response over a fresh TCP connection, bounded in time and size (plain HTTP: loopback).
public enum HTTPExchange {
    public struct Response: Sendable {
        public var status: Int
        public var headers: [(String, String)]
        public var body: [UInt8]
        public func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    static let maximumBody = 256 * 1024

    public static func perform(method: String, path: String, at address: SocketAddress, headers: [(String, String)], body: [UInt8],
                        timeoutMilliseconds: Int64) throws -> Response {
        let deadline = monotonicNanoseconds() + timeoutMilliseconds * 1_000_000
        let connection = try TCPConnection(connectingTo: address)
        defer { connection.close() }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: \(address)\r\nConnection: close\r\nContent-Length: \(body.count)\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        try connection.send(Array((head + "\r\n").utf8) + body, deadline: deadline)
        func line() throws -> String {
            guard let line = try connection.receiveLine(deadline: deadline) else {
                throw EndpointError("\(method) \(path): no complete response from \(address) in \(timeoutMilliseconds) ms")
            }
            return line.hasSuffix("\r") ? String(line.dropLast()) : line
        }
        let statusLine = try line().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]) else {
            throw EndpointError("\(method) \(path): not an HTTP response")
        }
        var fields: [(String, String)] = []
        while case let field = try line(), !field.isEmpty {
            guard let colon = field.firstIndex(of: ":"), fields.count < 100 else {
                throw EndpointError("\(method) \(path): malformed header line")
            }
            fields.append((String(field[..<colon]), field[field.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let response = Response(status: status, headers: fields, body: [])
        let length = response.header("Content-Length").flatMap { Int($0) } ?? 0
        guard (0...maximumBody).contains(length) else { throw EndpointError("\(method) \(path): a body of \(length) bytes") }
        guard let bytes = try connection.receive(count: length, deadline: deadline) else {
            throw EndpointError("\(method) \(path): the body did not arrive in \(timeoutMilliseconds) ms")
        }
        return Response(status: status, headers: fields, body: bytes)
    }
}
