@testable import Configuration

/// The override configuration file merged over the embedded defaults: a typed error naming what is wrong, or settings.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSettings(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    do {
        _ = try Settings(merging: bytes, origin: "fuzz.json")
    } catch {
        require("\(error)".contains("fuzz.json") || "\(error)".contains("embedded"), "a settings error not naming the file: \(error)")
    }
    return 0
}
