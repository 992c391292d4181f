import Admission
import Testing

@Suite("Session SSRCs")
struct SessionSSRCTests {
    @Test func fiveDistinctNonZeroSSRCsNoneAlreadyInUseEvenWhenTheRandomSourceRepeatsItself() {
        // A source that keeps repeating values: zero, ones in use, and its own earlier draws.
        var candidates: [UInt32] = [0, 42, 42, 7, 0, 7, 9, 42, 11, 9, 12, 13, 14]
        let ssrcs = SessionSSRCs.draw(avoiding: [11, 12]) { candidates.removeFirst() }
        #expect(ssrcs.all == [42, 7, 9, 13, 14])
        #expect(Set(ssrcs.all).count == 5)
    }

    @Test func aThousandSessionsNeverShareAnSSRC() {
        var inUse: Set<UInt32> = []
        var next: UInt32 = 0
        for _ in 0..<1000 {
            // A deliberately poor source: only 6,000 values, so clashes happen all the time.
            let ssrcs = SessionSSRCs.draw(avoiding: inUse) {
                next = next &* 1_103_515_245 &+ 12_345
                return next % 6_000
            }
            #expect(Set(ssrcs.all).count == 5)
            #expect(inUse.isDisjoint(with: ssrcs.all))
            inUse.formUnion(ssrcs.all)
        }
        #expect(inUse.count == 5000)
    }
}
