import Foundation
import Testing
@testable import RTP

/// Inputs the fuzz targets (Tests/Fuzz) found, kept as fixtures.
@Suite("RTP: inputs found by fuzzing")
struct RTPFuzzRegressionTests {
    static func fixture(_ name: String) throws -> [UInt8] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        return Array(try Data(contentsOf: url))
    }

    /// Found by `rtcp_fastpath`: a receiver report followed by a payload-specific feedback message (format 17) of one
    /// word, without the sender and media SSRCs every RFC 4585 feedback message has. The media thread's reader refused
    /// it; the general parser took it as an unknown packet. Both refuse it now.
    @Test("a feedback message without its SSRCs is refused by both RTCP readers")
    func feedbackWithoutSSRCsIsRefused() throws {
        let compound = try Self.fixture("fuzz-rr-then-feedback-without-ssrcs.rtcp")
        #expect(throws: PacketError.self) { try RTCPCompound.parse(compound) }
        let fastPathRefuses = compound.withUnsafeBytes { bytes in
            do { _ = try RTCPFastPath.read(bytes, blockAbout: 0x1122_3344); return false } catch { return true }
        }
        #expect(fastPathRefuses)
        // The same report with a whole feedback message of that format is read by both.
        let whole = Array(compound[0..<32]) + [0x91, 0xCE, 0x00, 0x02, 0x55, 0x66, 0x77, 0x88, 0x11, 0x22, 0x33, 0x44]
        #expect((try? RTCPCompound.parse(whole))?.count == 2)
        #expect(whole.withUnsafeBytes { (try? RTCPFastPath.read($0, blockAbout: 0x1122_3344))?.block != nil })
    }
}
