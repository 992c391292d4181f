import Foundation
import Testing
import Transport

/// What a soak run watches, in small: the bridge's per-site tables (`status --json`: `structures`) return to their
/// size once sites that came and went are gone, whichever way they left.
@Suite("The bridge's tables do not grow as sites come and go", .serialized)
struct StructureCountsTests {
    static func structures(_ bridge: RunningBridge) throws -> [String: Int] {
        (try bridge.status()["structures"] as? [String: Any] ?? [:]).compactMapValues { $0 as? Int }
    }

    static func sites(_ bridge: RunningBridge) throws -> Set<String> {
        Set((try bridge.status()["sites"] as? [[String: Any]] ?? []).compactMap { $0["site"] as? String })
    }

    /// The tables that follow the sites in the meeting (the quality history and the sites ended are kept by design).
    static func perSite(_ counts: [String: Int]) -> [String: Int] {
        counts.filter { $0.key.hasPrefix("media.") || $0.key.hasPrefix("join.") || $0.key == "sessions" || $0.key == "dtls.peers" }
    }

    @Test func everyTableReturnsToItsSizeAfterSitesJoinAndLeaveOrVanish() throws {
        let bridge = try RunningBridge(host: "song-lo", sites: ["lang-cong", "tam-son"], lostAfterSeconds: 2)
        defer { _ = bridge.stop() }
        let host = try bridge.endpoint("song-lo", ["--silent", "--duration", "40s"])
        defer { host.0.terminate() }
        #expect(try waitFor(10) { try Self.sites(bridge) == ["song-lo"] })
        Thread.sleep(forTimeInterval: 2.5)  // every owner has counted its tables at least once with the host in
        let baseline = Self.perSite(try Self.structures(bridge))
        #expect(baseline["media.sessions"] == 1 && baseline["sessions"] == 1 && baseline["media.bySSRC"] ?? 0 >= 1,
                "the host's session is counted: \(baseline)")

        // Sites that join and say goodbye, one that joins twice (the second replaces the first), and one that
        // vanishes without a word (lost after 2 s of silence).
        for _ in 0..<3 {
            let visit = bridge.finish(try bridge.endpoint("lang-cong", ["--silent", "--duration", "2s"]))
            #expect(visit.status == 0, "\(visit.output)")
        }
        let first = try RawSite(try bridge.key("tam-son"), bridge: bridge)
        let second = try RawSite(try bridge.key("tam-son"), bridge: bridge)
        defer { first.connection.close(); second.connection.close() }
        let socket = try UDPSocket(bindTo: SocketAddress(ip: "127.0.0.1", port: 0))
        for _ in 0..<10 {
            try socket.send(try second.nextPacket(), to: second.mediaAddress)
            Thread.sleep(forTimeInterval: 0.02)
        }
        let during = try Self.structures(bridge)

        var after: [String: Int] = [:]
        let settled = try waitFor(15) {
            after = Self.perSite(try Self.structures(bridge))
            return try Self.sites(bridge) == ["song-lo"] && after == baseline
        }
        #expect(settled, "the per-site tables went back to \(baseline), they hold \(after) (during the visits: \(during))")
        let quality = try Self.structures(bridge)
        #expect(quality["quality.live"] ?? 99 <= 3, "quality follows at most the 3 booked sites: \(quality)")
        #expect(quality["quality.ended"] ?? 99 <= 2, "quality remembers one ending per site: \(quality)")
    }
}
