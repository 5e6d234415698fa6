/// `teabag store`: holds oplogs, validates ops with plugins, streams them (docs/protocol.md#store, docs/cli.md).
import ArgumentParser
import TeaBagConfig
import TeaBagStore

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "Run a store server (oplogs, validation, streams).")

    @OptionGroup var common: CommonRoleOptions

    @Option(help: "Admin key (at least 16 characters); generated into the data directory when unset.")
    var key: String?

    @Option(help: "A plugin directory (repeatable; added to plugins.directories).")
    var plugins: [String] = []

    func run() async throws {
        var extra: [String: ConfValue.Scalar] = [:]
        if let key { extra["store.key"] = .string(key) }
        let settings = try await common.settings(section: "store", extra: extra)
        let configuration = try RoleRunner.starting("store") { try StoreConfiguration(settings: settings, extraPluginDirectories: plugins) }
        let logger = RoleRunner.logger("teabag.store", level: configuration.logLevel)
        let server = try RoleRunner.starting("store") { try StoreServer.build(configuration: configuration, logger: logger, announce: true) }
        RoleRunner.reportGeneratedKey("store", server.generatedKeyPath)
        try await RoleRunner.run(server.application, logger: logger, what: "teabag store")
    }
}
