/// `teabag`: one executable, a subcommand per role (docs/cli.md).
import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

@main
struct TeaBagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "teabag",
        abstract: "Small data kept in sync across devices and stores, folded by reducer plugins.",
        subcommands: [DevCommand.self, TableCommand.self, StoreCommand.self, AgentCommand.self,
                      GetCommand.self, PushCommand.self, WatchCommand.self, StatusCommand.self, DashboardCommand.self,
                      AdminCommand.self, PluginsCommand.self]
    )

    /// Exit statuses of docs/cli.md: 0 success, 1 runtime failure, 2 usage or
    /// configuration error (argument-parser's own 64 included).
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as CLIFailure {
            FileHandleOutput.stderr("teabag: \(failure.message)")
            Glibc.exit(failure.status)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if !message.isEmpty {
                if code.rawValue == 0 { print(message) } else { FileHandleOutput.stderr(message) }
            }
            Glibc.exit(code.rawValue == 64 ? 2 : code.rawValue)
        }
    }
}

/// A failure the user can act on, printed as one line; `status` 1 or 2.
struct CLIFailure: Error, CustomStringConvertible {
    let message: String
    let status: Int32
    var description: String { message }

    static func usage(_ message: String) -> CLIFailure { CLIFailure(message: message, status: 2) }
    static func runtime(_ message: String) -> CLIFailure { CLIFailure(message: message, status: 1) }
}

enum FileHandleOutput {
    static func stderr(_ line: String) {
        let text = line.hasSuffix("\n") ? line : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }
}
