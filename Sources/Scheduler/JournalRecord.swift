import CivilTime

/// One durable change to the schedule, as appended to the booking journal. A record is
/// all-or-nothing: a booking with its occurrences and the displacements it causes is one record.
enum JournalRecord: Equatable, Sendable {
    struct Displacement: Equatable, Sendable {
        var victim: MeetingID
        var whole: Bool
        /// Official numeric codes of the displaced sites (empty when whole).
        var siteCodes: [UInt32]
    }

    struct Booking: Equatable, Sendable {
        var firstID: MeetingID
        var bookedAt: Timestamp
        var organiser: String
        var title: String
        var hostCode: UInt32
        var setupSeconds: Int64
        var scope: String
        var rule: String
        /// (site code, upstream code) for every site, host first.
        var links: [(site: UInt32, upstream: UInt32)]
        var occurrences: [(start: Timestamp, end: Timestamp)]
        var displacements: [Displacement]
        /// The upstream MCU the bridge calls as one participant (`meeting book --cascade-up`); written as extension 1
        /// after the displacements, absent from records written before it existed.
        var cascadeUp: String? = nil

        static func == (a: Booking, b: Booking) -> Bool {
            a.firstID == b.firstID && a.bookedAt == b.bookedAt && a.organiser == b.organiser && a.title == b.title
                && a.hostCode == b.hostCode && a.setupSeconds == b.setupSeconds && a.scope == b.scope && a.rule == b.rule
                && a.links.map(\.site) == b.links.map(\.site) && a.links.map(\.upstream) == b.links.map(\.upstream)
                && a.occurrences.map(\.start) == b.occurrences.map(\.start)
                && a.occurrences.map(\.end) == b.occurrences.map(\.end) && a.displacements == b.displacements
                && a.cascadeUp == b.cascadeUp
        }
    }

    struct Reschedule: Equatable, Sendable {
        var id: MeetingID
        var start: Timestamp
        var end: Timestamp
        var at: Timestamp
        var by: String
        var displacements: [Displacement]
    }

    struct Cancellation: Equatable, Sendable {
        var ids: [MeetingID]
        var at: Timestamp
        var by: String
        var reason: String
    }

    case book(Booking)
    case reschedule(Reschedule)
    case cancel(Cancellation)

    var typeByte: UInt8 {
        switch self {
        case .book: 1
        case .reschedule: 2
        case .cancel: 3
        }
    }
}

/// The tags of a booking record's extensions: fields added after the first journal format, each written as
/// (u8 tag, u16 length, bytes) after the displacements. A record without them is what older versions wrote; a tag
/// this version does not know is skipped.
enum BookingExtension {
    static let cascadeUp: UInt8 = 1
}

// MARK: - Binary form (little-endian, length-prefixed strings and lists)

struct RecordWriter {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i64(_ v: Int64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8.prefix(Int(UInt16.max)))
        u16(UInt16(utf8.count))
        bytes.append(contentsOf: utf8)
    }
    mutating func displacements(_ list: [JournalRecord.Displacement]) {
        u16(UInt16(list.count))
        for d in list {
            u32(d.victim)
            u8(d.whole ? 1 : 0)
            u16(UInt16(d.siteCodes.count))
            for c in d.siteCodes { u32(c) }
        }
    }

    static func encode(_ record: JournalRecord) -> [UInt8] {
        var w = RecordWriter()
        switch record {
        case .book(let b):
            w.u32(b.firstID)
            w.i64(b.bookedAt)
            w.string(b.organiser)
            w.string(b.title)
            w.u32(b.hostCode)
            w.i64(b.setupSeconds)
            w.string(b.scope)
            w.string(b.rule)
            w.u16(UInt16(b.links.count))
            for link in b.links {
                w.u32(link.site)
                w.u32(link.upstream)
            }
            w.u16(UInt16(b.occurrences.count))
            for o in b.occurrences {
                w.i64(o.start)
                w.i64(o.end)
            }
            w.displacements(b.displacements)
            // Extensions: (u8 tag, u16 length, bytes) each, after every field older records have.
            if let cascadeUp = b.cascadeUp {
                w.u8(BookingExtension.cascadeUp)
                w.string(cascadeUp)
            }
        case .reschedule(let r):
            w.u32(r.id)
            w.i64(r.start)
            w.i64(r.end)
            w.i64(r.at)
            w.string(r.by)
            w.displacements(r.displacements)
        case .cancel(let c):
            w.u16(UInt16(c.ids.count))
            for id in c.ids { w.u32(id) }
            w.i64(c.at)
            w.string(c.by)
            w.string(c.reason)
        }
        return w.bytes
    }
}

/// Reads a record body; every read is bounds-checked and a short body is an error, never a trap.
struct RecordReader {
    struct Truncated: Error {}

    let bytes: UnsafeRawBufferPointer
    var offset: Int

