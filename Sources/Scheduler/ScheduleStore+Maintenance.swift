import FileSync
import SiteDirectory

/// The journal as a backup takes it: read under a shared lock, so no writer is half-way through a
/// record; what a writer that died left after the last complete record is not part of it.
public struct JournalSnapshot: Sendable {
    /// The header and every complete record (all of the file when it is damaged before its end).
    public let bytes: [UInt8]
    public let records: Int
    /// Damage before the end, when there is some: the copy then holds the whole file, so nothing is lost.
    public let damage: String?
}

/// What `vcbridge store check` found in the journal: problems (the store is not sound) and notes.
public struct JournalCheck: Sendable {
    public var records = 0
    public var meetings = 0
    public var problems: [String] = []
    public var notes: [String] = []
}

extension ScheduleStore {
    /// A consistent copy of the journal in `dataDirectory`, taken while writers may be running; nil
    /// when the directory holds no journal. Nothing is created, written or repaired.
    /// - Throws: ``StoreError`` if the journal cannot be read, or is not a booking store this version reads.
    public static func snapshot(dataDirectory: String) throws(StoreError) -> JournalSnapshot? {
        guard let journal = try BookingJournal(readingOnly: dataDirectory + "/" + journalName) else { return nil }
        return try journal.withSharedLock { () throws(StoreError) -> JournalSnapshot in
            let bytes = try journal.read(from: 0)
            let scan = try journal.scan(bytes, base: 0) { _, _, _ in }
            switch scan.tail {
            case .damaged(let d)?:
                return JournalSnapshot(bytes: bytes, records: scan.records,
                                       damage: damageMessage(path: journal.path, d, recordsBefore: scan.records))
            case .torn?, nil:
                return JournalSnapshot(bytes: Array(bytes[..<scan.end]), records: scan.records, damage: nil)
            }
        }
    }

    /// Reads the journal in `dataDirectory` as the bridge would (every record framed, checked and
    /// applied: ids in order, sites in the directory, times sound) without changing it, and says
    /// what is wrong, naming the file and the byte offset of each record at fault.
    public static func check(dataDirectory: String, directory: SiteDirectory) -> JournalCheck {
        var result = JournalCheck()
        let path = dataDirectory + "/" + journalName
        do throws(StoreError) {
            guard let journal = try BookingJournal(readingOnly: path) else {
                result.notes.append("\(path): no booking journal yet (the first booking or start creates it)")
                return result
            }
            try journal.withSharedLock { () throws(StoreError) in
                let bytes = try journal.read(from: 0)
                // Read under another directory, the records' site codes would be checked against the wrong sites.
                try requireDirectory(directory, of: dataDirectory, journalSize: bytes.count, recording: false)
                var schedule = Schedule(directory: directory)
                var scan = BookingJournal.Scan(end: 0)
                result.records = try schedule.ingest(bytes, base: 0, source: path) { (bytes, base, body) throws(StoreError) in
                    scan = try journal.scan(bytes, base: base, body)
                    return scan.records
                }
                result.meetings = schedule.allMeetings.count
                switch scan.tail {
                case .damaged(let d)?:
                    result.problems.append(damageMessage(path: path, d, recordsBefore: scan.records))
                case .torn(let count, let zeros)?:
                    result.notes.append("\(path): \(zeros ? "\(count) zero bytes" : "\(count) bytes of a record cut short") "
                        + "after byte \(scan.end), left by a write that never completed; the next booking or start cuts them off")
                case nil:
                    break
                }
            }
        } catch {
            result.problems.append(error.message)
        }
        return result
    }
}

extension ScheduleStore {
    /// The file in a data directory naming the site directory its bookings were made with.
    public static let directoryMarkerName = "site-directory"

    /// Bookings name their sites by official code, and a code can mean another site in another directory
    /// (08707 is Phường Tích Sơn in 2024, Phường Vĩnh Yên in 2025): a store is read only with the directory it was
    /// booked with. A store from before the marker existed was booked with the only directory there was, Vinh Phuc
    /// 2024; a new or empty store takes the directory in force.
    /// - Parameter recording: write the marker when the store has none (never for a check, which changes nothing).
    static func requireDirectory(_ directory: SiteDirectory, of dataDirectory: String, journalSize: Int,
                                 recording: Bool = true) throws(StoreError) {
        guard let identity = directory.identity else { return }
        let marker = dataDirectory + "/" + directoryMarkerName
        var recorded: String? = nil
        if let bytes = BookingJournal.readSmallFile(marker) {
            recorded = String(decoding: bytes, as: UTF8.self).trimmingCharacters()
        } else if journalSize > BookingJournal.header.count {
            recorded = "vinhphuc-2024"
        }
        if let recorded {
            guard recorded == identity else {
                throw StoreError("\(dataDirectory) holds bookings booked with the site directory \(recorded), but the settings "
                    + "name \(identity) (sites.directory): their site codes would mean other sites. Keep sites.directory at "
                    + "\(recorded) for this store, or start the new directory with a new data directory")
            }
            if BookingJournal.readSmallFile(marker) != nil { return }
        }
        guard recording else { return }
        do {
            try writeAtomically(Array((identity + "\n").utf8), to: marker, mode: 0o644)
        } catch {
            throw StoreError(error.message)
        }
    }
}
