#if canImport(Glibc)
import Glibc
#endif

/// One-line structured log records on stderr: `time=… level=… event=… key=value …` (logfmt).
/// Each record is one write(2), so lines from different threads never interleave. Values are
/// quoted and escaped (``Log/value(_:)``), so nothing a peer sends can start a line of its own.
public enum Log {
    public static func info(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { emit("info", event, fields) }
    public static func warning(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { emit("warn", event, fields) }
    public static func error(_ event: String, _ fields: KeyValuePairs<String, Any> = [:]) { emit("error", event, fields) }

    static func emit(_ level: String, _ event: String, _ fields: KeyValuePairs<String, Any>) {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        var tm = tm()
        var seconds = ts.tv_sec
        gmtime_r(&seconds, &tm)
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let millis = Int(ts.tv_nsec / 1_000_000)
        let time = "\(tm.tm_year + 1900)-\(two(tm.tm_mon + 1))-\(two(tm.tm_mday))T\(two(tm.tm_hour)):\(two(tm.tm_min)):\(two(tm.tm_sec))."
            + (millis < 10 ? "00" : millis < 100 ? "0" : "") + "\(millis)Z"
        let line = record(time: time, level: level, event: event, fields: fields) + "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }

    /// One record without its newline.
    static func record(time: String, level: String, event: String, fields: KeyValuePairs<String, Any>) -> String {
        var line = "time=\(time) level=\(level) event=\(value(event))"
        for (key, field) in fields { line += " \(key)=\(value("\(field)"))" }
        return line
    }

    /// A value as logfmt writes it: bare when it is plain, otherwise in double quotes with `\` and `"`
    /// escaped and every control character (C0, DEL, C1, and the Unicode line and paragraph
    /// separators) written as `\n`, `\r`, `\t` or `\u00XX`.
    static func value(_ text: String) -> String {
        var plain = !text.isEmpty
        for scalar in text.unicodeScalars where plain {
            if scalar == " " || scalar == "=" || scalar == "\"" || scalar == "\\" || needsEscape(scalar) { plain = false }
        }
        if plain { return text }
        var quoted = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": quoted += "\\\\"
            case "\"": quoted += "\\\""
            case "\n": quoted += "\\n"
            case "\r": quoted += "\\r"
            case "\t": quoted += "\\t"
            case _ where needsEscape(scalar):
                let hex = String(scalar.value, radix: 16)
                quoted += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            default: quoted.unicodeScalars.append(scalar)
            }
        }
        return quoted + "\""
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || scalar.value == 0x2028 || scalar.value == 0x2029
    }
}
