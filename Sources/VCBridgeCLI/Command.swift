import Foundation

/// A usage error: printed as one line and exits 64 (EX_USAGE).
public struct ValidationError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A failure of a command that was used correctly (exit 1).
public struct CommandFailure: Error, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One `vcbridge` subcommand, in the shape of swift-argument-parser without the package:
/// parse the arguments (throwing ``ValidationError``), then run.
protocol Command {
    static var name: String { get }
    static var abstract: String { get }
    static var usage: String { get }
    init(arguments: [String]) throws
    func run() throws
}

enum Output {
    static func line(_ text: String) {
        print(text)
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

enum ExitCode {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64
    static let ioError: Int32 = 74
}
