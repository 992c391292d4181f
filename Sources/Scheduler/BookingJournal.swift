#if canImport(Glibc)
import Glibc
#endif

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
/// up to the last complete record. A record cut short by a crash can only be the last one; it is
/// ignored on read and cut off by the next writer. Damage anywhere else is reported, never skipped.
final class BookingJournal {
    static let header: [UInt8] = Array("VCBRIDGE-BOOKINGS 1\n".utf8)
    static let maxRecordLength = 16 << 20

    let path: String
    private let fd: Int32

    /// Opens (creating if needed, owner read-write) the journal at `path`.
    init(path: String) throws(StoreError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StoreError("cannot open the booking store \(path): \(String(cString: strerror(errno)))") }
        self.fd = fd
        // Write the header once, under the lock, if the file is new.
        try withExclusiveLock { () throws(StoreError) in
            if try size() == 0 {
                try writeAll(Self.header, at: 0)
                try sync()
            }
        }
    }

    deinit { close(fd) }

    func size() throws(StoreError) -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw StoreError("cannot stat \(path): \(String(cString: strerror(errno)))") }
        return Int(st.st_size)
    }

    /// Runs `body` holding the journal's exclusive lock (waits for other writers).
    func withExclusiveLock<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw StoreError("cannot lock \(path): \(String(cString: strerror(errno)))") }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// Bytes of the file from `offset` to its current end.
    func read(from offset: Int) throws(StoreError) -> [UInt8] {
        let end = try size()
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

    struct Scan {
        var records = 0
        /// Where the last complete record ends: the next record goes here.
        var end: Int
        /// Bytes after `end` that do not form a complete record (a write cut short).
        var tornBytes: Int
    }

    /// Frames the records in `bytes`, which start at file offset `base` (0 includes the header),
    /// checking each one's checksum and handing `body` its file offset, type and the body's range
    /// within `bytes`.
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
        if base == 0 {
            let h = Self.header
            guard raw.count >= h.count, raw[0..<h.count].elementsEqual(h) else {
                throw StoreError("\(path) is not a vcbridge booking store (its header is wrong)")
            }
            offset = h.count
        }
        var scan = Scan(end: base + offset, tornBytes: 0)
        while offset < raw.count {
            let remaining = raw.count - offset
            guard remaining >= 9 else { scan.tornBytes = remaining; break }
            let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self)))
            guard length <= Self.maxRecordLength else {
                throw StoreError("\(path) is corrupted at byte \(base + offset): a record claims \(length) bytes")
            }
            let total = 4 + 1 + length + 4
            guard total <= remaining else { scan.tornBytes = remaining; break }
            let typeAndBody = UnsafeRawBufferPointer(rebasing: raw[(offset + 4)..<(offset + 5 + length)])
            let stored = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 5 + length, as: UInt32.self))
            guard CRC32.checksum(typeAndBody) == stored else {
                if offset + total == raw.count {  // the last record: a write cut short by a crash
                    scan.tornBytes = remaining
                    break
                }
                throw StoreError("\(path) is corrupted at byte \(base + offset): checksum mismatch")
            }
            try body(base + offset, typeAndBody[0], (offset + 5)..<(offset + 5 + length))
            scan.records += 1
            offset += total
            scan.end = base + offset
        }
        return scan
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
