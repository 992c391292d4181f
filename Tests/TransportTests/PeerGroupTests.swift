import Testing
@testable import Transport

@Suite("Peer groups for per-peer caps")
struct PeerGroupTests {
    func group(_ ip: String) throws -> String { try SocketAddress(ip: ip, port: 4242).peerGroup }

    @Test func anIPv4AddressIsItsOwnGroupWhateverThePort() throws {
        #expect(try group("203.0.113.7") == "203.0.113.7")
        #expect(try SocketAddress(ip: "203.0.113.7", port: 1).peerGroup == SocketAddress(ip: "203.0.113.7", port: 2).peerGroup)
        #expect(try group("203.0.113.7") != group("203.0.113.8"))
    }

    @Test func anIPv4MappedIPv6AddressCountsAsItsIPv4Address() throws {
        #expect(try group("::ffff:203.0.113.7") == "203.0.113.7")
        #expect(try group("::ffff:cb00:7107") == group("203.0.113.7"))
        // Not mapped: the prefix must be exactly ::ffff.
        #expect(try group("::fffe:203.0.113.7") != "203.0.113.7")
    }

    @Test func ipv6AddressesOfOneSlash64AreOneGroup() throws {
        let a = try group("2001:db8:1:2::1")
        #expect(a == "2001:db8:1:2::/64")
        #expect(try group("2001:db8:1:2:ffff:ffff:ffff:ffff") == a)
        #expect(try group("2001:0db8:0001:0002:dead:beef:0:1") == a)
        #expect(try group("2001:db8:1:3::1") != a, "the next /64 is another peer")
        #expect(try group("::1") == "0:0:0:0::/64")
    }
}
