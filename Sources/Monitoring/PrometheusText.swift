import Foundation

/// Builds a Prometheus text exposition (format 0.0.4): `# HELP`, `# TYPE`, then samples with
/// labels, label values escaped as the format requires.
public struct PrometheusText {
    public enum Kind: String { case gauge, counter }

    private var text = ""
    private var declared = Set<String>()

    public init() {}

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Adds one sample; the metric's HELP and TYPE lines come before its first sample.
    public mutating func add(_ name: String, _ kind: Kind, help: String, labels: KeyValuePairs<String, String> = [:], value: Double) {
        if !declared.contains(name) {
            declared.insert(name)
            text += "# HELP \(name) \(help.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n"))\n"
            text += "# TYPE \(name) \(kind.rawValue)\n"
        }
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.key)=\"\(Self.escape($0.value))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.format(value) + "\n"
    }

    public var body: String { text }

    static func escape(_ value: String) -> String {
        var out = ""
        for c in value {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    static func format(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded() && abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }

    /// Checks text against the Prometheus exposition format (0.0.4): comment lines, then samples
    /// `name{label="value",...} number`, every metric's TYPE before its samples.
    public static func problems(in text: String) -> [String] {
        var problems: [String] = []
        var typed = Set<String>()
        let name = "[a-zA-Z_:][a-zA-Z0-9_:]*"
        let label = "[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\\\\n]|\\\\[\\\\\"n])*\""
        let sample = try! NSRegularExpression(pattern: "^(\(name))(\\{\(label)(,\(label))*\\})? (-?[0-9.eE+-]+|NaN|[+-]Inf)$")
        let type = try! NSRegularExpression(pattern: "^# TYPE (\(name)) (gauge|counter|histogram|summary|untyped)$")
        let help = try! NSRegularExpression(pattern: "^# HELP (\(name)) .*$")
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).dropLast() {
            let s = String(line)
            let range = NSRange(s.startIndex..., in: s)
            if let m = type.firstMatch(in: s, range: range) {
                typed.insert((s as NSString).substring(with: m.range(at: 1)))
            } else if help.firstMatch(in: s, range: range) != nil {
                continue
            } else if let m = sample.firstMatch(in: s, range: range) {
                let metric = (s as NSString).substring(with: m.range(at: 1))
                if !typed.contains(metric) { problems.append("sample before TYPE: \(s)") }
            } else {
                problems.append("not exposition format: \(s)")
            }
        }
        if !text.hasSuffix("\n") { problems.append("no final newline") }
        return problems
    }
}
