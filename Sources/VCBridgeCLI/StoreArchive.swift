import Admission
import KeyDerivation

/// A backup of a data directory as one file (`vcbridge store backup`): a text header line, then each
/// part as a line `KIND LENGTH NAME` followed by its bytes and a newline, then `end SHA256` over
/// everything before it. Parts: the booking journal, the key and revocation files, the bridge's
/// certificate and key, and the settings file in force (named by its path).
struct StoreArchive: Equatable {
    static let magic = "VCBRIDGE-BACKUP 1"

    enum Kind: String {
        case journal, key, file, settings
    }

    struct Part: Equatable {
        var kind: Kind
        var name: String
        var bytes: [UInt8]
    }

    /// The files of the data directory a backup carries besides the journal and keys.
    static let dataFiles = ["https-certificate.pem", "https-key.pem", "site-directory"]
    /// A part may be as large as the journal may grow (100,000 bookings are ~40 MB).
    static let maximumPartBytes = 1 << 30

    var created: String
    var parts: [Part]

    func encoded() throws -> [UInt8] {
        var bytes = Array("\(Self.magic)\ncreated \(created)\n".utf8)
        for part in parts {
            bytes += Array("\(part.kind.rawValue) \(part.bytes.count) \(part.name)\n".utf8)
            bytes += part.bytes
            bytes.append(UInt8(ascii: "\n"))
        }
        let digest = try MessageDigest.sha256(bytes)
        bytes += Array("end \(digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())\n".utf8)
        return bytes
    }

    /// Parses a backup, checking its digest first: a file cut short or changed is refused as a whole.
    init(decoding bytes: [UInt8], origin: String) throws {
        func bad(_ what: String) -> CommandFailure { CommandFailure("\(origin) is not a usable vcbridge backup: \(what)") }
        var offset = 0
        func line() throws -> String {
            let limit = min(bytes.count, offset + 4096)
            guard let end = bytes[offset..<limit].firstIndex(of: UInt8(ascii: "\n")) else {
                throw bad("a header line at byte \(offset) is missing or longer than 4096 bytes")
            }
            defer { offset = end + 1 }
            return String(decoding: bytes[offset..<end], as: UTF8.self)
        }
        guard bytes.starts(with: Array((Self.magic + "\n").utf8)) else { throw bad("it does not start with '\(Self.magic)'") }
        // The digest first: a file cut short or changed anywhere is refused as a whole, before any part is read.
        let endLength = 4 + 64 + 1
        guard bytes.count >= endLength, bytes[bytes.count - endLength..<bytes.count - endLength + 4].elementsEqual(Array("end ".utf8)),
              bytes.last == UInt8(ascii: "\n")
        else { throw bad("it has no end line (the file was cut short)") }
        let stated = String(decoding: bytes[(bytes.count - 65)..<(bytes.count - 1)], as: UTF8.self)
        let digest = try MessageDigest.sha256(Array(bytes[..<(bytes.count - endLength)]))
        guard stated == digest.map({ ($0 < 16 ? "0" : "") + String($0, radix: 16) }).joined() else {
            throw bad("its SHA-256 does not match (the file was cut short or changed)")
        }
        guard try line() == Self.magic else { throw bad("it does not start with '\(Self.magic)'") }
        let createdLine = try line()
        guard createdLine.hasPrefix("created ") else { throw bad("no 'created' line") }
        created = String(createdLine.dropFirst("created ".count))
        parts = []
        while true {
            let start = offset
            let header = try line()
            let fields = header.split(separator: " ", maxSplits: 2).map(String.init)
            if fields.first == "end" {
                guard fields.count == 2, offset == bytes.count else { throw bad("bytes after its end line") }
                let digest = try MessageDigest.sha256(Array(bytes[..<start]))
                let hex = digest.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
                guard fields[1] == hex else { throw bad("its SHA-256 does not match (the file was cut short or changed)") }
                return
            }
            guard fields.count == 3, let kind = Kind(rawValue: fields[0]), let length = Int(fields[1]),
                  length >= 0, length <= Self.maximumPartBytes
            else { throw bad("the part header at byte \(start) ('\(header.prefix(80))') is not KIND LENGTH NAME") }
            guard length < bytes.count - offset, bytes[offset + length] == UInt8(ascii: "\n") else {
                throw bad("the part \(fields[2]) at byte \(start) claims \(length) bytes, more than the file holds")
            }
            let name = fields[2]
            let nameIsValid = switch kind {
            case .journal: name == "bookings.journal"
            case .key: KeyStoreFile.isStoreName(name)
            case .file: Self.dataFiles.contains(name)
            case .settings: name.hasPrefix("/") || !name.isEmpty
            }
            guard nameIsValid else { throw bad("the part at byte \(start) has a \(kind.rawValue) named '\(name)'") }
            parts.append(Part(kind: kind, name: name, bytes: Array(bytes[offset..<(offset + length)])))
            offset += length + 1
        }
    }

    init(created: String, parts: [Part]) {
        self.created = created
        self.parts = parts
    }
}
