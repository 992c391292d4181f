/// A small command-line option parser: `--name value`, `--name=value`, boolean `--flag`,
/// repeatable options, and positionals. Anything unknown is a ``ValidationError`` naming it.
struct Arguments {
    private var values: [String: [String]] = [:]
    private var flags: Set<String> = []
    private(set) var positionals: [String] = []

    /// Options every command accepts.
    static let globalOptions: Set<String> = ["--data-dir", "--config", "--zone"]

    init(_ arguments: [String], options: Set<String>, flags allowedFlags: Set<String> = [], positionals maxPositionals: Int = 0) throws {
        let options = options.union(Self.globalOptions)
        var i = 0
        while i < arguments.count {
            let argument = arguments[i]
            i += 1
            guard argument.hasPrefix("--"), argument.count > 2 else {
                guard positionals.count < maxPositionals else { throw ValidationError("unexpected argument '\(argument)'") }
                positionals.append(argument)
                continue
            }
            var name = argument
            var inlineValue: String? = nil
            if let equals = argument.firstIndex(of: "=") {
                name = String(argument[..<equals])
                inlineValue = String(argument[argument.index(after: equals)...])
            }
            if allowedFlags.contains(name) {
                guard inlineValue == nil else { throw ValidationError("\(name) takes no value") }
                flags.insert(name)
            } else if options.contains(name) {
                let value: String
                if let inlineValue {
                    value = inlineValue
                } else {
                    guard i < arguments.count else { throw ValidationError("\(name) needs a value") }
                    value = arguments[i]
                    i += 1
                }
                values[name, default: []].append(value)
            } else {
                let known = (options.subtracting(Self.globalOptions).union(allowedFlags)).sorted()
                throw ValidationError("unknown option '\(name)'" + (known.isEmpty ? "" : " (options: \(known.joined(separator: " ")))"))
            }
        }
    }

    func flag(_ name: String) -> Bool { flags.contains(name) }

    /// The option's value; given twice is an error.
    func value(_ name: String) throws -> String? {
        guard let list = values[name] else { return nil }
        guard list.count == 1 else { throw ValidationError("\(name) is given \(list.count) times") }
        return list[0]
    }

    func required(_ name: String) throws -> String {
        guard let v = try value(name) else { throw ValidationError("missing \(name)") }
        return v
    }

    func all(_ name: String) -> [String] { values[name] ?? [] }

    func integer(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = try value(name) else { return nil }
        guard let n = Int(text), range.contains(n) else {
            throw ValidationError("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), not '\(text)'")
        }
        return n
    }
}
