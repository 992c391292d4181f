@testable import Admission
import Foundation
import Testing

/// Site keys are secrets: the store keeps them owner-only and refuses key files others can read,
/// as ssh refuses such private keys, saying how to fix them.
@Suite("Site key store")
struct SiteKeyStoreTests {
    func dataDirectory() -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vcb-keys-\(UUID().uuidString)").path
        try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    func mode(_ path: String) -> Int {
        var st = stat()
        guard stat(path, &st) == 0 else { return -1 }
        return Int(st.st_mode) & 0o777
    }

    @Test func keysAreOwnerOnlyInAnOwnerOnlyDirectory() throws {
        let store = SiteKeyStore(dataDirectory: dataDirectory())
        let key = try store.rotate(site: "lang-cong", siteName: "Xã Lãng Công")
        #expect(mode(store.directory) == 0o700)
        #expect(mode(store.directory + "/lang-cong.key") == 0o600)
        #expect(try store.key(for: "lang-cong") == key)
        #expect(try store.key(for: "tam-son") == nil)
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o620])
    func aKeyFileOthersCanReachIsRefusedWithTheFix(mode: Int) throws {
        let store = SiteKeyStore(dataDirectory: dataDirectory())
        _ = try store.rotate(site: "lang-cong", siteName: "Xã Lãng Công")
        let path = store.directory + "/lang-cong.key"
        chmod(path, mode_t(mode))
        let octal = "0" + String(mode, radix: 8)
        let what = mode & 0o044 != 0 ? "readable by others" : "open to others"
        #expect(throws: KeyStoreError("key file \(path) is \(what) (mode \(octal)); run: chmod 600 \(path)")) {
            try store.key(for: "lang-cong")
        }
    }

    @Test func aKeysDirectoryOthersCanReachIsRefusedWithTheFix() throws {
        let store = SiteKeyStore(dataDirectory: dataDirectory())
        _ = try store.rotate(site: "lang-cong", siteName: "Xã Lãng Công")
        chmod(store.directory, 0o755)
        #expect(throws: KeyStoreError("keys directory \(store.directory) is open to others (mode 0755); run: chmod 700 \(store.directory)")) {
            try store.key(for: "lang-cong")
        }
    }

    @Test func aKeyOthersCouldReadCanStillBeRotatedOrRevoked() throws {
        let store = SiteKeyStore(dataDirectory: dataDirectory())
        let first = try store.rotate(site: "lang-cong", siteName: "Xã Lãng Công")
        let path = store.directory + "/lang-cong.key"
        chmod(path, 0o644)
        let second = try store.rotate(site: "lang-cong", siteName: "Xã Lãng Công")
        #expect(second.generation == first.generation + 1)
        #expect(mode(path) == 0o600)
        #expect(try store.key(for: "lang-cong") == second)
        chmod(path, 0o644)
        #expect(try store.revoke(site: "lang-cong"))
        #expect(try store.key(for: "lang-cong") == nil)
        #expect(try store.rotate(site: "lang-cong", siteName: "Xã Lãng Công").generation == second.generation + 1)
    }

    @Test func writingOverAFileOthersCouldReadLeavesItOwnerOnly() throws {
        let store = SiteKeyStore(dataDirectory: dataDirectory())
        let out = store.directory + "-handed-out.key"
        FileManager.default.createFile(atPath: out, contents: Data("old\n".utf8), attributes: [.posixPermissions: 0o644])
        try store.writeOwnerOnly("new\n", to: out)
        #expect(mode(out) == 0o600)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "new\n")
    }

    @Test func aKeyFileHandedToATechnicianIsReadOnlyIfOwnerOnly() throws {
        let store = SiteKeyStore(dataDirectory: dataDirectory())
        let key = try store.rotate(site: "lang-cong", siteName: "Xã Lãng Công")
        let out = store.directory + "-lang-cong.key"
        try store.writeOwnerOnly(key.fileText(siteName: "Xã Lãng Công"), to: out)
        #expect(try SiteKey(contentsOfFile: out) == key)
        chmod(out, 0o644)
        #expect(throws: KeyStoreError("key file \(out) is readable by others (mode 0644); run: chmod 600 \(out)")) {
            try SiteKey(contentsOfFile: out)
        }
        #expect(throws: KeyStoreError("cannot read key file \(out).missing: No such file or directory")) {
            try SiteKey(contentsOfFile: out + ".missing")
        }
    }
}

extension SiteKeyStoreTests {
    /// `site key --out /dev/null` (Scripts/bench/common.sh) once replaced /dev/null with a regular
    /// file: a device or pipe is written into, never replaced. A FIFO stands in for the device here.
    @Test func writingToAPipeOrDeviceWritesIntoItInsteadOfReplacingIt() throws {
        let data = dataDirectory()
        let store = SiteKeyStore(dataDirectory: data)
        let fifo = data + "/out.fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        let reader = open(fifo, O_RDONLY | O_NONBLOCK)
        #expect(reader >= 0)
        defer { close(reader) }
        try store.writeOwnerOnly("secret\n", to: fifo)
        var st = stat()
        #expect(stat(fifo, &st) == 0)
        #expect(st.st_mode & S_IFMT == S_IFIFO, "still a pipe, not a file put in its place")
        var buffer = [UInt8](repeating: 0, count: 64)
        let n = read(reader, &buffer, buffer.count)
        #expect(n == 7 && String(decoding: buffer.prefix(7), as: UTF8.self) == "secret\n")
        #expect(throws: KeyStoreError("cannot write \(data): it is a directory")) {
            try store.writeOwnerOnly("secret\n", to: data)
        }
    }
}