    init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
        offset = 0
    }

    mutating func take(_ n: Int) throws(Truncated) -> Int {
        guard n >= 0, offset + n <= bytes.count else { throw Truncated() }
        defer { offset += n }
        return offset
    }

    mutating func u8() throws(Truncated) -> UInt8 { bytes[try take(1)] }
    mutating func u16() throws(Truncated) -> UInt16 {
        UInt16(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(2), as: UInt16.self))
    }
    mutating func u32() throws(Truncated) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self))
    }
    mutating func i64() throws(Truncated) -> Int64 {
        Int64(littleEndian: bytes.loadUnaligned(fromByteOffset: try take(8), as: Int64.self))
    }
    mutating func string() throws(Truncated) -> String {
        let n = Int(try u16())
        let start = try take(n)
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<(start + n)]), as: UTF8.self)
    }

    mutating func skipString() throws(Truncated) {
        _ = try take(Int(try u16()))
    }

    mutating func displacements() throws(Truncated) -> [JournalRecord.Displacement] {
        let n = Int(try u16())
        var list: [JournalRecord.Displacement] = []
        for _ in 0..<n {
            let victim = try u32()
            let whole = try u8() != 0
            let count = Int(try u16())
            var codes: [UInt32] = []
            codes.reserveCapacity(count)
            for _ in 0..<count { codes.append(try u32()) }
            list.append(.init(victim: victim, whole: whole, siteCodes: codes))
        }
        return list
    }

    static func decode(type: UInt8, body: UnsafeRawBufferPointer) throws(Truncated) -> JournalRecord? {
        var r = RecordReader(body)
        let record: JournalRecord
        switch type {
        case 1:
            let firstID = try r.u32()
            let bookedAt = try r.i64()
            let organiser = try r.string()
            let title = try r.string()
            let hostCode = try r.u32()
            let setup = try r.i64()
            let scope = try r.string()
            let rule = try r.string()
            let linkCount = Int(try r.u16())
            var links: [(site: UInt32, upstream: UInt32)] = []
            links.reserveCapacity(linkCount)
            for _ in 0..<linkCount { links.append((try r.u32(), try r.u32())) }
            let occurrenceCount = Int(try r.u16())
            var occurrences: [(start: Timestamp, end: Timestamp)] = []
            occurrences.reserveCapacity(occurrenceCount)
            for _ in 0..<occurrenceCount { occurrences.append((try r.i64(), try r.i64())) }
            let displacements = try r.displacements()
            var cascadeUp: String? = nil
            while r.offset < body.count {
                switch try r.u8() {
                case BookingExtension.cascadeUp: cascadeUp = try r.string()
                default: try r.skipString()  // a newer vcbridge's extension: kept in the file, not used here
                }
            }
            record = .book(.init(firstID: firstID, bookedAt: bookedAt, organiser: organiser, title: title,
                                 hostCode: hostCode, setupSeconds: setup, scope: scope, rule: rule, links: links,
                                 occurrences: occurrences, displacements: displacements, cascadeUp: cascadeUp))
        case 2:
            record = .reschedule(.init(id: try r.u32(), start: try r.i64(), end: try r.i64(), at: try r.i64(),
                                       by: try r.string(), displacements: try r.displacements()))
        case 3:
            let n = Int(try r.u16())
            var ids: [MeetingID] = []
            for _ in 0..<n { ids.append(try r.u32()) }
            record = .cancel(.init(ids: ids, at: try r.i64(), by: try r.string(), reason: try r.string()))
        default:
            return nil
        }
        guard r.offset == body.count else { throw Truncated() }
        return record
    }
}

/// CRC-32 (IEEE 802.3, the zlib polynomial): detects torn or damaged journal records.
/// An integrity check, not a security measure. Eight table lookups per 8 bytes ("slicing by 8").
enum CRC32 {
    private static let tables: [UInt32] = {
        var t = [UInt32](repeating: 0, count: 8 * 256)
        for n in 0..<256 {
            var c = UInt32(n)
            for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
            t[n] = c
        }
        for n in 0..<256 {
            for k in 1..<8 { t[k * 256 + n] = (t[(k - 1) * 256 + n] >> 8) ^ t[Int(t[(k - 1) * 256 + n] & 0xFF)] }
        }
        return t
    }()

    static func checksum(_ bytes: UnsafeRawBufferPointer, initial: UInt32 = 0) -> UInt32 {
        var crc = ~initial
        tables.withUnsafeBufferPointer { t in
            var i = 0
            let n = bytes.count
            while i + 8 <= n {
                let word = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                let lo = UInt32(truncatingIfNeeded: word) ^ crc
                let hi = UInt32(truncatingIfNeeded: word >> 32)
                crc = t[7 * 256 + Int(lo & 0xFF)] ^ t[6 * 256 + Int((lo >> 8) & 0xFF)]
                    ^ t[5 * 256 + Int((lo >> 16) & 0xFF)] ^ t[4 * 256 + Int(lo >> 24)]
                    ^ t[3 * 256 + Int(hi & 0xFF)] ^ t[2 * 256 + Int((hi >> 8) & 0xFF)]
                    ^ t[256 + Int((hi >> 16) & 0xFF)] ^ t[Int(hi >> 24)]
                i += 8
            }
            while i < n {
                crc = t[Int((crc ^ UInt32(bytes[i])) & 0xFF)] ^ (crc >> 8)
                i += 1
            }
        }
        return ~crc
    }
}
