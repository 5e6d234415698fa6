/// `teabag agent`: the client runtime as a daemon with the local API (docs/cli.md, docs/protocol.md#agent-local-api).
import ArgumentParser
import Logging
import ServiceLifecycle
import TeaBagAgent
import TeaBagConfig

struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "agent", abstract: "Run the sync agent (local reads, offline writes, sync and prune).")

    @OptionGroup var common: CommonRoleOptions

    @Option(name: .customLong("table-url"), help: "The table's base URL, e.g. http://127.0.0.1:4000/")
    var tableURL: String?

    @Option(help: "The user id.")
    var user: Int?

    @Option(name: .customLong("session-token"), help: "A session token (from `teabag admin new-session`).")
    var sessionToken: String?

    @Option(help: "The user's master (the agent then opens its own session).")
    var master: String?

    @Option(help: "The local API's Unix socket (default <data>/agent.sock).")
    var socket: String?

    @Option(help: "A channel to follow (repeatable; default: every channel of the mount table).")
    var channel: [String] = []

    @Option(help: "A plugin directory (repeatable; added to plugins.directories).")
    var plugins: [String] = []

    @Option(name: .customLong("clock-offset-ms"), help: ArgumentHelp("Test-only: move this agent's clock by N ms (agent.clock_offset_ms).", visibility: .hidden))
    var clockOffsetMs: Int?

    func run() async throws {
        var extra: [String: ConfValue.Scalar] = [:]
        if let tableURL { extra["agent.table_url"] = .string(tableURL) }
        if let user { extra["agent.user"] = .int(user) }
        if let sessionToken { extra["agent.session_token"] = .string(sessionToken) }
        if let master { extra["agent.master"] = .string(master) }
        if let socket { extra["agent.socket"] = .string(socket) }
        if let clockOffsetMs { extra["agent.clock_offset_ms"] = .int(clockOffsetMs) }
        let settings = try await common.settings(section: "agent", extra: extra)
        var configuration = try RoleRunner.starting("agent") { try AgentConfiguration(settings: settings, extraPluginDirectories: plugins) }
        if !channel.isEmpty { configuration.channels = channel }
        let logger = RoleRunner.logger("teabag.agent", level: configuration.logLevel)
        let agent = try RoleRunner.starting("agent") { try AgentServer.build(configuration: configuration, logger: logger, announce: true) }
        try await RoleRunner.run(agent.services, logger: logger, what: "teabag agent")
    }
}
