/// The table's settings (conf.d section `table`, docs/configuration.md). Each key is read
/// here and nowhere else; its type, default and meaning are in
/// `Sources/TeaBagConfig/Schema/TableKeys.swift` (docs/configuration.md is
/// written from there).
import Configuration
import Foundation
import Logging
import TeaBagConfig
import TeaBagCore
import TeaBagPostgres
import TeaBagServerKit

public struct TableConfiguration: Sendable {
    public var host = ConfigSchema.defaultString("table.host")
    public var port = ConfigSchema.defaultInt("table.port")
    public var dataDirectory = ConfigSchema.defaultString("table.data")
    public var key: String?
    /// `postgresql://…`, or nil for the SQLite file in the data directory.
    public var database: String?
    public var databaseConnections = ConfigSchema.defaultInt("table.database_connections")
    /// How long a request waits for PostgreSQL before it is answered 503 `ServerError:DatabaseUnavailable`.
    public var databaseTimeoutMs = ConfigSchema.defaultMilliseconds("table.database_timeout")
    public var publicURL: String?
    public var bodyLimit = ConfigSchema.defaultInt("table.body_limit")
    public var masterHashRounds = ConfigSchema.defaultInt("table.master_hash_rounds")
    public var confirmTimeoutMs = ConfigSchema.defaultInt("table.confirm_timeout_ms")
    public var idleTimeoutMs = ConfigSchema.defaultMilliseconds("table.idle_timeout")
    public var authFailures = FailureLimiter.Settings(maxFailures: ConfigSchema.defaultInt("table.auth_failures"),
                                                      windowMs: ConfigSchema.defaultMilliseconds("table.auth_failure_window"))
    public var logLevel = Logger.Level(rawValue: ConfigSchema.defaultString("table.log_level"))!

    public init() {}

    /// Reads the `table` section; errors name the key.
    public init(settings: Settings) throws(ConfigError) {
        let table = settings.reader.scoped(to: "table")
        host = table.string(forKey: "host", default: host)
        port = table.int(forKey: "port", default: port)
        dataDirectory = table.string(forKey: "data", default: dataDirectory)
        key = table.string(forKey: "key", isSecret: true)
        database = table.string(forKey: "database", isSecret: true)
        databaseConnections = table.int(forKey: "database_connections", default: databaseConnections)
        databaseTimeoutMs = table.milliseconds(forKey: "database_timeout", default: databaseTimeoutMs)
        publicURL = table.string(forKey: "url")
        bodyLimit = table.int(forKey: "body_limit", default: bodyLimit)
        masterHashRounds = table.int(forKey: "master_hash_rounds", default: masterHashRounds)
        confirmTimeoutMs = table.int(forKey: "confirm_timeout_ms", default: confirmTimeoutMs)
        idleTimeoutMs = table.milliseconds(forKey: "idle_timeout", default: idleTimeoutMs)
        authFailures.maxFailures = table.int(forKey: "auth_failures", default: authFailures.maxFailures)
        authFailures.windowMs = table.milliseconds(forKey: "auth_failure_window", default: authFailures.windowMs)
        logLevel = table.string(forKey: "log_level").flatMap(Logger.Level.init(rawValue:)) ?? logLevel
        try validate()
    }

    public func validate() throws(ConfigError) {
        func bad(_ key: String, _ problem: String) -> ConfigError { ConfigError(origin: "configuration", key: "table.\(key)", problem: problem) }
        guard (0...65535).contains(port) else { throw bad("port", "must be from 0 to 65535") }
        if let key, key.count < 16 { throw bad("key", "must be at least 16 characters (or unset, to generate one)") }
        if let database, case .failure(let problem) = PostgresURL.parse(database) { throw bad("database", problem.text) }
        guard (1...1000).contains(databaseConnections) else { throw bad("database_connections", "must be from 1 to 1000") }
        guard databaseTimeoutMs >= 100 else { throw bad("database_timeout", "must be at least 100ms") }
        if let publicURL {
            guard BaseURL.isValid(publicURL) else {
                throw bad("url", "must be an http(s) URL ending with / and without a query, e.g. https://table.example.com/")
            }
        }
        guard bodyLimit >= 1024 else { throw bad("body_limit", "must be at least 1024 bytes") }
        guard masterHashRounds >= 1 else { throw bad("master_hash_rounds", "must be positive") }
        guard confirmTimeoutMs >= 1 else { throw bad("confirm_timeout_ms", "must be positive") }
        guard idleTimeoutMs >= 100 else { throw bad("idle_timeout", "must be at least 100ms") }
        guard authFailures.maxFailures >= 0 else { throw bad("auth_failures", "must be 0 (no limit) or more") }
        guard authFailures.windowMs >= 1 else { throw bad("auth_failure_window", "must be positive") }
    }
}
