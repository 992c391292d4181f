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
}
