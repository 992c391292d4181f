import Foundation

/// The `vcbridge` command line: dispatches to subcommands and maps errors to exit codes.
public enum VCBridgeCLI {
    public static let version = "0.1.0"

    static var commands: [any Command.Type] {
        [
            SitesCommand.self,
            MeetingCommand.self,
            ServeCommand.self,
            StatusCommand.self,
            QualityCommand.self,
            SiteCommand.self,
            StoreCommand.self,
            EndpointCommand.self,
            RelayCommand.self,
            LoadTestCommand.self,
            ConfigCommand.self,
            DoctorCommand.self,
        ]
    }

    static var help: String {
        var text = """
            vcbridge \(version): video-conference bridge and meeting scheduler for the Vinh Phuc \
            government video network.

            USAGE: vcbridge <command> [options]

            COMMANDS:

            """
        let width = commands.map { $0.name.count }.max() ?? 0
        for command in commands {
            text += "  " + command.name.padding(toLength: width + 2) + command.abstract + "\n"
        }
        text += """

            OPTIONS:
              -h, --help    Show this help (or `vcbridge <command> --help`).
              --version     Show the version.
            """
        return text
    }

    /// Runs the command line (without the program name) and returns the process exit status.
    public static func run(_ arguments: [String]) -> Int32 {
        guard let first = arguments.first else {
            Output.line(help)
            return ExitCode.success
        }
        switch first {
        case "-h", "--help", "help":
            Output.line(help)
            return ExitCode.success
        case "--version":
            Output.line("vcbridge \(version)")
            return ExitCode.success
        default:
            break
        }
        guard let command = commands.first(where: { $0.name == first }) else {
            Output.error("error: unknown command '\(first)'; run 'vcbridge --help' for the list")
            return ExitCode.usage
        }
        let rest = Array(arguments.dropFirst())
        if rest.contains("--help") || rest.contains("-h") {
            let shown: any Command.Type = command == MeetingCommand.self
                ? (MeetingCommand.subcommand(named: rest.first) ?? command) : command
            Output.line("OVERVIEW: \(shown.abstract)\n\nUSAGE: \(shown.usage)")
            return ExitCode.success
        }
        do {
            try command.init(arguments: rest).run()
            return ExitCode.success
        } catch let error as ValidationError {
            // One line: what is wrong, and where the usage is.
            let sub = command == MeetingCommand.self ? MeetingCommand.subcommand(named: rest.first).map { " " + $0.name } ?? "" : ""
            Output.error("error: \(error.message.replacingOccurrences(of: "\n", with: "; ")) "
                + "(see 'vcbridge \(command.name)\(sub) --help')")
            return ExitCode.usage
        } catch let error as Refusal {
            Output.error(error.description)
            return ExitCode.failure
        } catch let error as StoreFailure {
            Output.error("error: \(error.description)")
            return ExitCode.ioError
        } catch {
            Output.error("error: \(error)")
            return ExitCode.failure
        }
    }
}

extension String {
    func padding(toLength length: Int) -> String {
        count >= length ? self : self + String(repeating: " ", count: length - count)
    }
}
