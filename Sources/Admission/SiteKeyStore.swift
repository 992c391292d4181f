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

    /// Reads a key file, as the endpoint reads the one its technician was given.
    /// - Throws: ``KeyStoreError`` if it is missing or unreadable, group or others can reach it
    ///   (the message says which `chmod` fixes it), or it is not a key file.
    public init(contentsOfFile path: String) throws(KeyStoreError) {
        guard let bytes = try KeyFile.contents(of: path) else {
            throw KeyStoreError("cannot read key file \(path): \(String(cString: strerror(ENOENT)))")
        }
        try self.init(fileText: String(decoding: bytes, as: UTF8.self), origin: path)
    }

    /// Hex digits only, two a byte: no sign, space or anything else (`UInt8(_:radix:)` alone would take "+f").
    static func bytes(hex: String) -> [UInt8]? {
        var out: [UInt8] = []
        var iterator = hex.utf8.makeIterator()
        while let a = iterator.next() {
            guard let b = iterator.next(), let high = hexDigit(a), let low = hexDigit(b) else { return nil }
            out.append(high << 4 | low)
        }
        return out
    }

    private static func hexDigit(_ c: UInt8) -> UInt8? {
        if c >= 0x30 && c <= 0x39 { return c - 0x30 }  // 0-9
        if c >= 0x61 && c <= 0x66 { return c - 0x61 + 10 }  // a-f
        if c >= 0x41 && c <= 0x46 { return c - 0x41 + 10 }  // A-F
        return nil
    }
}

/// Site secrets in `<data directory>/keys`, one owner-only file per site in an owner-only directory.
/// A key file or directory that group or others can reach is refused (see ``key(for:)``).
public struct SiteKeyStore: Sendable {
    public let directory: String

    public init(dataDirectory: String) {
        directory = dataDirectory + "/keys"
    }

    private func path(_ site: String) -> String { directory + "/" + site + ".key" }

    /// The site's current key, or nil if it has none (never provisioned, or revoked).
    /// - Throws: ``KeyStoreError`` if the key file or the keys directory is open to others (the
    ///   message says which `chmod` fixes it), or the file cannot be read or parsed.
    public func key(for site: String) throws(KeyStoreError) -> SiteKey? {
        try storedKey(site, checkingAccess: true)
    }

    private func storedKey(_ site: String, checkingAccess: Bool) throws(KeyStoreError) -> SiteKey? {
        if checkingAccess { try KeyFile.requireOwnerOnlyDirectory(directory) }
        guard let bytes = try KeyFile.contents(of: path(site), checkingAccess: checkingAccess) else { return nil }
        return try SiteKey(fileText: String(decoding: bytes, as: UTF8.self), origin: path(site))
    }

    /// Creates or rotates a site's secret (a fresh 32 random bytes, next generation). A key that
    /// others could read is replaced like any other: rotating is how it is made secret again.
    public func rotate(site: String, siteName: String) throws(KeyStoreError) -> SiteKey {
        try ensureDirectory()
        let previous = try storedKey(site, checkingAccess: false)
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
        guard let current = try storedKey(site, checkingAccess: false) else { return false }
        // Remember the generation so a later key is never numbered like a revoked one.
        try writeOwnerOnly("\(current.generation)\n", to: revokedPath(site))
        // The removal is synced: a revoked key must not come back after a power loss.
        return try KeyFile.remove(path(site))
    }

    private func revokedPath(_ site: String) -> String { directory + "/" + site + ".revoked" }

    private func revokedGeneration(_ site: String) -> Int {
        guard let data = FileManager.default.contents(atPath: revokedPath(site)) else { return 0 }
        return Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
    }

    /// Creates the keys directory owner-only, or makes it so. A new directory's entry is synced in
    /// the data directory, and the data directory's in its parent (it may be new too).
    func ensureDirectory() throws(KeyStoreError) {
        if mkdir(directory, 0o700) == 0 {
            let dataDirectory = String(directory.dropLast("/keys".count))
            try KeyFile.syncDirectory(containing: directory)
            try KeyFile.syncDirectory(containing: dataDirectory)
        } else if errno != EEXIST {
            throw KeyStoreError("cannot create \(directory): \(String(cString: strerror(errno)))")
        }
        guard chmod(directory, 0o700) == 0 else {
            throw KeyStoreError("cannot make \(directory) owner-only: \(String(cString: strerror(errno)))")
        }
    }

    /// Writes a file readable by its owner only, atomically (temporary file, fsync, rename), and
    /// syncs its directory so the new file survives a power loss.
    public func writeOwnerOnly(_ text: String, to path: String) throws(KeyStoreError) {
        try KeyFile.writeOwnerOnly(Array(text.utf8), to: path)
    }
}
