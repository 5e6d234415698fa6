/// The table's state in a PostgreSQL database that any number of table
/// processes share (`table.database: postgresql://…`).
///
/// Nothing about sessions, users or mount tables is kept in memory here:
/// each call is one statement (or one transaction) against the database, so
/// whichever instance answers sees every other instance's changes at once —
/// a session revoked on one is refused by all from the moment the revoke is
/// answered, a new master locks out old sessions everywhere, an enrollment
/// is seen by every instance's store-token checks. The cost is a round trip
/// per check, and a check writes its sliding `last_check` (one row, no index
/// touched, so a HOT update) when it moved by more than min(1 s, 1% of the
/// timeout). Stores keep their own cache of verified
/// tokens, so a table check is their first sight of a token, not every
/// request.
///
/// A database that cannot be reached (down, failing over, too slow) gives
/// 503 `ServerError:DatabaseUnavailable` with `Retry-After`; the process
/// keeps serving and recovers when the database is back.
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization
import TeaBagServerKit

final class PostgresTableStorage: TableStorage, Service {
    let client: PostgresClient
    let logger: Logger
    /// For the driver: never below notice (see `init`).
    let driverLogger: Logger
    /// How long one call may wait for the database before it is answered 503.
    let patience: Duration
    private let migration = Mutex<Task<Void, any Error>?>(nil)
    /// When expired sessions were last deleted (they are refused by every
    /// query long before; this only keeps the table small).
    private let lastSweep = Mutex<Int64>(0)
    static let sweepEveryMs: Int64 = 60_000

    init(url: PostgresURL, connections: Int, logger: Logger, patience: Duration = .seconds(5)) {
        var configuration = PostgresClient.Configuration(host: url.host, port: url.port, username: url.user, password: url.password,
                                                         database: url.database, tls: Self.tls(url.tls))
        configuration.options.maximumConnections = connections
        configuration.options.connectTimeout = .seconds(3)
        // The driver logs statements with their values at debug level: master
        // hashes and token signatures, which must never reach a log.
        var driverLogger = logger
        driverLogger.logLevel = max(logger.logLevel, .notice)
        self.client = PostgresClient(configuration: configuration, backgroundLogger: driverLogger)
        self.logger = logger
        self.driverLogger = driverLogger
        self.patience = patience
    }

