/// The store's settings (conf.d section `store`, plus `plugins`, docs/configuration.md).
/// Each key is read here and nowhere else; docs/configuration.md lists them.
import Configuration
import Foundation
import Logging
import TeaBagConfig
import TeaBagPlugins
import TeaBagServerKit

public struct StoreConfiguration: Sendable {
    public enum UnknownTypes: String, Sendable { case accept, reject }

    public var host = "127.0.0.1"
    public var port = 4001
    public var dataDirectory = "data/store"
    public var key: String?
    /// `full` (default): every commit is fsynced before it is acknowledged.
    public var durability: Durability = .full
    public var maxSkewMs: Int64 = 600_000
    public var longPollDelayMs = 5_000
    public var unknownTypes: UnknownTypes = .accept
    public var bodyLimit = 1 << 20
    /// No effect (kept so that existing conf.d files load): every held op
    /// can be resumed, since the log is the streams' history.
    public var streamRetention = 100_000
    public var pluginDirectories: [String] = ["Plugins"]
    public var pluginPollMs = 500
    public var declaredReducers: [DeclaredReducer] = []
    public var logLevel: Logger.Level = .info
    /// Seconds between SSE keep-alive comments.
    public var heartbeatSeconds = 15
    /// A connection that delivers no complete request head or body part for
    /// this long is closed (slowloris); longer than a long poll (docs/protocol.md#store),
    /// and than clients keep an idle connection (AsyncHTTPClient: 60 s), so
    /// that a client never sends on a connection the server is closing.
    public var idleTimeoutMs = 75_000
    /// 401s allowed per remote address and window before 429.
    public var authFailures = FailureLimiter.Settings()

    public init() {}

    public init(settings: Settings, extraPluginDirectories: [String] = []) throws(ConfigError) {
        let store = settings.reader.scoped(to: "store")
        host = store.string(forKey: "host", default: host)
        port = store.int(forKey: "port", default: port)
        dataDirectory = store.string(forKey: "data", default: dataDirectory)
        key = store.string(forKey: "key", isSecret: true)
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
        let plugins = try PluginSettings(settings: settings, defaultDirectories: pluginDirectories, defaultPollMs: pluginPollMs,
                                         extra: extraPluginDirectories)
        (pluginDirectories, pluginPollMs, declaredReducers) = (plugins.directories, plugins.pollMs, plugins.declared)
        try validate()
    }

    public func validate() throws(ConfigError) {
        func bad(_ key: String, _ problem: String) -> ConfigError { ConfigError(origin: "configuration", key: key, problem: problem) }
        guard (0...65535).contains(port) else { throw bad("store.port", "must be from 0 to 65535") }
        if let key, key.count < 16 { throw bad("store.key", "must be at least 16 characters (or unset, to generate one)") }
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
