/// `teabag dashboard`: prints the agent's dashboard URL (with its token)
/// and opens it in a browser where one is available.
import ArgumentParser
import Foundation

struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dashboard", abstract: "Print (and open) the URL of the agent's live dashboard.",
        discussion: "The URL carries a token the agent makes at each start; anyone with the URL can watch this agent, so do not share it.")
    @OptionGroup var options: AgentOptions
    @Flag(name: .customLong("no-open"), help: "Only print the URL; do not start a browser.")
    var noOpen = false

    func run() async throws {
        let answer = try await options.link().call(.GET, "/v1/dashboard")
        guard let url = answer["url"]?.stringValue else { throw CLIFailure.runtime("the agent gave no dashboard URL: \(answer)") }
        Output.line(url)
        if !noOpen { Browser.open(url) }
    }
}

/// xdg-open, when there is one and a display to open on; never waited for,
/// and a failure only means the URL has to be opened by hand.
enum Browser {
    static func open(_ url: String) {
        let environment = ProcessInfo.processInfo.environment
        guard environment["DISPLAY"] != nil || environment["WAYLAND_DISPLAY"] != nil else { return }
        let paths = (environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":").map { "\($0)/xdg-open" }
        guard let opener = paths.first(where: { FileManager.default.isExecutableFile(atPath: $0) }) else { return }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: opener)
        process.arguments = [url]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try? process.run()
    }
}
