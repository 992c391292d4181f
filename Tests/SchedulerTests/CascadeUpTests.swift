import Foundation
import Testing
@testable import Scheduler

/// A booking's upstream MCU (`meeting book --cascade-up sip:...`): kept in the journal as an extension of the booking
/// record, which older records do not have.
@Suite("Booking journal: cascade to an upstream MCU")
struct CascadeUpTests {
    /// A booking record exactly as vcbridge wrote it before the cascade address existed (its layout spelled out here,
    /// not through today's encoder), framed `[length][type][body][CRC-32]` after the journal's header.
    func oldJournal() -> [UInt8] {
        var w = RecordWriter()
        w.u32(1)  // first id
        w.i64(testNow)  // booked at
        w.string("VP tỉnh")
        w.string("Giao ban")
        w.u32(site("song-lo").numericCode)  // host
        w.i64(900)  // setup
        w.string("song-lo")  // scope
        w.string("")  // rule
        w.u16(1)
        w.u32(site("song-lo").numericCode)
        w.u32(site("song-lo").numericCode)
        w.u16(1)
        w.i64(at("2026-12-01 08:00"))
        w.i64(at("2026-12-01 09:00"))
        w.u16(0)  // displacements
        let typeAndBody = [UInt8(1)] + w.bytes
        var frame = RecordWriter()
        frame.u32(UInt32(w.bytes.count))
        var bytes = BookingJournal.header + frame.bytes + typeAndBody
        var crc = RecordWriter()
        crc.u32(typeAndBody.withUnsafeBytes { CRC32.checksum($0) })
        bytes += crc.bytes
        return bytes
    }

    @Test func aRecordWrittenBeforeCascadeAddressesStillLoadsWithoutOne() throws {
        let path = temporaryDirectory()
        try Data(oldJournal()).write(to: URL(fileURLWithPath: path + "/" + ScheduleStore.journalName))
        let store = try makeStore(path)
        let m = try #require(store.schedule.meeting(1))
        #expect(m.title == "Giao ban")
        #expect(m.cascadeUp == nil)
        // And a new booking after it carries its address, read back by a fresh process.
        var r = try request("Hội nghị quốc gia", host: "song-lo", scope: ["lang-cong"], "2026-12-02 08:00", "2026-12-02 09:00")
        r.cascadeUp = "sip:tuyen-quang@203.0.113.5:5060"
        try store.book(r)
        let again = try makeStore(path)
        #expect(again.schedule.meeting(1)?.cascadeUp == nil)
        #expect(again.schedule.meeting(2)?.cascadeUp == "sip:tuyen-quang@203.0.113.5:5060")
        #expect(again.schedule.meeting(2)?.title == "Hội nghị quốc gia")
    }

    @Test func theCascadeLinkCountsAsOneBridgePort() throws {
        // song-lo and its communes fill a bridge of that size exactly; the upstream link needs one port more.
        let sites = try Scope.resolve(["song-lo", "district:song-lo"], host: site("song-lo"), in: directory).count
        let store = try makeStore(capacity: sites)
        var r = try request("Quốc gia", host: "song-lo", scope: ["song-lo", "district:song-lo"], "2026-12-02 08:00", "2026-12-02 09:00")
        r.cascadeUp = "sip:mcu@203.0.113.5"
        let refused = refusal { try store.book(r) }
        #expect(refused?.description.contains("needs \(sites + 1) bridge ports") == true, "\(String(describing: refused))")
        r.cascadeUp = nil
        #expect(throws: Never.self) { try store.book(r) }
        // The link is the host's upstream site (vinh-phuc above song-lo), booked like any site.
        let m = try #require(try makeStore(capacity: sites + 1).book({ var x = r; x.cascadeUp = "sip:mcu@203.0.113.5"; return x }()).first)
        #expect(m.sites.contains(site("vinh-phuc").index))
        #expect(m.cascadeUp == "sip:mcu@203.0.113.5")
    }

    /// Two district meetings at once, each cascading up: both links are booked as the districts' province
    /// (vinh-phuc), and this bridge holds one session per site, so the second is a real conflict. The refusal says
    /// so in the secretariat's terms (whose upstream link the site is, to which address), not only "already has
    /// vinh-phuc"; a meeting that uses vinh-phuc's own room while another cascades up as vinh-phuc is named the same way.
    @Test func aSecondCascadeLinkAsTheSameSiteIsRefusedNamingTheLink() throws {
        let store = try makeStore()
        var first = try request("Giao ban Vĩnh Yên", host: "vinh-yen", scope: ["vinh-yen", "district:vinh-yen"], "2026-12-02 08:00", "2026-12-02 09:00")
        first.cascadeUp = "sip:vinh-yen@203.0.113.5"
        try store.book(first)
        var second = try request("Giao ban Phúc Yên", host: "phuc-yen", scope: ["phuc-yen", "district:phuc-yen"], "2026-12-02 08:30", "2026-12-02 09:30")
        second.cascadeUp = "sip:phuc-yen@203.0.113.9"
        let refused = try #require(refusal { try store.book(second) })
        #expect(refused.description.contains(
            "vinh-phuc is the upstream link of #1 (cascade up to sip:vinh-yen@203.0.113.5) and would be this booking's too: "
            + "the bridge carries one session per site, so one meeting at a time can cascade up as vinh-phuc"), "\(refused)")
        // Without a cascade of its own, a district meeting at the same time does not touch vinh-phuc: booked.
        second.cascadeUp = nil
        #expect(throws: Never.self) { try store.book(second) }
        // vinh-phuc's own room in a meeting while #1 cascades up as vinh-phuc: refused, naming the link.
        let own = try request("Họp tỉnh", host: "vinh-phuc", scope: ["vinh-phuc", "lap-thach"], "2026-12-02 08:45", "2026-12-02 10:00")
        let ownRefused = try #require(refusal { try store.book(own) })
        #expect(ownRefused.description.contains(
            "vinh-phuc is the upstream link of #1 (cascade up to sip:vinh-yen@203.0.113.5): its own room cannot be in another meeting then"),
                "\(ownRefused)")
    }

    @Test func aCascadeAddressThatIsNotASIPURIIsRefused() throws {
        let store = try makeStore()
        var r = try request("Quốc gia", host: "song-lo", scope: ["lang-cong"], "2026-12-02 08:00", "2026-12-02 09:00")
        r.cascadeUp = "http://mcu.example"
        #expect(refusal { try store.book(r) }?.description.contains("the upstream MCU's address must be a sip: URI") == true)
    }
}
