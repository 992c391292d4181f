import Testing
@testable import Bridge

@Suite("Which join connection gives way")
struct JoinEvictionTests {
    struct Candidate: Equatable {
        let id: Int
        let accepted: Int64
        let challenged: Bool
    }

    func victim(_ candidates: [Candidate]) -> Int? {
        JoinEviction.victim(among: candidates, accepted: \.accepted, challenged: \.challenged)?.id
    }

    @Test func theOldestWithoutAChallengeGivesWayNeverOneWithAChallenge() {
        // The oldest has its challenge (a genuine site one round trip from its proof): it stays.
        #expect(victim([Candidate(id: 1, accepted: 10, challenged: true), Candidate(id: 2, accepted: 30, challenged: false),
                        Candidate(id: 3, accepted: 20, challenged: false), Candidate(id: 4, accepted: 40, challenged: false)]) == 3)
        #expect(victim([Candidate(id: 1, accepted: 10, challenged: false), Candidate(id: 2, accepted: 5, challenged: true)]) == 1)
    }

    @Test func whenEveryCandidateHasItsChallengeNoneGivesWay() {
        #expect(victim([Candidate(id: 1, accepted: 10, challenged: true), Candidate(id: 2, accepted: 20, challenged: true)]) == nil)
        #expect(victim([]) == nil)
    }
}
