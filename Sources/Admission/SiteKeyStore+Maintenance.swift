#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// A file of the keys directory as a backup carries it.
public struct KeyStoreFile: Sendable, Equatable {
    /// `SITE.key` or `SITE.revoked`.
    public let name: String
    public let bytes: [UInt8]

    public init(name: String, bytes: [UInt8]) {
        self.name = name
        self.bytes = bytes
    }

    /// Whether `name` is one the keys directory holds: a site id with `.key` or `.revoked`, no path.
    public static func isStoreName(_ name: String) -> Bool {
        let site = name.hasSuffix(".key") ? name.dropLast(4) : name.hasSuffix(".revoked") ? name.dropLast(8) : ""
        return !site.isEmpty && site.count <= 64 && !site.hasPrefix(".")
            && site.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "_" || $0 == "." }
    }
}

extension SiteKeyStore {
    /// Every key and revocation file, for a backup. Each file is replaced only by renaming a complete
    /// one over it, so each read is a whole file as some writer left it. Empty when there is no keys directory.
    public func files() throws(KeyStoreError) -> [KeyStoreFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            if !FileManager.default.fileExists(atPath: directory) { return [] }
            throw KeyStoreError("cannot list \(directory): \(error.localizedDescription)")
        }
        var files: [KeyStoreFile] = []
        for name in names.sorted() where KeyStoreFile.isStoreName(name) {
            // Removed meanwhile (revoked): nothing to copy.
            guard let bytes = try KeyFile.contents(of: directory + "/" + name, checkingAccess: false) else { continue }
            files.append(KeyStoreFile(name: name, bytes: bytes))
        }
        return files
    }

    /// Puts a backup's files into a keys directory that holds none (owner-only, each written atomically
    /// and synced), owned by `owner` when given (the service's account, for a restore run as root).
    public func restore(_ files: [KeyStoreFile], owner: (uid: uid_t, gid: gid_t)?) throws(KeyStoreError) {
        if let existing = try? FileManager.default.contentsOfDirectory(atPath: directory), !existing.isEmpty {
            throw KeyStoreError("\(directory) is not empty; a backup is restored into an empty data directory")
        }
        try ensureDirectory()
        for file in files {
            guard KeyStoreFile.isStoreName(file.name) else { throw KeyStoreError("the backup names a key file '\(file.name)'") }
            try KeyFile.writeOwnerOnly(file.bytes, to: directory + "/" + file.name)
            if let owner { chown(directory + "/" + file.name, owner.uid, owner.gid) }
        }
        if let owner { chown(directory, owner.uid, owner.gid) }
    }

    /// What is wrong in the keys directory, each naming its file (and line): access open to others (with
    /// the `chmod` that fixes it), files owned by another account than the directory, key files that do
    /// not parse or name another site or one `isSite` does not know, revocations that do not parse, and
    /// files that are no part of the store.
    public func check(isSite: (String) -> Bool) -> [String] {
        var problems: [String] = []
        var st = stat()
        guard stat(directory, &st) == 0 else {
            return errno == ENOENT ? [] : ["cannot read the keys directory \(directory): \(String(cString: strerror(errno)))"]
        }
        do { try KeyFile.requireOwnerOnly(directory, mode: st.st_mode, directory: true) } catch { problems.append(error.message) }
        let owner = st.st_uid
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
        var revoked: [String: Int] = [:]
        var generations: [String: Int] = [:]
        for name in names {
            let path = directory + "/" + name
            guard KeyStoreFile.isStoreName(name) else {
                problems.append(name.contains(".tmp-")
                    ? "\(path): a temporary file left by a key write that was interrupted; remove it"
                    : "\(path): not a key file (SITE.key or SITE.revoked); move it out of the keys directory")
                continue
            }
            var fileStat = stat()
            guard lstat(path, &fileStat) == 0 else { continue }
            if fileStat.st_mode & S_IFMT != S_IFREG { problems.append("\(path): not a regular file"); continue }
            do { try KeyFile.requireOwnerOnly(path, mode: fileStat.st_mode, directory: false) } catch { problems.append(error.message) }
            if fileStat.st_uid != owner {
                problems.append("\(path): owned by uid \(fileStat.st_uid), not by uid \(owner) as the keys directory is; run: chown \(owner) \(path)")
            }
            let bytes: [UInt8]
            do { bytes = try KeyFile.contents(of: path, checkingAccess: false) ?? [] } catch { problems.append(error.message); continue }
            let text = String(decoding: bytes, as: UTF8.self)
            if name.hasSuffix(".revoked") {
                let site = String(name.dropLast(8))
                if let n = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), n > 0 { revoked[site] = n } else {
                    problems.append("\(path) line 1: a revocation holds the revoked key's generation, a whole number above 0")
                }
                continue
            }
            let site = String(name.dropLast(4))
            problems += Self.keyFileProblems(text, path: path, site: site, isSite: isSite)
            if let key = try? SiteKey(fileText: text, origin: path) { generations[site] = key.generation }
        }
        for (site, generation) in generations.sorted(by: { $0.key < $1.key }) {
            if let old = revoked[site], generation <= old {
                problems.append("\(directory)/\(site).key: generation \(generation) is not above the revoked generation \(old) "
                    + "in \(site).revoked; run 'vcbridge site key \(site)' to make a new key")
            }
        }
        return problems
    }

    /// Each line of a key file checked: `site=` naming this file's site (one the directory knows), `generation=` a
    /// whole number above 0, `secret=` 64 hexadecimal digits; comments and blank lines aside, nothing else.
    static func keyFileProblems(_ text: String, path: String, site: String, isSite: (String) -> Bool) -> [String] {
        var problems: [String] = []
        var seen: Set<String> = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let where_ = "\(path) line \(index + 1)"
            let parts = line.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { problems.append("\(where_): not a name=value line"); continue }
            let (name, value) = (parts[0], parts[1])
            if !seen.insert(name).inserted { problems.append("\(where_): \(name)= is given again") }
            switch name {
            case "site":
                if value != site { problems.append("\(where_): site=\(value) in the key file of \(site)") }
                else if !isSite(value) { problems.append("\(where_): \(value) is not a site of the directory") }
            case "generation":
                if (Int(value) ?? 0) <= 0 { problems.append("\(where_): generation= must be a whole number above 0") }
            case "secret":
                if value.count != 2 * SiteKey.secretLength || SiteKey.bytes(hex: value) == nil {
                    problems.append("\(where_): secret= must be \(2 * SiteKey.secretLength) hexadecimal digits")
                }
            default:
                problems.append("\(where_): unknown field \(name)=")
            }
        }
        for name in ["site", "generation", "secret"] where !seen.contains(name) {
            problems.append("\(path): no \(name)= line")
        }
        return problems
    }
}
