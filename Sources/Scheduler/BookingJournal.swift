#if canImport(Glibc)
import Glibc
#endif
import FileSync

/// A store that cannot be opened, read or written: the message names the file and the fault.
public struct StoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The append-only booking journal: a header, then framed records
/// `[u32 length][u8 type][body][u32 CRC-32 of type+body]`, little-endian.
///
/// Writers hold an exclusive `flock` while they read what others appended, check, append and
/// `fsync`; a booking is acknowledged only after `fsync` returns. Readers take no lock: they read
/// up to the last complete record. What a crash or power loss leaves after it (a record cut short,
/// zeros where the file grew but its data never reached the disk) holds no complete record and
/// nothing after it does: it is ignored on read and cut off by the next writer. A record that does
/// not check with complete records after it is damage: reported with its offset, never cut off.
final class BookingJournal {
    /// The journal format this version writes. The header names the format a journal was written in
    /// (`VCBRIDGE-BOOKINGS <format>\n`); every format up to this one is read, a later one is refused by name.
    static let format = 1
    static let header: [UInt8] = Array("VCBRIDGE-BOOKINGS \(format)\n".utf8)
    static let maxRecordLength = 16 << 20

    let path: String
    private let fd: Int32
    /// What opening repaired, if anything: a header that never reached the disk.
    private(set) var headerRepair: String? = nil

    /// Opens (creating if needed, owner read-write) the journal at `path`. A new journal gets its
    /// header, synced with the directory entry; one whose header never reached the disk (only
    /// zeros or part of the header, nothing else) is started afresh.
    init(path: String) throws(StoreError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StoreError("cannot open the booking store \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        headerRepair = try withExclusiveLock { () throws(StoreError) -> String? in
            let size = try size()
            if size >= Self.header.count, try read(from: 0, count: Self.header.count) == Self.header { return nil }
            var repair: String? = nil
            if size > 0 {
                let bytes = try read(from: 0)
                let unwritten = bytes.indices.allSatisfy { i in bytes[i] == 0 || (i < Self.header.count && bytes[i] == Self.header[i]) }
                guard unwritten else { return nil }  // not a booking store: reading it says so
                try cut(at: 0)
                repair = "repaired \(path): it held \(size) bytes of a header that never reached the disk and no record; started it afresh"
            }
            try writeAll(Self.header, at: 0)
            try sync()
            try Self.syncDirectory(containing: path)
            return repair
        }
    }

    /// Opens an existing journal for reading only (backups, checks): nothing is created, written or
    /// repaired. Nil when there is no journal at `path`.
    init?(readingOnly path: String) throws(StoreError) {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw StoreError("cannot open the booking store \(path): \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.fd = fd
    }

    deinit { close(fd) }

    /// The first 4 KiB of a small file beside the journal (the site-directory marker); nil if it cannot be read.
    static func readSmallFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
        return n < 0 ? nil : Array(buffer.prefix(n))
    }

    func size() throws(StoreError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        return Int(st.st_size)
    }

