#if canImport(Glibc)
import Glibc
#endif

/// One-line structured log records on stderr: `time=… level=… event=… key=value …`.
/// Each record is one write(2), so lines from different threads never interleave.
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
        var line = "time=\(time) level=\(level) event=\(event)"
        for (key, value) in fields {
            var text = "\(value)"
            if text.contains(" ") || text.contains("\"") || text.isEmpty {
                text = "\"" + text.replacingOccurrences(of: "\"", with: "'") + "\""
            }
            line += " \(key)=\(text)"
        }
        line += "\n"
        _ = line.withCString { write(2, $0, strlen($0)) }
    }
}

extension String {
    func replacingOccurrences(of target: String, with replacement: String) -> String {
        split(separator: Character(target), omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
