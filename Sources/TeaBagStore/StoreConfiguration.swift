/// The store's settings (conf.d section `store`, plus `plugins`, docs/configuration.md).
/// Each key is read here and nowhere else; its type, default and meaning are
/// in `Sources/TeaBagConfig/Schema/StoreKeys.swift`.
import Configuration
import Foundation
import Logging
import TeaBagConfig
import TeaBagPlugins
import TeaBagPostgres
import TeaBagServerKit

public struct StoreConfiguration: Sendable {
    public enum UnknownTypes: String, Sendable { case accept, reject }

    public var host = ConfigSchema.defaultString("store.host")
    public var port = ConfigSchema.defaultInt("store.port")
    public var dataDirectory = ConfigSchema.defaultString("store.data")
    public var key: String?
    /// `full` (default): every commit is fsynced before it is acknowledged.
    public var durability = Durability(rawValue: ConfigSchema.defaultString("store.durability"))!
    /// `store.database`: unset, the oplogs are in `<data>/store.sqlite`,
    /// owned by this one process; a `postgresql://…` URL, in that database,
    /// which any number of processes of this one store may share.
    public var database: String?
    public var databaseConnections = ConfigSchema.defaultInt("store.database_connections")
    public var databaseTimeoutMs = ConfigSchema.defaultMilliseconds("store.database_timeout")
    public var maxSkewMs = Int64(ConfigSchema.defaultMilliseconds("store.max_skew"))
    public var longPollDelayMs = ConfigSchema.defaultMilliseconds("store.long_poll_delay")
    public var unknownTypes = UnknownTypes(rawValue: ConfigSchema.defaultString("store.unknown_types"))!
    public var bodyLimit = ConfigSchema.defaultInt("store.body_limit")
    /// No effect (kept so that existing conf.d files load): every held op
    /// can be resumed, since the log is the streams' history.
    public var streamRetention = ConfigSchema.defaultInt("store.stream_retention")
    public var pluginDirectories = ConfigSchema.defaultList("plugins.directories")
    public var pluginPollMs = ConfigSchema.defaultInt("plugins.poll_ms")
    public var declaredReducers: [DeclaredReducer] = []
    public var logLevel = Logger.Level(rawValue: ConfigSchema.defaultString("store.log_level"))!
    /// Seconds between SSE keep-alive comments.
    public var heartbeatSeconds = 15
    /// A connection that delivers no complete request head or body part for
    /// this long is closed (slowloris); longer than a long poll (docs/protocol.md#store),
    /// and than clients keep an idle connection (AsyncHTTPClient: 60 s), so
    /// that a client never sends on a connection the server is closing.
    public var idleTimeoutMs = ConfigSchema.defaultMilliseconds("store.idle_timeout")
    /// 401s allowed per remote address and window before 429.
    public var authFailures = FailureLimiter.Settings(maxFailures: ConfigSchema.defaultInt("store.auth_failures"),
                                                      windowMs: ConfigSchema.defaultMilliseconds("store.auth_failure_window"))

    public init() {}

    public init(settings: Settings, extraPluginDirectories: [String] = []) throws(ConfigError) {
        let store = settings.reader.scoped(to: "store")
        host = store.string(forKey: "host", default: host)
        port = store.int(forKey: "port", default: port)
        dataDirectory = store.string(forKey: "data", default: dataDirectory)
        key = store.string(forKey: "key", isSecret: true)
        database = store.string(forKey: "database", isSecret: true)
        databaseConnections = store.int(forKey: "database_connections", default: databaseConnections)
        databaseTimeoutMs = store.milliseconds(forKey: "database_timeout", default: databaseTimeoutMs)
        durability = store.string(forKey: "durability").flatMap(Durability.init(rawValue:)) ?? durability
        maxSkewMs = Int64(store.milliseconds(forKey: "max_skew", default: Int(maxSkewMs)))
        longPollDelayMs = store.milliseconds(forKey: "long_poll_delay", default: longPollDelayMs)
        unknownTypes = store.string(forKey: "unknown_types").flatMap(UnknownTypes.init(rawValue:)) ?? unknownTypes
        bodyLimit = store.int(forKey: "body_limit", default: bodyLimit)
        streamRetention = store.int(forKey: "stream_retention", default: streamRetention)
        idleTimeoutMs = store.milliseconds(forKey: "idle_timeout", default: idleTimeoutMs)
        authFailures.maxFailures = store.int(forKey: "auth_failures", default: authFailures.maxFailures)
        authFailures.windowMs = store.milliseconds(forKey: "auth_failure_window", default: authFailures.windowMs)
        logLevel = store.string(forKey: "log_level").flatMap(Logger.Level.init(rawValue:)) ?? logLevel
        let plugins = try PluginSettings(settings: settings, extra: extraPluginDirectories)
        (pluginDirectories, pluginPollMs, declaredReducers) = (plugins.directories, plugins.pollMs, plugins.declared)
        try validate()
    }

    public func validate() throws(ConfigError) {
        func bad(_ key: String, _ problem: String) -> ConfigError { ConfigError(origin: "configuration", key: key, problem: problem) }
        guard (0...65535).contains(port) else { throw bad("store.port", "must be from 0 to 65535") }
        if let key, key.count < 16 { throw bad("store.key", "must be at least 16 characters (or unset, to generate one)") }
        if let database, case .failure(let problem) = PostgresURL.parse(database) { throw bad("store.database", problem.text) }
        guard (1...1000).contains(databaseConnections) else { throw bad("store.database_connections", "must be from 1 to 1000") }
        guard databaseTimeoutMs >= 100 else { throw bad("store.database_timeout", "must be at least 100ms") }
        guard maxSkewMs >= 0 else { throw bad("store.max_skew", "must not be negative") }
        guard longPollDelayMs >= 1 else { throw bad("store.long_poll_delay", "must be positive") }
        guard bodyLimit >= 1024 else { throw bad("store.body_limit", "must be at least 1024 bytes") }
        guard streamRetention >= 1 else { throw bad("store.stream_retention", "must be positive") }
        guard idleTimeoutMs > longPollDelayMs else {
            throw bad("store.idle_timeout", "must be longer than store.long_poll_delay (\(longPollDelayMs)ms)")
        }
        guard authFailures.maxFailures >= 0 else { throw bad("store.auth_failures", "must be 0 (no limit) or more") }
        guard authFailures.windowMs >= 1 else { throw bad("store.auth_failure_window", "must be positive") }
        guard pluginPollMs >= 10 else { throw bad("plugins.poll_ms", "must be at least 10") }
    }
}
