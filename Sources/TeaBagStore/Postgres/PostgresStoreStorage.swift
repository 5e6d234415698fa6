/// The store's users and oplogs in a PostgreSQL database that any number of
/// processes of one store share (`store.database: postgresql://…`).
///
/// Each request is one transaction (`PostgresMerge`), run on a pooled
/// connection, and answered only after COMMIT; a database that cannot be
/// reached within `store.database_timeout` gives 503
/// `ServerError:DatabaseUnavailable` with `Retry-After` (the transaction
/// may still commit later: a client's retry of it is then a noop, so
/// nothing acknowledged is lost and nothing is doubled).
/// Nothing about paths is kept in memory between requests.
import Foundation
import Logging
import NIOCore
import PostgresNIO
import ServiceLifecycle
import Synchronization
import TeaBagCore
import TeaBagPlugins
import TeaBagPostgres
import TeaBagServerKit

final class PostgresStoreStorage: StoreStorage, StreamSource, Service {
    let database: PostgresServerDatabase
    let plugins: PluginHost
    let folds: WriterFold
    let clock: @Sendable () -> Int64
    let counters: StoreCounters
    /// The least stream id this process issues next: the clock's
    /// `StreamIDs.runStart` when it started, and again after each time the
    /// database could not be reached. As SQLite's runs: a database restored
    /// from an older backup, or a failover to a replica that lost commits,
    /// cannot hand out again the ids a lost history gave clients (every
    /// process writing then sees the outage), so a resume from one of those
    /// is "beyond every id held" (resync) or lands before the new ops, never
    /// silently after some of them. Between outages a user's ids are consecutive.
    private let idFloor: Atomic<Int64>
    /// Hands this process's committed ops to its streams before the ack (the pump's `publishLocal`).
    let onCommit = Mutex<(@Sendable ([AcceptedOp]) -> Void)?>(nil)

    init(url: PostgresURL, connections: Int, patience: Duration, logger: Logger, plugins: PluginHost, gate: FoldGate,
         clock: @escaping @Sendable () -> Int64, counters: StoreCounters) {
        database = PostgresServerDatabase(url: url, connections: connections, logger: logger, patience: patience, schema: "store",
                                    migrate: PostgresStoreSchema.migrate)
        self.plugins = plugins
        folds = WriterFold(plugins: plugins, logger: logger, gate: gate)
        self.clock = clock
        self.counters = counters
        idFloor = Atomic(StreamIDs.runStart(lastID: 0, nowMs: clock()))
    }

    func run() async throws { await database.run() }

    // MARK: writes

    func submit(_ request: WriteRequest) {
        Task {
            let started = ContinuousClock.now
            let result: Result<[WriteOutcome], any Error>
            do {
                let (outcomes, accepted) = try await merge(request)
                // Listeners here first, as the SQLite writer does: a poll right after the ack sees the op.
                if !accepted.isEmpty, let publish = onCommit.withLock({ $0 }) { publish(accepted) }
                result = .success(outcomes)
                let elapsed: Duration = ContinuousClock.now - started
                counters.commit.record(elapsed)
                counters.commitBatch.record(Double(1))
            } catch let error as APIError {
                if error.name == ProtocolError.serverDatabaseUnavailable.name {
                    idFloor.store(StreamIDs.runStart(lastID: 0, nowMs: clock()), ordering: .relaxed)
                }
                result = .failure(error)
            } catch {
                database.logger.error("store transaction failed: \(PostgresServerDatabase.describe(error))")
                result = .failure(APIError.internal())
            }
            if let loop = request.loop { loop.execute { request.completion(result) } } else { request.completion(result) }
        }
    }