    static func tls(_ mode: PostgresURL.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    /// Runs the connection pool and, at once, the migrations (retried until
    /// the database answers, so a table started before its database comes
    /// up serves 503 until then instead of exiting).
    func run() async throws {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    do {
                        try await self.migrated()
                        return
                    } catch {
                        if Self.cause(error) is PostgresTableSchema.TooNew {
                            self.logger.error("\(Self.cause(error))")
                        } else {
                            self.logger.warning("PostgreSQL not ready yet (\(Self.describe(error))); retrying")
                        }
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
                    }
                }
            }
        }
    }

    // MARK: TableStorage

    func masterHash(user: Int64) async throws -> String? {
        try await perform { client, logger in
            try await client.query("SELECT master_hash FROM table_users WHERE id = \(user)", logger: logger)
                .decode(String.self).first(where: { _ in true })
        }
    }

    func setMaster(user: Int64, hash: String, now: Int64) async throws {
        try await perform { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                try await connection.query("""
                    INSERT INTO table_users (id, master_hash, created_ms, updated_ms) VALUES (\(user), \(hash), \(now), \(now))
                    ON CONFLICT (id) DO UPDATE SET master_hash = excluded.master_hash, updated_ms = excluded.updated_ms
                    """, logger: logger)
                try await connection.query("DELETE FROM table_sessions WHERE user_id = \(user)", logger: logger)
            }
        }
    }

    func insert(session: SessionRow) async throws -> Bool {
        let description = ByteBuffer(string: session.description)
        return try await perform { client, logger in
            try await client.query("""
                INSERT INTO table_sessions (signature, user_id, created_ms, timeout_ms, description, last_check_ms)
                VALUES (\(session.signature), \(session.user), \(session.created), \(session.timeout), \(description), \(session.lastCheck))
                ON CONFLICT (signature) DO NOTHING RETURNING 1
                """, logger: logger).decode(Int32.self).first(where: { _ in true }) != nil
        }
    }

    func liveSessions(user: Int64, now: Int64) async throws -> [SessionRow] {
        try await perform { client, logger in
            var rows: [SessionRow] = []
            for try await (signature, created, timeout, description, lastCheck) in try await client.query("""
                SELECT signature, created_ms, timeout_ms, description, last_check_ms FROM table_sessions
                WHERE user_id = \(user) AND last_check_ms + timeout_ms >= \(now) ORDER BY created_ms, signature COLLATE "C"
                """, logger: logger).decode((String, Int64, Int64, ByteBuffer, Int64).self) {
                rows.append(SessionRow(signature: signature, user: user, created: created, timeout: timeout,
                                       description: String(buffer: description), lastCheck: lastCheck))
            }
            return rows
        }
    }

    /// One round trip. The last check is written only when it moved by more
    /// than min(1 s, 1% of the timeout): a check of a session checked just
    /// before is a read (no commit to wait for, no row lock shared by every
    /// check of a busy session), and a session expires at most that much
    /// early — never late.
    func refresh(signature: String, now: Int64) async throws -> Bool {
        try await perform { client, logger in
            try await client.query("""
                WITH live AS (
                    SELECT signature, last_check_ms, timeout_ms FROM table_sessions
                    WHERE signature = \(signature) AND last_check_ms + timeout_ms >= \(now)
                ), refreshed AS (
                    UPDATE table_sessions SET last_check_ms = GREATEST(table_sessions.last_check_ms, \(now)) FROM live
                    WHERE table_sessions.signature = live.signature
                      AND live.last_check_ms < \(now) - LEAST(\(Self.refreshGranularityMs), live.timeout_ms / 100)
                    RETURNING 1
                )
                SELECT count(*) FROM live
                """, logger: logger).decode(Int64.self).first(where: { _ in true }) == 1
        }
    }

    /// The most a stored last check may lag the real one (see `refresh`).
    static let refreshGranularityMs: Int64 = 1_000

    func deleteSession(signature: String) async throws {
        try await perform { client, logger in
            _ = try await client.query("DELETE FROM table_sessions WHERE signature = \(signature)", logger: logger)
        }
    }

    func maintain(now: Int64) async throws -> Int {
        let sweep = lastSweep.withLock { last in
            guard now - last >= Self.sweepEveryMs || now < last else { return false }
            last = now
            return true
        }
        return try await perform { client, logger in
            if sweep {
                try await client.query("DELETE FROM table_sessions WHERE last_check_ms + timeout_ms < \(now)", logger: logger)
            }
            return try await client.query("SELECT count(*) FROM table_sessions WHERE last_check_ms + timeout_ms >= \(now)", logger: logger)
                .decode(Int64.self).first(where: { _ in true }).map(Int.init) ?? 0
        }
    }

    func stores(user: Int64) async throws -> [StoreRecord] {
        try await perform { client, logger in
            var records: [StoreRecord] = []
            for try await (channel, storeID, url, code, created) in try await client.query("""
                SELECT channel, store_id, url, code, created_ms FROM table_stores WHERE user_id = \(user)
                ORDER BY channel COLLATE "C", created_ms, store_id COLLATE "C"
                """, logger: logger).decode((String, String, String, ByteBuffer, Int64).self) {
                records.append(StoreRecord(channel: channel, storeID: storeID, url: url, code: String(buffer: code), created: created))
            }
            return records
        }
    }

    func enrolledStoreIDs(user: Int64) async throws -> Set<String> {
        try await perform { client, logger in
            var ids: Set<String> = []
            for try await id in try await client.query("SELECT store_id FROM table_stores WHERE user_id = \(user)", logger: logger).decode(String.self) {
                ids.insert(id)
            }
            return ids
        }
    }

    func upsert(user: Int64, store: StoreRecord) async throws {
        let code = ByteBuffer(string: store.code)
        try await perform { client, logger in
            _ = try await client.query("""
                INSERT INTO table_stores (user_id, channel, store_id, url, code, created_ms)
                VALUES (\(user), \(store.channel), \(store.storeID), \(store.url), \(code), \(store.created))
                ON CONFLICT (user_id, channel, store_id) DO UPDATE SET url = excluded.url, code = excluded.code, created_ms = excluded.created_ms
                """, logger: logger)
        }
    }

    func deleteStore(user: Int64, channel: String, storeID: String) async throws {
        try await perform { client, logger in
            _ = try await client.query("DELETE FROM table_stores WHERE user_id = \(user) AND channel = \(channel) AND store_id = \(storeID)", logger: logger)
        }
    }

    func deleteChannel(user: Int64, channel: String) async throws {
        try await perform { client, logger in
            _ = try await client.query("DELETE FROM table_stores WHERE user_id = \(user) AND channel = \(channel)", logger: logger)
        }
    }

    // MARK: migrations and failures

    /// Applies the migrations once per process (again after a failure).
    func migrated() async throws {
        let task = migration.withLock { task in
            if let task { return task }
            let started = Task { try await PostgresTableSchema.migrate(client, logger: driverLogger) }
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
    /// here is safe to repeat.
    private func perform<T: Sendable>(_ body: @escaping @Sendable (PostgresClient, Logger) async throws -> T) async throws -> T {
        let client = client, logger = driverLogger
        do {
            return try await Self.within(patience) {
                do { try await self.migrated() } catch { throw NotMigrated(underlying: error) }
                return try await body(client, logger)
            }
        } catch let error as APIError {
            throw error
        } catch where Self.isUnavailable(error) {
            self.logger.warning("PostgreSQL unavailable: \(Self.describe(error))")
            let message = ((error as? NotMigrated).map { Self.cause($0.underlying) } as? PostgresTableSchema.TooNew).map { "the table's database cannot be used: \($0)" }
                ?? "the table's database cannot be reached right now; retry shortly"
            var refusal = APIError(.serverDatabaseUnavailable, message)
            refusal.headers[.retryAfter] = "1"
            throw refusal
        }
    }

    /// `work`'s result, or `DatabaseTimeout` once `patience` has passed (then `work` is cancelled, not awaited).
    static func within<T: Sendable>(_ patience: Duration, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
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

    struct DatabaseTimeout: Error {}
    /// The schema could not be brought up to date: whatever the cause (no
    /// such database, a refused login), nothing can be served until it is.
    struct NotMigrated: Error { let underlying: any Error }

    /// Whether a failure is the database being away (retry later), not a fault of the statement.
    static func isUnavailable(_ error: any Error) -> Bool {
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
    static func cause(_ error: any Error) -> any Error {
        guard let error = error as? PostgresTransactionError else { return error }
        return error.beginError ?? error.closureError ?? error.commitError ?? error.rollbackError ?? error
    }

    /// One line, never the password (PSQLError's description leaves out the server's text; ours adds it back).
    static func describe(_ error: any Error) -> String {
        if let error = error as? NotMigrated { return "schema not migrated: " + describe(error.underlying) }
        if error is PostgresTransactionError { return describe(cause(error)) }
        if let error = error as? PSQLError {
            let server = [error.serverInfo?[.sqlState], error.serverInfo?[.message]].compactMap { $0 }.joined(separator: " ")
            return "\(error.code)" + (server.isEmpty ? "" : ": \(server)") + (error.underlying.map { " (\($0))" } ?? "")
        }
        return "\(error)"
    }
}
