#if canImport(Glibc)
import Glibc
#endif
import FileSync

/// Key files as ssh treats private keys: a key file (or the keys directory) that group or others
/// can reach is refused with the command that fixes it, and a file put in place, replaced or
/// removed has its directory synced so the change survives a power loss.
enum KeyFile {
    /// A key file is a few lines; anything larger is not one.
    static let maximumSize = 64 << 10

    /// The bytes of the key file at `path`, or nil if there is none.
    /// - Parameter checkingAccess: refuse the file if group or others have any access to it.
    /// - Throws: ``KeyStoreError`` naming the file: unreadable, not a regular file, too large, or open to others.
    static func contents(of path: String, checkingAccess: Bool = true) throws(KeyStoreError) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw KeyStoreError("cannot read key file \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw KeyStoreError("cannot read key file \(path): \(String(cString: strerror(errno)))") }
        guard st.st_mode & S_IFMT == S_IFREG else { throw KeyStoreError("key file \(path) is not a regular file") }
        if checkingAccess { try requireOwnerOnly(path, mode: st.st_mode, directory: false) }
        guard Int(st.st_size) <= maximumSize else {
            throw KeyStoreError("key file \(path) is \(st.st_size) bytes; a key file is a few lines")
        }
        var bytes = [UInt8](repeating: 0, count: Int(st.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw KeyStoreError("cannot read key file \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            done += n
        }
        return Array(bytes.prefix(done))
    }

    /// Refuses a file or directory whose mode gives group or others any access.
    static func requireOwnerOnly(_ path: String, mode: mode_t, directory: Bool) throws(KeyStoreError) {
        let permissions = Int(mode) & 0o777
        guard permissions & 0o077 != 0 else { return }
        let digits = String(permissions, radix: 8)
        let octal = String(repeating: "0", count: 4 - digits.count) + digits
        if directory {
            throw KeyStoreError("keys directory \(path) is open to others (mode \(octal)); run: chmod 700 \(path)")
        }
        let how = permissions & 0o044 != 0 ? "readable by others" : "open to others"
        throw KeyStoreError("key file \(path) is \(how) (mode \(octal)); run: chmod 600 \(path)")
    }

    /// Refuses a keys directory that group or others can reach (nothing to check if it is missing).
    static func requireOwnerOnlyDirectory(_ path: String) throws(KeyStoreError) {
        var st = stat()
        guard stat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw KeyStoreError("cannot read the keys directory \(path): \(String(cString: strerror(errno)))")
        }
        try requireOwnerOnly(path, mode: st.st_mode, directory: true)
    }

    /// Writes a file readable by its owner only, atomically (temporary file, fsync, rename), then
    /// syncs its directory so the new name survives a power loss. A device or pipe (`--out
    /// /dev/null`, `/dev/stdout`) is written into, never replaced by a file.
    static func writeOwnerOnly(_ bytes: [UInt8], to path: String) throws(KeyStoreError) {
        var st = stat()
        if stat(path, &st) == 0, st.st_mode & S_IFMT != S_IFREG {
            guard st.st_mode & S_IFMT != S_IFDIR else { throw KeyStoreError("cannot write \(path): it is a directory") }
            let fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY)
            guard fd >= 0 else { throw KeyStoreError("cannot write \(path): \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            if let failure = writeAll(bytes, to: fd) {
                throw KeyStoreError("cannot write \(path): \(String(cString: strerror(failure)))")
            }
            return
        }
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw KeyStoreError("cannot write \(path): \(String(cString: strerror(errno)))") }
        var failure: Int32? = nil
        // A temporary file left by an earlier run keeps its mode through O_CREAT: set it.
        if fchmod(fd, 0o600) != 0 { failure = errno }
        if failure == nil { failure = writeAll(bytes, to: fd) }
        if failure == nil, fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = errno }
        if let failure {
            unlink(temporary)
            throw KeyStoreError("cannot write \(path): \(String(cString: strerror(failure)))")
        }
        try syncDirectory(containing: path)
    }

    /// Writes all of `bytes` to `fd`; the errno of a failure, or nil.
    private static func writeAll(_ bytes: [UInt8], to fd: Int32) -> Int32? {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            done += n
        }
        return nil
    }

    /// Removes a file and syncs its directory, so the removal survives a power loss.
    /// - Returns: whether there was a file.
    static func remove(_ path: String) throws(KeyStoreError) -> Bool {
        guard unlink(path) == 0 else {
            if errno == ENOENT { return false }
            throw KeyStoreError("cannot remove \(path): \(String(cString: strerror(errno)))")
        }
        try syncDirectory(containing: path)
        return true
    }

    /// Syncs the directory holding `path` (``FileSync/syncDirectory(containing:)``), failing as the key store does.
    static func syncDirectory(containing path: String) throws(KeyStoreError) {
        do { try FileSync.syncDirectory(containing: path) } catch { throw KeyStoreError(error.message) }
    }
}
