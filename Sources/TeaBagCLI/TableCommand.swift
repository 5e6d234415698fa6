/// `teabag table`: the central authority (docs/protocol.md#table, docs/cli.md).
import ArgumentParser
import TeaBagConfig
import TeaBagTable
#if canImport(Glibc)
import Glibc
#endif

struct TableCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "table", abstract: "Run the table server (users, sessions, mount tables).")

    @OptionGroup var common: CommonRoleOptions

    @Option(help: "Admin and token-signing key (at least 16 characters); generated into the data directory when unset.")
    var key: String?

    @Option(help: "The table's public base URL, sent to stores (e.g. https://table.example.com/).")
    var url: String?

    func run() async throws {
        var extra: [String: ConfValue.Scalar] = [:]
        if let key { extra["table.key"] = .string(key) }
        if let url { extra["table.url"] = .string(url) }
        let settings = try await common.settings(section: "table", extra: extra)
        let configuration = try RoleRunner.starting("table") { try TableConfiguration(settings: settings) }
        let logger = RoleRunner.logger("teabag.table", level: configuration.logLevel)
        let server = try RoleRunner.starting("table") { try TableServer.build(configuration: configuration, logger: logger, announce: true) }
        RoleRunner.reportGeneratedKey("table", server.generatedKeyPath)
        // The table has no plugins to reload: SIGHUP (`systemctl reload`, a
        // closed terminal) must not end it, as its default action would.
        signal(SIGHUP, SIG_IGN)
        try await RoleRunner.run(server.application, logger: logger, what: "teabag table")
    }
}
