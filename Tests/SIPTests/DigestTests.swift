import Testing
@testable import SIP

@Suite("SIP digest authentication (RFC 7616, RFC 8760)")
struct DigestTests {
    static let rfcNonce = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
    static let rfcCnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"
    static let mufasa = DigestCredentials(username: "Mufasa", password: "Circle of Life")

    @Test("RFC 7616 §3.9.1: the client's responses for SHA-256 and MD5", arguments: [
        (DigestAlgorithm.sha256, "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        (DigestAlgorithm.md5, "8ca523f5e9506fed4657c9700eebdbec"),
    ])
    func rfcExample(algorithm: DigestAlgorithm, expected: String) throws {
        let header = "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=\(algorithm.rawValue), "
            + "nonce=\"\(Self.rfcNonce)\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
        let challenge = try #require(DigestChallenge(parsing: header))
        #expect(challenge.algorithm == algorithm && challenge.realm == "http-auth@example.org" && !challenge.stale)
        let authorization = try Self.mufasa.authorization(for: challenge, method: "GET", uri: "/dir/index.html",
                                                          cnonce: Self.rfcCnonce, nc: 1)
        #expect(authorization.contains("response=\"\(expected)\""))
        #expect(authorization.contains("nc=00000001") && authorization.contains("opaque=\"FQhe/"))
    }

    @Test("RFC 2069 §2.4: an older MCU's challenge without qop is answered in that form")
    func legacyWithoutQop() throws {
        let challenge = try #require(DigestChallenge(parsing:
            "Digest realm=\"testrealm@host.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""))
        #expect(challenge.algorithm == .md5 && !challenge.qopAuth)
        let credentials = DigestCredentials(username: "Mufasa", password: "CircleOfLife")
        let header = try credentials.authorization(for: challenge, method: "GET", uri: "/dir/index.html", cnonce: "unused", nc: 1)
        #expect(header.contains("response=\"1949323746fe6a43ef61f9606e7febea\""))
        #expect(!header.contains("qop=") && !header.contains("cnonce="))
        #expect(DigestChallenge(parsing: "Digest realm=\"r\", nonce=\"n\", qop=\"auth-int\"") == nil)
        #expect(DigestChallenge(parsing: "Digest realm=\"r\", nonce=\"n\", algorithm=SHA-512-256, qop=\"auth\"") == nil)
    }

    @Test("challenges offer SHA-256 first, then MD5, with one nonce")
    func challengeOrder() throws {
        let challenger = DigestChallenger(realm: "vcbridge", secret: Array(repeating: 7, count: 32))
        let values = try challenger.challenges(now: 1_000)
        #expect(values.count == 2)
        let first = try #require(DigestChallenge(parsing: values[0]))
        let second = try #require(DigestChallenge(parsing: values[1]))
        #expect(first.algorithm == .sha256 && second.algorithm == .md5 && first.nonce == second.nonce)
    }

    /// The bridge challenges, the client answers, the bridge verifies: both algorithms.
    @Test("a right password is accepted; a wrong one, another realm, another URI, a forged nonce are refused",
          arguments: DigestAlgorithm.allCases)
    func serverVerifies(algorithm: DigestAlgorithm) throws {
        var challenger = DigestChallenger(realm: "vcbridge", secret: Array(repeating: 9, count: 32))
        let values = try challenger.challenges(now: 10_000)
        let challenge = try #require(values.compactMap(DigestChallenge.init(parsing:)).first { $0.algorithm == algorithm })
        let uri = "sip:meeting@192.0.2.10"
        let passwords = ["site-7": "right-password"]
        func verify(_ header: String, uri requestURI: String = uri, now: Int64 = 11_000) -> DigestVerdict {
            challenger.verify(authorization: header, method: "INVITE", requestURI: requestURI, now: now) { passwords[$0] }
        }
        let good = DigestCredentials(username: "site-7", password: "right-password")
        #expect(verify(try good.authorization(for: challenge, method: "INVITE", uri: uri, cnonce: "c1", nc: 1))
                == .accepted(username: "site-7"))
        let wrong = DigestCredentials(username: "site-7", password: "wrong")
        #expect(verify(try wrong.authorization(for: challenge, method: "INVITE", uri: uri, cnonce: "c1", nc: 2))
                == .refused(.wrongResponse))
        #expect(verify(try good.authorization(for: challenge, method: "INVITE", uri: uri, cnonce: "c1", nc: 3),
                       uri: "sip:other@192.0.2.10") == .refused(.uriMismatch))
        var otherRealm = challenge
        otherRealm.realm = "elsewhere"
        #expect(verify(try good.authorization(for: otherRealm, method: "INVITE", uri: uri, cnonce: "c1", nc: 4))
                == .refused(.wrongRealm))
        var forged = challenge
        forged.nonce = "AAAAAAAAJxCqqqqqqqqqqqqqqqqqqqqq"
        #expect(verify(try good.authorization(for: forged, method: "INVITE", uri: uri, cnonce: "c1", nc: 1))
                == .refused(.badNonce))
        let stranger = DigestCredentials(username: "nobody", password: "x")
        #expect(verify(try stranger.authorization(for: challenge, method: "INVITE", uri: uri, cnonce: "c1", nc: 1))
                == .refused(.unknownUser))
        #expect(verify("Basic dXNlcjpwYXNz") == .refused(.malformed))
    }

    @Test("a replayed response (nc not increasing) is refused; a higher nc is accepted")
    func replay() throws {
        var challenger = DigestChallenger(realm: "vcbridge", secret: Array(repeating: 1, count: 32))
        let challenge = try #require(DigestChallenge(parsing: try challenger.challenges(now: 0)[0]))
        let good = DigestCredentials(username: "u", password: "p")
        let first = try good.authorization(for: challenge, method: "BYE", uri: "sip:a@b", cnonce: "x", nc: 1)
        func verify(_ header: String) -> DigestVerdict {
            challenger.verify(authorization: header, method: "BYE", requestURI: "sip:a@b", now: 1_000) { $0 == "u" ? "p" : nil }
        }
        #expect(verify(first) == .accepted(username: "u"))
        #expect(verify(first) == .refused(.replayed))
        let second = try good.authorization(for: challenge, method: "BYE", uri: "sip:a@b", cnonce: "x", nc: 2)
        #expect(verify(second) == .accepted(username: "u"))
        #expect(verify(first) == .refused(.replayed))
    }

    @Test("an expired nonce with the right password is answered stale=true; memory stays bounded without letting replays in")
    func staleAndBounded() throws {
        var challenger = DigestChallenger(realm: "r", secret: Array(repeating: 2, count: 32), maxTrackedNonces: 8)
        let good = DigestCredentials(username: "u", password: "p")
        let old = try #require(DigestChallenge(parsing: try challenger.challenges(now: 0)[0]))
        let header = try good.authorization(for: old, method: "INVITE", uri: "sip:a@b", cnonce: "x", nc: 1)
        #expect(challenger.verify(authorization: header, method: "INVITE", requestURI: "sip:a@b", now: 300_001) { _ in "p" } == .stale)
        let again = try challenger.challenges(now: 300_001, stale: true)
        #expect(DigestChallenge(parsing: again[0])?.stale == true && again[0].contains("stale=true"))
        // 100 nonces used at 1 s intervals: memory holds at most 8; the first, replayed after eviction, is not accepted.
        var firstHeader = ""
        for index in 0..<100 {
            let now = Int64(400_000 + index * 1_000)
            let challenge = try #require(DigestChallenge(parsing: try challenger.challenges(now: now)[0]))
            let header = try good.authorization(for: challenge, method: "INVITE", uri: "sip:a@b", cnonce: "x", nc: 1)
            if index == 0 { firstHeader = header }
            #expect(challenger.verify(authorization: header, method: "INVITE", requestURI: "sip:a@b", now: now) { _ in "p" }
                    == .accepted(username: "u"))
            #expect(challenger.trackedNonces <= 8)
        }
        #expect(challenger.verify(authorization: firstHeader, method: "INVITE", requestURI: "sip:a@b", now: 499_500) { _ in "p" }
                != .accepted(username: "u"))
    }
}
