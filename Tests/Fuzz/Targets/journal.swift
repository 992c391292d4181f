import Foundation
@testable import Scheduler

/// The booking journal read back from disk: framing (length, type, CRC-32) over any bytes, and each record's
/// body: a typed outcome, and a decoded record encodes to bytes that decode to the same record.
nonisolated(unsafe) private let journal: BookingJournal = {  // libFuzzer calls from one thread
    let path = NSTemporaryDirectory() + "/vcbridge-fuzz-journal-\(getpid())"
    let journal = try! BookingJournal(path: path)
    unlink(path)
    return journal
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzJournal(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let raw = UnsafeRawBufferPointer(start: data, count: size)
    // One record body: the first byte is its type.
    if let type = raw.first {
        let body = UnsafeRawBufferPointer(rebasing: raw.dropFirst())
        if let record = try? RecordReader.decode(type: type, body: body) {
            let encoded = RecordWriter.encode(record)
            let again = encoded.withUnsafeBytes { try? RecordReader.decode(type: record.typeByte, body: $0) }
            require(again == record, "journal record decode(encode(x)) != x")
        }
    }
    // The file: header and records, as opening a store scans it.
    do {
        let scan = try journal.scan(Array(raw), base: 0) { offset, type, range throws(StoreError) in
            require(range.upperBound <= size && offset < size, "a record framed outside the file")
            _ = try? RecordReader.decode(type: type, body: UnsafeRawBufferPointer(rebasing: raw[range]))
        }
        require(scan.end <= size, "scan ends past the file")
    } catch {
        requireNamed(error, "BookingJournal.scan")
    }
    return 0
}
