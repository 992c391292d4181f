#if canImport(Glibc)
import Glibc
#endif
import Foundation
import KeyDerivation

/// A problem with a site's key or the key store; the message names the file or site.
public struct KeyStoreError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A site's pre-shared secret as provisioned by a technician.
public struct SiteKey: Sendable, Equatable {
    public static let secretLength = 32
    public let site: String
    public let secret: [UInt8]
    /// Increases with every rotation, so a bridge can tell a rotated key from the one a session used.
    public let generation: Int

    public init(site: String, secret: [UInt8], generation: Int) {
        self.site = site
        self.secret = secret
        self.generation = generation
    }

    /// The key file handed to the site's technician (and the store's own format).
    public func fileText(siteName: String) -> String {
        """
        # vcbridge site key for \(siteName) (\(site)). Keep it secret: whoever holds it can join as this site.
        site=\(site)
        generation=\(generation)
        secret=\(secret.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined())

        """
    }

    /// Parses a key file.
    public init(fileText text: String, origin: String) throws(KeyStoreError) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { fields[parts[0]] = parts[1] }
        }
        guard let site = fields["site"], !site.isEmpty else { throw KeyStoreError("\(origin): no site= line") }
        guard let generation = fields["generation"].flatMap({ Int($0) }), generation > 0 else {
            throw KeyStoreError("\(origin): no valid generation= line")
        }
        guard let hex = fields["secret"], hex.count == 2 * Self.secretLength,
              let secret = Self.bytes(hex: hex)
        else { throw KeyStoreError("\(origin): the secret= line must be \(2 * Self.secretLength) hexadecimal digits") }
        self.init(site: site, secret: secret, generation: generation)
    }

    static func bytes(hex: String) -> [UInt8]? {
        var out: [UInt8] = []
        var iterator = hex.makeIterator()
        while let a = iterator.next() {
            guard let b = iterator.next(), let byte = UInt8(String([a, b]), radix: 16) else { return nil }
            out.append(byte)
        }
        return out
    }
}

/// Site secrets in `<data directory>/keys`, one owner-only file per site.
public struct SiteKeyStore: Sendable {
    public let directory: String

    public init(dataDirectory: String) {
        directory = dataDirectory + "/keys"
    }

    private func path(_ site: String) -> String { directory + "/" + site + ".key" }

    /// The site's current key, or nil if it has none (never provisioned, or revoked).
    public func key(for site: String) throws(KeyStoreError) -> SiteKey? {
        guard let data = FileManager.default.contents(atPath: path(site)) else { return nil }
        return try SiteKey(fileText: String(decoding: data, as: UTF8.self), origin: path(site))
    }

    /// Creates or rotates a site's secret (a fresh 32 random bytes, next generation).
    public func rotate(site: String, siteName: String) throws(KeyStoreError) -> SiteKey {
        try ensureDirectory()
        let previous = try key(for: site)
        let secret: [UInt8]
        do { secret = try SecureRandom.bytes(SiteKey.secretLength) } catch { throw KeyStoreError("\(error)") }
        let key = SiteKey(site: site, secret: secret, generation: (previous?.generation ?? revokedGeneration(site)) + 1)
        try writeOwnerOnly(key.fileText(siteName: siteName), to: path(site))
        try? FileManager.default.removeItem(atPath: revokedPath(site))
        return key
    }

    /// Removes a site's secret; it is refused until a new key is made.
    /// - Returns: whether the site had a key.
    @discardableResult
    public func revoke(site: String) throws(KeyStoreError) -> Bool {
        guard let current = try key(for: site) else { return false }
        // Remember the generation so a later key is never numbered like a revoked one.
        try writeOwnerOnly("\(current.generation)\n", to: revokedPath(site))
        guard unlink(path(site)) == 0 else {
            throw KeyStoreError("cannot remove \(path(site)): \(String(cString: strerror(errno)))")
        }
        return true
    }

    private func revokedPath(_ site: String) -> String { directory + "/" + site + ".revoked" }

    private func revokedGeneration(_ site: String) -> Int {
        guard let data = FileManager.default.contents(atPath: revokedPath(site)) else { return 0 }
        return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    private func ensureDirectory() throws(KeyStoreError) {
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw KeyStoreError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        chmod(directory, 0o700)
    }

    /// Writes a file readable by its owner only, atomically (temporary file, fsync, rename).
    public func writeOwnerOnly(_ text: String, to path: String) throws(KeyStoreError) {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw KeyStoreError("cannot write \(path): \(String(cString: strerror(errno)))") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw KeyStoreError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }
}
