/// The agent's settings (conf.d sections `agent`, `prune`, `plugins`,
/// docs/configuration.md). Each key is read here and nowhere else; docs/configuration.md lists them.
import Configuration
import Foundation
import Logging
import TeaBag
import TeaBagConfig
import TeaBagCore
import TeaBagPlugins

public struct AgentConfiguration: Sendable {
    public var tableURL = ""
    public var user: Int64 = 0
    public var sessionToken: String?
    public var master: String?
    /// Empty: every channel of the mount table.
    public var channels: [String] = []
    public var dataDirectory = "data/agent"
    /// nil: `<data>/agent.sock`.
    public var socket: String?
    public var host = "127.0.0.1"
    /// nil (conf.d -1): no TCP listener.
    public var port: Int?
    /// The dashboard's loopback port: 0 picks a free one; nil (conf.d -1): no dashboard.
    public var dashboardPort: Int? = 0
    public var durability: SQLiteClientStorage.Durability = .normal
    public var tableRefreshMs = 60_000
    /// A local connection that delivers no complete request head or body
    /// part for this long is closed (a stuck or slowloris client); longer
    /// than clients keep an idle connection (AsyncHTTPClient: 60 s).
    public var idleTimeoutMs = 75_000
    public var pruneMinOps = 32
    /// Test-only: added to this machine's clock before the client reads it,
    /// so that a fault test can give one agent a skewed clock (±1 h) on a
    /// machine whose clock is right. 0 in any real deployment.
    public var clockOffsetMs: Int64 = 0
    public var pluginDirectories: [String] = ["Plugins"]
    public var pluginPollMs = 500
    public var declaredReducers: [DeclaredReducer] = []
    public var logLevel: Logger.Level = .info

    public init() {}

    public var socketPath: String { socket ?? (dataDirectory as NSString).appendingPathComponent("agent.sock") }
    public var databasePath: String { (dataDirectory as NSString).appendingPathComponent("agent.sqlite") }

    public init(settings: Settings, extraPluginDirectories: [String] = []) throws(ConfigError) {
        let agent = settings.reader.scoped(to: "agent")
        tableURL = agent.string(forKey: "table_url", default: tableURL)
        user = Int64(agent.int(forKey: "user", default: Int(user)))
        sessionToken = agent.string(forKey: "session_token", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        master = agent.string(forKey: "master", isSecret: true).flatMap { $0.isEmpty ? nil : $0 }
        channels = agent.stringArray(forKey: "channels") ?? channels
        dataDirectory = agent.string(forKey: "data", default: dataDirectory)
        socket = agent.string(forKey: "socket").flatMap { $0.isEmpty ? nil : $0 }
        host = agent.string(forKey: "host", default: host)
        let tcp = agent.int(forKey: "port", default: -1)
        port = tcp < 0 ? nil : tcp
        let dashboard = agent.int(forKey: "dashboard_port", default: 0)
        dashboardPort = dashboard < 0 ? nil : dashboard
        durability = agent.string(forKey: "durability").flatMap(SQLiteClientStorage.Durability.init(rawValue:)) ?? durability
        tableRefreshMs = agent.milliseconds(forKey: "table_refresh", default: tableRefreshMs)
        idleTimeoutMs = agent.milliseconds(forKey: "idle_timeout", default: idleTimeoutMs)
        logLevel = agent.string(forKey: "log_level").flatMap(Logger.Level.init(rawValue:)) ?? logLevel
        clockOffsetMs = Int64(agent.int(forKey: "clock_offset_ms", default: Int(clockOffsetMs)))
        pruneMinOps = settings.reader.scoped(to: "prune").int(forKey: "min_ops", default: pruneMinOps)
        let plugins = try PluginSettings(settings: settings, defaultDirectories: pluginDirectories, defaultPollMs: pluginPollMs,
                                         extra: extraPluginDirectories)
        (pluginDirectories, pluginPollMs, declaredReducers) = (plugins.directories, plugins.pollMs, plugins.declared)
        try validate()
    }

    public func validate() throws(ConfigError) {
        func bad(_ key: String, _ problem: String) -> ConfigError { ConfigError(origin: "configuration", key: key, problem: problem) }
        guard BaseURL.isValid(tableURL) else {
            throw bad("agent.table_url", tableURL.isEmpty ? "is required: the table's base URL, e.g. http://127.0.0.1:4000/ (--table-url)"
                                                          : "must be http(s)://…/ ending in / with no query")
        }
        guard user > 0 else { throw bad("agent.user", "is required: a positive user id (--user)") }
        guard sessionToken != nil || master != nil else {
            throw bad("agent.session_token", "give a session token (--session-token, from `teabag admin new-session`) or the master (--master)")
        }
        if let port, !(0...65535).contains(port) { throw bad("agent.port", "must be from 0 to 65535, or -1 for none") }
        if let dashboardPort, !(0...65535).contains(dashboardPort) { throw bad("agent.dashboard_port", "must be from 0 to 65535, or -1 for none") }
        guard pruneMinOps >= 1 else { throw bad("prune.min_ops", "must be at least 1") }
        guard tableRefreshMs >= 100 else { throw bad("agent.table_refresh", "must be at least 100ms") }
        guard idleTimeoutMs >= 100 else { throw bad("agent.idle_timeout", "must be at least 100ms") }
        guard pluginPollMs >= 10 else { throw bad("plugins.poll_ms", "must be at least 10") }
        guard socketPath.utf8.count < 104 else {
            throw bad("agent.socket", "the socket path \(socketPath) is too long for a Unix socket (at most 103 bytes); use a shorter --socket or --data")
        }
    }

    /// The clock the client runtime reads: the machine's, moved by the
    /// test-only `clock_offset_ms`.
    public var clock: @Sendable () -> Int64 {
        let offset = clockOffsetMs
        return { @Sendable in WallClock.milliseconds() + offset }
    }

    /// The client runtime's configuration.
    public func clientConfiguration(storage: any ClientStorage) -> ClientConfiguration {
        let credential: ClientConfiguration.Credential = sessionToken.map { .session($0) }
            ?? .master(master ?? "", description: "teabag agent")
        var configuration = ClientConfiguration(tableURL: tableURL, user: user, credential: credential, storage: storage)
        configuration.channels = channels.isEmpty ? nil : channels
        configuration.policy.pruneMinOps = pruneMinOps
        configuration.tableRefresh = .milliseconds(tableRefreshMs)
        return configuration
    }
}
