/// What the table and the store do alike on PostgreSQL: open a pooled
/// client for a `postgresql://` URL, apply numbered migrations once across
/// instances, bound how long a request waits for the database, and tell
/// "the database is away" (503, retry) from a fault of the statement.
import Logging
import ServiceLifecycle
import PostgresNIO
import Synchronization
import TeaBagCore
import TeaBagServerKit

public enum PostgresSupport {
    /// A pooled client for `url`, and the logger to give the driver: never
    /// below notice, since the driver logs statements with their values at
    /// debug level (master hashes, token signatures, ops), which must never
    /// reach a log.
    public static func client(url: PostgresURL, connections: Int, logger: Logger) -> (PostgresClient, driverLogger: Logger) {
        var configuration = PostgresClient.Configuration(host: url.host, port: url.port, username: url.user, password: url.password,
                                                         database: url.database, tls: tls(url.tls))
        configuration.options.maximumConnections = connections
        configuration.options.connectTimeout = .seconds(3)
        var driverLogger = logger
        driverLogger.logLevel = max(logger.logLevel, .notice)
        return (PostgresClient(configuration: configuration, backgroundLogger: driverLogger), driverLogger)
    }

    public static func tls(_ mode: PostgresURL.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    // MARK: migrations

    /// Numbered migrations, each a list of statements (the extended protocol runs one at a time).
    public typealias Migrations = [(version: Int32, statements: [String])]

    /// The database's schema is newer than this teabag: nothing is served until teabag is upgraded.
    public struct SchemaTooNew: Error, CustomStringConvertible {
        public let schema: String
        public let version: Int32
        public let known: Int32
        public var description: String {
            "the database's \(schema) schema is version \(version), newer than this teabag knows (\(known)); upgrade teabag"
        }
    }

    /// Applies the migrations above the recorded version in one transaction
    /// under an advisory lock (`lockKey`), so instances starting at once over
    /// one database apply each exactly once.
    public static func migrate(_ client: PostgresClient, schema: String, versionsTable: String, lockKey: Int64,
                               migrations: Migrations, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockKey))", logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: """
                CREATE TABLE IF NOT EXISTS \(versionsTable) (version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())
                """), logger: logger)
            var current: Int32 = 0
            for try await version in try await connection.query(PostgresQuery(unsafeSQL: "SELECT coalesce(max(version), 0) FROM \(versionsTable)"),
                                                                logger: logger).decode(Int32.self) {
                current = version
            }
            let known = migrations.last?.version ?? 0
            guard current <= known else { throw SchemaTooNew(schema: schema, version: current, known: known) }
            for migration in migrations where migration.version > current {
                for statement in migration.statements {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query(PostgresQuery(unsafeSQL: "INSERT INTO \(versionsTable) (version) VALUES (\(migration.version))"),
                                           logger: logger)
                logger.notice("\(schema) schema migrated to version \(migration.version)")
            }
        }
    }

    // MARK: failures

    /// 503 `ServerError:DatabaseUnavailable` with `Retry-After: 1`.
    public static func unavailable(_ message: String) -> APIError {
        var refusal = APIError(.serverDatabaseUnavailable, message)
        refusal.headers[.retryAfter] = "1"
        return refusal
    }

    /// `work`'s result, or `DatabaseTimeout` once `patience` has passed (then `work` is cancelled, not awaited).
    public static func within<T: Sendable>(_ patience: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let race = Race<T>()
        return try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, work: work)
            Task {
                try? await Task.sleep(for: patience)
                race.finish(.failure(DatabaseTimeout()), cancelWork: true)
            }
        }
    }

    /// A continuation resumed by whichever comes first, the work or the deadline.
    final class Race<T: Sendable>: Sendable {
        private let state = Mutex<(continuation: CheckedContinuation<T, any Error>?, work: Task<Void, Never>?)>((nil, nil))

        func start(_ continuation: CheckedContinuation<T, any Error>, work: @escaping @Sendable () async throws -> T) {
            state.withLock { $0.continuation = continuation }
            let task = Task {
                do { self.finish(.success(try await work())) } catch { self.finish(.failure(error)) }
            }
            state.withLock { $0.work = task }
        }

        func finish(_ result: Result<T, any Error>, cancelWork: Bool = false) {
            let (continuation, work) = state.withLock { s in
                defer { s.continuation = nil }
                return (s.continuation, s.work)
            }
            guard let continuation else { return }
            continuation.resume(with: result)
            if cancelWork { work?.cancel() }
        }
    }

    public struct DatabaseTimeout: Error {}

    /// Whether a failure is the database being away (retry later), not a fault of the statement.
    public static func isUnavailable(_ error: any Error) -> Bool {
        guard let error = cause(error) as? PSQLError else { return true }  // not migrated, pool, timeout, cancellation, socket errors
        switch error.code {
        case .server:
            // 08: connection exception; 57P0x: shutting down or starting up; 53: out of resources;
            // 25006: read-only transaction (a standby, during a failover); 40001/40P01: retry the transaction.
            let state = error.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || state.hasPrefix("57P") || state.hasPrefix("53") || ["25006", "40001", "40P01"].contains(state)
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .uncleanShutdown, .poolClosed, .queryCancelled,
             .sslUnsupported, .failedToAddSSLHandler:
            return true
        default:
            return false
        }
    }

    /// What went wrong inside a transaction, rather than the wrapper saying so.
    public static func cause(_ error: any Error) -> any Error {
        guard let error = error as? PostgresTransactionError else { return error }
        return error.beginError ?? error.closureError ?? error.commitError ?? error.rollbackError ?? error
    }

    /// One line, never the password (PSQLError's description leaves out the server's text; ours adds it back).
    public static func describe(_ error: any Error) -> String {
        if error is PostgresTransactionError { return describe(cause(error)) }
        if let error = error as? PSQLError {
            let server = [error.serverInfo?[.sqlState], error.serverInfo?[.message]].compactMap { $0 }.joined(separator: " ")
            return "\(error.code)" + (server.isEmpty ? "" : ": \(server)") + (error.underlying.map { " (\($0))" } ?? "")
        }
        return "\(error)"
    }
}

/// One PostgreSQL database as a server process uses it: a connection pool
/// run as a service, the schema migrated at start (retried until the
/// database answers, so a server started before its database serves 503
/// until then instead of exiting), and each call bounded by `patience`.
public final class PostgresServerDatabase: Sendable {
    public let client: PostgresClient
    public let logger: Logger
    /// For the driver: never below notice (see `PostgresSupport.client`).
    public let driverLogger: Logger
    /// How long one call may wait for the database before it is answered 503.
    public let patience: Duration
    /// "table" or "store", for messages.
    let schema: String
    private let migrate: @Sendable (PostgresClient, Logger) async throws -> Void
    private let migration = Mutex<Task<Void, any Error>?>(nil)

    public init(url: PostgresURL, connections: Int, logger: Logger, patience: Duration, schema: String,
                migrate: @escaping @Sendable (PostgresClient, Logger) async throws -> Void) {
        (client, driverLogger) = PostgresSupport.client(url: url, connections: connections, logger: logger)
        self.logger = logger
        self.patience = patience
        self.schema = schema
        self.migrate = migrate
    }

    /// Runs the pool and, at once, the migrations, until shutdown.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    do {
                        try await self.migrated()
                        return
                    } catch {
                        if PostgresSupport.cause(error) is PostgresSupport.SchemaTooNew {
                            self.logger.error("\(PostgresSupport.cause(error))")
                        } else {
                            self.logger.warning("PostgreSQL not ready yet (\(Self.describe(error))); retrying")
                        }
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
                    }
                }
            }
        }
    }

    /// Applies the migrations once per process (again after a failure).
    public func migrated() async throws {
        let task = migration.withLock { task in
            if let task { return task }
            let client = client, logger = driverLogger, migrate = migrate
            let started = Task { try await migrate(client, logger) }
            task = started
            return started
        }
        do {
            try await task.value
        } catch {
            migration.withLock { if $0 == task { $0 = nil } }
            throw error
        }
    }

    /// Runs `body` once the schema is current, within `patience`; a database
    /// that cannot answer becomes 503 with Retry-After. The answer does not
    /// wait for a stuck connection to give up: `body` is left to finish or
    /// fail on its own, so a 503 means "not known to be done" — every write
    /// through here must be safe to repeat.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T) async throws -> T {
        let client = client, logger = driverLogger
        do {
            return try await PostgresSupport.within(patience) {
                do { try await self.migrated() } catch { throw NotMigrated(underlying: error) }
                return try await body(client, logger)
            }
        } catch let error as APIError {
            throw error
        } catch where PostgresSupport.isUnavailable(error) {
            self.logger.warning("PostgreSQL unavailable: \(Self.describe(error))")
            let message = ((error as? NotMigrated).map { PostgresSupport.cause($0.underlying) } as? PostgresSupport.SchemaTooNew)
                .map { "the \(schema)'s database cannot be used: \($0)" }
                ?? "the \(schema)'s database cannot be reached right now; retry shortly"
            throw PostgresSupport.unavailable(message)
        }
    }

    /// The schema could not be brought up to date: whatever the cause (no
    /// such database, a refused login), nothing can be served until it is.
    struct NotMigrated: Error { let underlying: any Error }

    /// One line, never the password.
    public static func describe(_ error: any Error) -> String {
        if let error = error as? NotMigrated { return "schema not migrated: " + describe(error.underlying) }
        return PostgresSupport.describe(error)
    }
}
