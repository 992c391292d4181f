import Testing
@testable import Endpoint

@Suite struct EncoderLossFollowerTests {
    @Test func aCleanLinkAsksForNoFECAndALossyOneForItsLoss() {
        var follower = EncoderLossFollower()
        for _ in 0..<20 { #expect(follower.reported(fractionLost: 0) == nil) }
        #expect(follower.applied == 0)
        // 10 % reported (26/256) for a while: the encoder is told about 10 %.
        for _ in 0..<20 { _ = follower.reported(fractionLost: 26) }
        #expect(follower.applied == 10)
        // A burst of 100 % reports is held to the maximum; back to clean, back to 0.
        for _ in 0..<10 { _ = follower.reported(fractionLost: 255) }
        #expect(follower.applied == EncoderLossFollower.maximumPercent)
        for _ in 0..<30 { _ = follower.reported(fractionLost: 0) }
        #expect(follower.applied == 0)
    }

    @Test func anHourOfReportsChangesTheEncoderOnlyWhenTheLossMoves() {
        var follower = EncoderLossFollower()
        var changes = 0
        for second in 0..<3600 {
            // 5 % steady with a one-second 50 % spike every ten minutes.
            if follower.reported(fractionLost: second % 600 == 0 ? 128 : 13) != nil { changes += 1 }
        }
        #expect(follower.applied == 5)
        #expect(changes < 60, "\(changes) changes in an hour")
    }
}
