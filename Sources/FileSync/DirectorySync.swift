#if canImport(Glibc)
import Glibc
#endif

/// A directory that could not be synced; `message` names it and why.
public struct DirectorySyncError: Error, Hashable, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// Syncs the directory holding `path` to disk (its entries: names created, replaced or removed), so
/// that a file created, renamed into place or removed there stays so after a power loss. A file
/// system that cannot sync directories (`EINVAL`) is accepted.
public func syncDirectory(containing path: String) throws(DirectorySyncError) {
    let directory = path.lastIndex(of: "/").map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
    let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else {
        throw DirectorySyncError(message: "cannot sync the directory \(directory) to disk: \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    guard fsync(fd) == 0 || errno == EINVAL else {
        throw DirectorySyncError(message: "cannot sync the directory \(directory) to disk: \(String(cString: strerror(errno)))")
    }
}
