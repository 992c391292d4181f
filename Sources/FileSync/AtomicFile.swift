#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` to `path` as a whole or not at all: a new file in the same directory (created with
/// `mode`, never following a link), synced, renamed over `path`, then the directory synced, so a reader
/// sees the old file or the new one and the new one survives a power loss.
/// - Parameter exclusive: refuse (EEXIST) when `path` already exists.
public func writeAtomically(_ bytes: [UInt8], to path: String, mode: mode_t, exclusive: Bool = false) throws(DirectorySyncError) {
    func failure(_ code: Int32) -> DirectorySyncError {
        DirectorySyncError(message: "cannot write \(path): \(String(cString: strerror(code)))")
    }
    if exclusive, access(path, F_OK) == 0 { throw failure(EEXIST) }
    let temporary = path + ".tmp-\(getpid())"
    let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
    guard fd >= 0 else { throw failure(errno) }
    var code: Int32? = fchmod(fd, mode) == 0 ? nil : errno
    var done = 0
    while code == nil, done < bytes.count {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
        if n < 0 {
            if errno != EINTR { code = errno }
        } else {
            done += n
        }
    }
    if code == nil, fsync(fd) != 0 { code = errno }
    close(fd)
    if code == nil {
        // link() instead of rename() when the name must be new: it fails if another writer got there first.
        let placed = exclusive ? link(temporary, path) : rename(temporary, path)
        if placed != 0 { code = errno }
    }
    if exclusive || code != nil { unlink(temporary) }
    if let code { throw failure(code) }
    try syncDirectory(containing: path)
}
