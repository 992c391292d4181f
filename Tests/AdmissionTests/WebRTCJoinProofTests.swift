import Testing
@testable import Admission

@Suite struct WebRTCJoinProofTests {
    private let nonce = String(repeating: "ab", count: 32)
    private let proof = String(repeating: "cd", count: 32)

    @Test func aWellFormedHeaderIsReadAndWrittenBack() throws {
        let header = #"VCBridge site="lang-cong", nonce="\#(nonce)", time="1796000000", proof="\#(proof)""#
        let credentials = try #require(WebRTCJoinProof.Credentials(authorization: header))
        #expect(credentials.site == "lang-cong" && credentials.time == 1_796_000_000)
        #expect(credentials.authorization == header)
    }

    @Test(arguments: ["-9223372036854775808", "9223372036854775807", "-1", "1099511627777", "12a", ""])
    func aTimeOutsideTheCalendarIsRefusedBeforeAnyArithmetic(time: String) {
        // Int64.min once trapped the bridge in abs(now - time): one unauthenticated request stopped every meeting.
        let header = #"VCBridge site="lang-cong", nonce="\#(nonce)", time="\#(time)", proof="\#(proof)""#
        #expect(WebRTCJoinProof.Credentials(authorization: header) == nil)
    }

    @Test(arguments: [
        #"VCBridge site="x", nonce="00", time="1", proof="00""#,  // short nonce and proof
        #"Basic dXNlcjpwYXNz"#,
        #"VCBridge site="x", site="y", nonce="00", time="1""#,
        #"VCBridge site=x, nonce=y"#,
    ])
    func malformedHeadersAreRefused(header: String) {
        #expect(WebRTCJoinProof.Credentials(authorization: header) == nil)
    }
}