    /// Runs `body` holding the journal's exclusive lock (waits for other writers).
    func withExclusiveLock<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try withLock(LOCK_EX, body)
    }

    /// Runs `body` holding a shared lock: no writer appends meanwhile (a backup's copy is what the
    /// journal held between two writes), other readers may read.
    func withSharedLock<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try withLock(LOCK_SH, body)
    }

    private func withLock<T>(_ operation: Int32, _ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        while flock(fd, operation) != 0 {
            if errno != EINTR { throw StoreError("cannot lock \(path): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Bytes of the file from `offset` to its current end (at most `count` of them).
    func read(from offset: Int, count: Int = .max) throws(StoreError) -> [UInt8] {
        let end = min(try size(), offset + min(count, Int.max - offset))
        guard end > offset else { return [] }
        var failure: Int32? = nil
        // Uninitialised capacity: the file is read straight in, without zeroing megabytes first.
        let buffer = [UInt8](unsafeUninitializedCapacity: end - offset) { raw, initialized in
            var done = 0
            while done < raw.count {
                let n = pread(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    break
                }
                if n == 0 { break }  // the file shrank meanwhile
                done += n
            }
            initialized = done
        }
        if let failure { throw StoreError("cannot read \(path): \(String(cString: strerror(failure)))") }
        return buffer
    }

    /// What follows the last complete record, when something does.
    enum Tail: Equatable {
        /// Bytes that hold no complete record and nothing after them does: a write cut short by a
        /// crash or power loss (never confirmed), or zeros where the file was extended but its data
        /// never reached the disk. Safe to cut off.
        case torn(bytes: Int, zeros: Bool)
        /// A record that does not check, with complete records after it: damage, never cut off.
        case damaged(Damage)
    }

    struct Damage: Equatable {
        /// File offset of the record that does not check.
        var offset: Int
        var reason: String
        /// Complete records found after it.
        var recordsAfter: Int
    }

    struct Scan {
        var records = 0
        /// Where the last complete record ends: the next record goes here.
        var end: Int
        var tail: Tail? = nil
    }

    /// Frames the records in `bytes`, which start at file offset `base` (0 includes the header),
    /// checking each one's checksum and handing `body` its file offset, type and the body's range
    /// within `bytes`. Stops at the first record that does not check and says what follows it.
    func scan(
        _ bytes: [UInt8], base: Int, _ body: (Int, UInt8, Range<Int>) throws(StoreError) -> Void
    ) throws(StoreError) -> Scan {
        let result: Result<Scan, StoreError> = bytes.withUnsafeBytes { raw in
            do throws(StoreError) { return .success(try scan(raw, base: base, body)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    private func scan(
        _ raw: UnsafeRawBufferPointer, base: Int, _ body: (Int, UInt8, Range<Int>) throws(StoreError) -> Void
    ) throws(StoreError) -> Scan {
        var offset = 0
        if base == 0 { offset = try Self.headerLength(raw, path: path) }
        var scan = Scan(end: base + offset)
        while offset < raw.count {
            switch Self.frame(raw, at: offset) {
            case .record(let length):
                try body(base + offset, raw[offset + 4], (offset + 5)..<(offset + 5 + length))
                scan.records += 1
                offset += 9 + length
                scan.end = base + offset
            case .bad(let reason):
                let after = Self.recordsAfter(raw, from: offset + 1)
                if after == 0 {
                    let rest = UnsafeRawBufferPointer(rebasing: raw[offset...])
                    scan.tail = .torn(bytes: rest.count, zeros: !rest.contains { $0 != 0 })
                } else {
                    scan.tail = .damaged(Damage(offset: base + offset, reason: reason, recordsAfter: after))
                }
                return scan
            }
        }
        return scan
    }

    /// The length of the header at the start of `raw`, after checking that it names a format this
    /// version reads (format 1: the records described above).
    static func headerLength(_ raw: UnsafeRawBufferPointer, path: String) throws(StoreError) -> Int {
        let prefix = Array("VCBRIDGE-BOOKINGS ".utf8)
        let end = raw.prefix(32).firstIndex(of: UInt8(ascii: "\n"))
        guard raw.count > prefix.count, raw[0..<prefix.count].elementsEqual(prefix), let end else {
            throw StoreError("\(path) is not a vcbridge booking store (its header is wrong)")
        }
        let digits = raw[prefix.count..<end]
        guard !digits.isEmpty, digits.count <= 9, digits.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let version = Int(String(decoding: digits, as: UTF8.self)), version >= 1
        else {
            throw StoreError("\(path) is not a vcbridge booking store (its header is wrong)")
        }
        guard version <= format else {
            throw StoreError("\(path) was written by a newer vcbridge in journal format \(version); this vcbridge "
                + "reads formats 1 to \(format): install the newer vcbridge (or restore a backup made by this one)")
        }
        return end + 1
    }

    private enum Frame {
        case record(length: Int)
        case bad(String)
    }

    /// Whether a complete record that checks starts at `offset`.
    private static func frame(_ raw: UnsafeRawBufferPointer, at offset: Int) -> Frame {
        let remaining = raw.count - offset
        guard remaining >= 9 else { return .bad("a record cut short") }
        let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
        guard length <= maxRecordLength else { return .bad("the record claims \(length) bytes, more than a record may hold") }
        guard 9 + length <= remaining else { return .bad("the record claims \(length) bytes, more than the file holds") }
        let typeAndBody = UnsafeRawBufferPointer(rebasing: raw[(offset + 4)..<(offset + 5 + length)])
        let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 5 + length, as: UInt32.self))
        guard CRC32.checksum(typeAndBody) == stored else { return .bad("checksum mismatch") }
        return .record(length: length)
    }

    /// How many complete records that check can be found from `start` on (trying every byte
    /// offset until one frames, then following records from there). None means that what starts
    /// before `start` is a torn tail; any means damage with intact records after it.
    private static func recordsAfter(_ raw: UnsafeRawBufferPointer, from start: Int) -> Int {
        var count = 0
        var offset = start
        while offset + 9 <= raw.count {
            // Type 0 is no record: this skips runs of zeros without computing checksums.
            if raw[offset + 4] != 0, case .record(let length) = frame(raw, at: offset) {
                count += 1
                offset += 9 + length
            } else {
                offset += 1
            }
        }
        return count
    }

    /// Appends records at `end` (cutting off a torn tail first) and syncs them to disk.
    /// Call with the exclusive lock held.
    func append(_ records: [JournalRecord], at end: Int) throws(StoreError) {
        var bytes: [UInt8] = []
        for record in records {
            let body = RecordWriter.encode(record)
            var typeAndBody = [record.typeByte]
            typeAndBody += body
            let crc = typeAndBody.withUnsafeBytes { CRC32.checksum($0) }
            withUnsafeBytes(of: UInt32(body.count).littleEndian) { bytes.append(contentsOf: $0) }
            bytes += typeAndBody
            withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
        }
        if try size() != end {
            guard ftruncate(fd, off_t(end)) == 0 else {
                throw StoreError("cannot repair \(path): \(String(cString: strerror(errno)))")
            }
        }
        try writeAll(bytes, at: end)
        try sync()
    }

    /// Cuts the file back to `end` (a torn tail) and syncs that.
    func cut(at end: Int) throws(StoreError) {
        guard ftruncate(fd, off_t(end)) == 0 else {
            throw StoreError("cannot repair \(path): \(String(cString: strerror(errno)))")
        }
        try sync()
    }

    /// Syncs the directory holding `path` (``FileSync/syncDirectory(containing:)``), failing as the store does.
    static func syncDirectory(containing path: String) throws(StoreError) {
        do { try FileSync.syncDirectory(containing: path) } catch { throw StoreError(error.message) }
    }

    private func writeAll(_ bytes: [UInt8], at offset: Int) throws(StoreError) {
        var done = 0
        let failure: Int32? = bytes.withUnsafeBytes { raw in
            while done < raw.count {
                let n = pwrite(fd, raw.baseAddress! + done, raw.count - done, off_t(offset + done))
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                done += n
            }
            return nil
        }
        if let failure {
            // Leave no half record behind for readers to trip over.
            _ = ftruncate(fd, off_t(offset))
            throw StoreError("cannot write \(path): \(String(cString: strerror(failure)))")
        }
    }

    private func sync() throws(StoreError) {
        guard fsync(fd) == 0 else { throw StoreError("cannot sync \(path) to disk: \(String(cString: strerror(errno)))") }
    }
}
