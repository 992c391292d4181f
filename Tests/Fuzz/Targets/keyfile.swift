@testable import Admission

/// A site's key file: a typed error or a key that writes back to text that reads as the same key.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKeyFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let content = text(UnsafeRawBufferPointer(start: data, count: size))
    do {
        let key = try SiteKey(fileText: content, origin: "fuzz.key")
        let again = try SiteKey(fileText: key.fileText(siteName: "Fuzz"), origin: "rewritten")
        require(again == key, "key file parse(write(x)) != x")
    } catch {
        requireNamed(error, "SiteKey(fileText:)")
    }
    return 0
}