    private func merge(_ request: WriteRequest) async throws -> (outcomes: [WriteOutcome], accepted: [AcceptedOp]) {
        let plugins = self.plugins, folds = self.folds, floor = idFloor.load(ordering: .relaxed)
        return try await database.perform { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                var merge = PostgresMerge(connection: connection, logger: logger, user: request.user, plugins: plugins, folds: folds, idFloor: floor)
                return try await merge.run(request.entries)
            }
        }
    }

    // MARK: users

    func user(_ id: Int64) async throws -> StoreUser? {
        try await database.perform { client, logger in
            guard let (tableURL, ids) = try await client.query("SELECT table_url, store_ids FROM store_users WHERE id = \(id)", logger: logger)
                .decode((String?, String).self).first(where: { _ in true }) else { return nil }
            return StoreUser(id: id, tableURL: tableURL, storeIDs: (try? JSONDecoder().decode([String].self, from: Data(ids.utf8))) ?? [])
        }
    }

    func createUser(_ id: Int64, now: Int64) async throws {
        try await database.perform { client, logger in
            _ = try await client.query("INSERT INTO store_users (id, created_ms) VALUES (\(id), \(now)) ON CONFLICT (id) DO NOTHING", logger: logger)
        }
    }

    func confirm(user id: Int64, code: String, expiry: Int64, tableURL: String, storeID: String?, now: Int64) async throws -> Bool {
        let codeBytes = ByteBuffer(string: code)
        return try await database.perform { client, logger in
            try await client.withTransaction(logger: logger) { connection in
                guard let ids = try await connection.query("SELECT store_ids FROM store_users WHERE id = \(id) FOR UPDATE", logger: logger)
                    .decode(String.self).first(where: { _ in true }) else { return false }
                try await connection.query("DELETE FROM store_used_codes WHERE expiry_ms < \(now)", logger: logger)
                let spent = try await connection.query("""
                    INSERT INTO store_used_codes (user_id, code, expiry_ms) VALUES (\(id), \(codeBytes), \(expiry))
                    ON CONFLICT DO NOTHING RETURNING 1
                    """, logger: logger).decode(Int32.self).first(where: { _ in true }) == nil
                if spent { return false }
                var user = StoreUser(id: id, tableURL: tableURL, storeIDs: (try? JSONDecoder().decode([String].self, from: Data(ids.utf8))) ?? [])
                if let storeID, !user.storeIDs.contains(storeID) { user.storeIDs.append(storeID) }
                try await connection.query("UPDATE store_users SET table_url = \(tableURL), store_ids = \(user.storeIDsText) WHERE id = \(id)",
                                           logger: logger)
                // Other instances drop their cached copy of the user.
                try await connection.query("SELECT pg_notify(\(PostgresStreamPump.channel), \(PostgresStreamPump.userChanged(id)))", logger: logger)
                return true
            }
        }
    }

    // MARK: reads

    func heldPath(user: Int64, type: String, path: String) async throws -> HeldPath? {
        try await database.perform { client, logger in
            try await Self.heldPath(client, logger, user: user, type: type, path: path)
        }
    }

    private static func heldPath(_ client: PostgresClient, _ logger: Logger, user: Int64, type: String, path: String) async throws -> HeldPath? {
        // One statement: the base and the ops are one snapshot.
        var base: Op?
        var pathID: Int64 = 0
        var ops: [Op] = []
        for try await row in try await client.query("""
            SELECT p.id, p.base, l.date, l.sha, l.node, l.nseq, l.payload, l.value, l.covers, l.extra
            FROM store_paths p LEFT JOIN store_log l ON l.path_id = p.id AND l.payload IS NOT NULL
            WHERE p.user_id = \(user) AND p.type = \(ByteBuffer(string: type)) AND p.path = \(ByteBuffer(string: path))
            """, logger: logger).decode((Int64, ByteBuffer, Int64?, ByteBuffer?, ByteBuffer?, Int64?, ByteBuffer?, ByteBuffer?, ByteBuffer?, ByteBuffer?).self) {
            if base == nil {
                pathID = row.0
                base = try Op(jsonBytes: Array(buffer: row.1), maxDepth: 512)
            }
            guard let date = row.2, let sha = row.3 else { continue }
            ops.append(try OpRow.op(PostgresLogRow.columns(date, sha, row.4, row.5, row.6, row.7, row.8, row.9)))
        }
        guard let base else { return nil }
        ops.sort { MergeRules.orderKey($0, base: base) < MergeRules.orderKey($1, base: base) }
        return HeldPath(id: pathID, base: base, ops: ops)
    }

    func value(user: Int64, type: String, path: String, version: String) async throws -> StoredValue {
        try await database.perform { client, logger in
            guard let row = try await client.query("""
                SELECT base, value, value_version, value_date, value_sha FROM store_paths
                WHERE user_id = \(user) AND type = \(ByteBuffer(string: type)) AND path = \(ByteBuffer(string: path))
                """, logger: logger).decode((ByteBuffer, ByteBuffer?, String?, Int64?, ByteBuffer?).self).first(where: { _ in true }) else {
                return .ready(StoredValue.never)
            }
            if row.2 == version, let text = row.1, let value = try? JSON.parse(Array(buffer: text), maxDepth: 512) {
                let base = try Op(jsonBytes: Array(buffer: row.0), maxDepth: 512)
                return .ready(["value": value, "date": .number(Double(row.3 ?? base.date)),
                               "sha": .string(row.4.map { String(buffer: $0) } ?? base.sha)])
            }
            guard let held = try await Self.heldPath(client, logger, user: user, type: type, path: path) else { return .ready(StoredValue.never) }
            return .fold(held)
        }
    }

    // MARK: streams

    /// Never known without the database: another instance may have issued ids since.
    func immediatePlan(user: Int64, after lastEventID: Int64) -> ResumePlan? { lastEventID == 0 ? .after(0) : nil }

    /// An id above every id the user's history issued is from another
    /// history (a restored database, another store): resync. Ids at or
    /// below it resume after it, as SQLite's current run does.
    func plan(user: Int64, after lastEventID: Int64) async throws -> ResumePlan {
        let newest = try await database.perform { client, logger in
            try await client.query("SELECT last_stream_id FROM store_users WHERE id = \(user)", logger: logger)
                .decode(Int64.self).first(where: { _ in true }) ?? 0
        }
        return lastEventID > newest ? .resync(after: lastEventID) : .after(lastEventID)
    }

    func historyPage(user: Int64, after: Int64) async throws -> [StreamFrame] {
        try await page(user: user, after: after).map { StreamFrame($0) }
    }

    /// Up to `StreamHistory.pageSize` committed ops of `user` above `after`, in id order.
    func page(user: Int64, after: Int64) async throws -> [AcceptedOp] {
        try await database.perform { client, logger in
            var ops: [AcceptedOp] = []
            for try await row in try await client.query("""
                SELECT l.id, p.type, p.path, l.date, l.sha, l.node, l.nseq, l.payload, l.value, l.covers, l.extra
                FROM store_log l JOIN store_paths p ON p.id = l.path_id
                WHERE l.user_id = \(user) AND l.id > \(after) ORDER BY l.id LIMIT \(StreamHistory.pageSize)
                """, logger: logger).decode((Int64, ByteBuffer, ByteBuffer, Int64, ByteBuffer, ByteBuffer?, Int64?, ByteBuffer?, ByteBuffer?, ByteBuffer?, ByteBuffer?).self) {
                let columns = PostgresLogRow.columns(row.3, row.4, row.5, row.6, row.7, row.8, row.9, row.10)
                let op = try OpRow.op(columns)
                let type = String(buffer: row.1), path = String(buffer: row.2)
                ops.append(AcceptedOp(user: user, id: row.0, type: type, path: path, op: op,
                                      entryText: OpText.entry(op, columns: columns, type: type, path: path)))
            }
            return ops
        }
    }
}
