/// The table's settings (conf.d section `table`, docs/configuration.md). Each key is read
/// here and nowhere else:
///
/// - `table.host` (string, default `127.0.0.1`): address to bind.
/// - `table.port` (int, default `4000`; `TEABAG_TABLE_PORT`): 0 picks a free port.
/// - `table.data` (string, default `data/table`; `TEABAG_DATA`): directory of `table.sqlite` and the generated key.
/// - `table.database` (string; `TEABAG_TABLE_DATABASE`): unset, the table keeps its state in `<data>/table.sqlite`
///   (one table process); `postgresql://user[:password]@host[:port]/database[?sslmode=…]`, in that PostgreSQL
///   database, which any number of table processes may share.
/// - `table.database_connections` (int, default 10): the most connections one table process opens to PostgreSQL.
/// - `table.database_timeout` (duration, default 5s): how long a request waits for PostgreSQL before 503.
/// - `table.key` (string; `TEABAG_TABLE_KEY`): admin key and token-signing key, at least 16 characters;
///   generated into `<data>/table.key` (mode 0600) when unset.
/// - `table.url` (string; `TEABAG_TABLE_URL`): the public base sent to stores (`http(s)://…/`);
///   default `http://<host>:<bound port>/`.
/// - `table.body_limit` (int, default 1 MiB): larger bodies get 413.
/// - `table.master_hash_rounds` (int, default 100,000): PBKDF2 rounds of new master hashes.
/// - `table.confirm_timeout_ms` (int, default 10,000): how long enrollment waits for a store.
/// - `table.idle_timeout` (duration, default 75s): a connection that delivers no complete request
///   head or body part for this long is closed (slowloris, a body shorter than its Content-Length);
///   longer than clients keep idle connections (AsyncHTTPClient: 60 s), so none sends on a closing one.
/// - `table.auth_failures` (int, default 20; 0: no limit) and `table.auth_failure_window` (duration,
///   default 60s): an address answered that many 401s within the window gets 429 until it ends.
/// - `table.log_level` (default `info`).
import Configuration
import Foundation
import Logging
import TeaBagConfig
import TeaBagCore
import TeaBagServerKit

public struct TableConfiguration: Sendable {
    public var host = "127.0.0.1"
    public var port = 4000
    public var dataDirectory = "data/table"
    public var key: String?
    /// `postgresql://…`, or nil for the SQLite file in the data directory.
    public var database: String?
    public var databaseConnections = 10
    /// How long a request waits for PostgreSQL before it is answered 503 `ServerError:DatabaseUnavailable`.
    public var databaseTimeoutMs = 5_000
    public var publicURL: String?
    public var bodyLimit = 1 << 20
    public var masterHashRounds = 100_000
    public var confirmTimeoutMs = 10_000
    public var idleTimeoutMs = 75_000
    public var authFailures = FailureLimiter.Settings()
    public var logLevel: Logger.Level = .info

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
