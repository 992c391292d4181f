@testable import Monitoring

/// The HTTP listener's request head, read as HTTPServer.read does: request line, header lines (no folding),
/// body length, target with its query. Every refusal is a BadRequest with a status and a reason.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: data, count: size))
    var lines: [ArraySlice<UInt8>] = []
    for var line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
        if !lines.isEmpty, line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { break }
        lines.append(line)
    }
    guard let requestLine = lines.first else { return 0 }
    do throws(HTTPServer.BadRequest) {
        let (method, target, _) = try HTTPServer.parseRequestLine(String(decoding: requestLine, as: UTF8.self))
        var fields: [(name: String, value: String)] = []
        for line in lines.dropFirst() {
            guard let first = line.first, first != 0x20, first != 0x09 else { return 0 }
            let field = try HTTPServer.parseHeaderLine(line)
            require(!field.name.isEmpty && field.name.utf8.allSatisfy(HTTPServer.isTokenByte), "a header name that is not a token")
            require(!field.value.utf8.contains { HTTPServer.isControlByte($0) }, "a header value with a control byte")
            fields.append(field)
        }
        let length = try HTTPServer.bodyLength(method: method, headers: HTTPServer.Headers(fields), maxBody: 64 * 1024)
        require(length >= 0 && length <= 64 * 1024, "body length \(length) outside the limit")
        let (path, _) = try HTTPServer.parseTarget(target)
        require(path.hasPrefix("/"), "a path that does not start with /")
    } catch {
        require((400...599).contains(error.status) && !error.reason.isEmpty, "a refusal without status or reason")
    }
    return 0
}
