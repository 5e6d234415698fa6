/// One request's merge (docs/sync.md#oplog-rules) in one PostgreSQL transaction, with the
/// same rules (`MergeRules`) and the same folds (`WriterFold`) as the
/// SQLite writer.
///
/// Writers of one user are serialised across every instance by locking the
/// user's row (`SELECT … FOR UPDATE`) first: the row holds the user's stream
/// counter, which must be read and advanced by one writer at a time anyway,
/// and a row lock is held to COMMIT, so ids are handed out in commit order —
/// a listener reading "ids above the last one seen" never skips an op that
/// commits late (a sequence would: its numbers are taken at INSERT, not at
/// COMMIT). With the user locked, reading a path's base and held shas inside
/// the transaction is exact: no other writer can change them before we
/// commit. Different users never wait for each other.
///
/// Nothing is cached between transactions: another instance may have
/// written any path since.
import Logging
import NIOCore
import PostgresNIO
import TeaBagCore
import TeaBagPlugins
import TeaBagServerKit

struct PostgresMerge {
    let connection: PostgresConnection
    let logger: Logger
    let user: Int64
    let plugins: PluginHost
    let folds: WriterFold
    let idFloor: Int64

    private var paths: [PathKey: PathState] = [:]
    /// Shas of payload ops inserted by this transaction, per path (the database has the rest).
    private var inserted: [PathKey: Set<[UInt8]>] = [:]
    private var touched: [PathState] = []
    private var lastID: Int64 = 0
    private var accepted: [AcceptedOp] = []

    init(connection: PostgresConnection, logger: Logger, user: Int64, plugins: PluginHost, folds: WriterFold, idFloor: Int64) {
        self.connection = connection
        self.logger = logger
        self.user = user
        self.plugins = plugins
        self.folds = folds
        self.idFloor = idFloor
    }

    /// Merges `entries` in order; the caller's transaction commits after.
    /// Returns the outcomes and the accepted ops (for the notification).
    mutating func run(_ entries: [WriteEntry]) async throws -> (outcomes: [WriteOutcome], accepted: [AcceptedOp]) {
        guard let last = try await connection.query("SELECT last_stream_id FROM store_users WHERE id = \(user) FOR UPDATE", logger: logger)
            .decode(Int64.self).first(where: { _ in true }) else {
            throw APIError(.userNotFound, "no user \(user) on this store (the store admin creates it: PUT /admin/user/\(user))")
        }
        lastID = last
        var outcomes: [WriteOutcome] = []
        outcomes.reserveCapacity(entries.count)
        for entry in entries { outcomes.append(try await merge(entry)) }
        try await finishTouchedPaths()
        if !accepted.isEmpty {
            try await connection.query("UPDATE store_users SET last_stream_id = \(lastID) WHERE id = \(user)", logger: logger)
            // Delivered to every instance's LISTEN when (and only if) this commits, in commit order.
            let payload = PostgresStreamPump.payload(user: user, accepted: accepted)
            try await connection.query("SELECT pg_notify(\(PostgresStreamPump.channel), \(payload))", logger: logger)
        }
        return (outcomes, accepted)
    }

    /// The next stream id: the last plus one, and not below this process's
    /// run floor (see `PostgresStoreStorage.idFloor`). Below 2^53 until the year 2302.
    private mutating func nextID() -> Int64 {
        lastID = max(lastID + 1, idFloor)
        return lastID
    }

    private mutating func merge(_ entry: WriteEntry) async throws -> WriteOutcome {
        let key = PathKey(user: user, type: entry.type, path: entry.path)
        let op: Op
        switch entry.item {
        case .refused(let sha, let error):
            // A refused op changes nothing, not even by creating its path.
            guard let sha else { return .refused(error) }
            if Bytewise.equal(sha, Op.emptySHA) { return .noop }
            guard let state = try await existingPathState(key) else { return .refused(error) }
            return try await held(sha, in: state) ? .noop : .refused(error)
        case .merge(let admitted):
            op = admitted
        }
        let state = try await pathState(key)
        let alreadyHeld = try await held(op.sha, in: state)
        switch MergeRules.decide(op, base: state.base, alreadyHeld: alreadyHeld) {
        case .noop:
            return .noop
        case .keep:
            let (id, columns) = try await insert(op, state: state)
            inserted[key, default: []].insert(columns.sha)
            state.foldLater(op, reducer: plugins.reducer(for: entry.type))
            markTouched(state)
            accepted.append(Self.accepted(user: user, id: id, entry: entry, op: op, columns: columns))
            return .accepted(id: id)
        case .replaceBase:
            let (id, columns) = try await replaceBase(of: state, with: op, type: entry.type)
            markTouched(state)
            state.baseChanged = true
            accepted.append(Self.accepted(user: user, id: id, entry: entry, op: op, columns: columns))
            return .accepted(id: id)
        }
    }

    private static func accepted(user: Int64, id: Int64, entry: WriteEntry, op: Op, columns: OpRow.Columns) -> AcceptedOp {
        AcceptedOp(user: user, id: id, type: entry.type, path: entry.path, op: op,
                   entryText: OpText.entry(op, columns: columns, type: entry.type, path: entry.path))
    }

    /// Rule 1: the base's sha, or a payload op of the path (bytewise).
    private func held(_ sha: String, in state: PathState) async throws -> Bool {
        if Bytewise.equal(sha, state.base.sha) { return true }
        let encoded = SHAColumn.encode(sha)
        if inserted[state.key]?.contains(encoded) == true { return true }
        let bytes = ByteBuffer(bytes: encoded)
        return try await connection.query("""
            SELECT 1 FROM store_log WHERE path_id = \(state.id) AND sha = \(bytes) AND payload IS NOT NULL LIMIT 1
            """, logger: logger).decode(Int32.self).first(where: { _ in true }) != nil
    }

    private mutating func insert(_ op: Op, state: PathState) async throws -> (id: Int64, columns: OpRow.Columns) {
        let id = nextID()
        let columns = OpRow.columns(of: op)
        try await connection.query("""
            INSERT INTO store_log (user_id, id, path_id, date, sha, node, nseq, payload, value, covers, extra)
            VALUES (\(user), \(id), \(state.id), \(columns.date), \(ByteBuffer(bytes: columns.sha)), \(columns.node.map { ByteBuffer(string: $0) }),
                    \(columns.nseq), \(columns.payload.map { ByteBuffer(bytes: $0) }), \(columns.value.map { ByteBuffer(bytes: $0) }),
                    \(columns.covers.map { ByteBuffer(bytes: $0) }), \(columns.extra.map { ByteBuffer(bytes: $0) }))
            """, logger: logger)
        return (id, columns)
    }

    private mutating func replaceBase(of state: PathState, with op: Op, type: String) async throws -> (Int64, OpRow.Columns) {
        var kept: [Op] = []
        var gone: [Int64] = []
        for try await row in try await connection.query("""
            SELECT id, date, sha, node, nseq, payload, value, covers, extra FROM store_log WHERE path_id = \(state.id)
            """, logger: logger).decode((Int64, Int64, ByteBuffer, ByteBuffer?, Int64?, ByteBuffer?, ByteBuffer?, ByteBuffer?, ByteBuffer?).self) {
            let held = try OpRow.op(PostgresLogRow.columns(row.1, row.2, row.3, row.4, row.5, row.6, row.7, row.8))
            if held.isValueOp || MergeRules.isCovered(held, by: op) { gone.append(row.0) } else { kept.append(held) }
        }
        if !gone.isEmpty {
            try await connection.query("DELETE FROM store_log WHERE user_id = \(user) AND id = ANY(\(gone))", logger: logger)
        }
        inserted[state.key] = []
        let (id, columns) = try await insert(op, state: state)
        state.baseRow = id
        state.base = op
        kept.sort { MergeRules.orderKey($0, base: op) < MergeRules.orderKey($1, base: op) }
        state.refold(ops: kept, reducer: plugins.reducer(for: type), folds: folds)
        return (id, columns)
    }

    private mutating func markTouched(_ state: PathState) {
        if !state.dirty {
            state.dirty = true
            touched.append(state)
        }
    }

    /// One fold per path for its new ops, and its row written once.
    private mutating func finishTouchedPaths() async throws {
        for state in touched {
            if !state.pending.isEmpty, let value = state.value, let reducer = plugins.reducer(for: state.key.type),
               let outcome = folds.fold(state.key, with: reducer, state: value, ops: state.pending[...]) {
                state.value = outcome.value
                state.skipped += outcome.skipped.count
                state.valueDate = state.pending.last!.date
                state.valueSHA = state.pending.last!.sha
            } else if !state.pending.isEmpty {
                state.markStale()
            }
            state.pending.removeAll()
            let base = state.baseChanged ? ByteBuffer(bytes: state.base.json.canonicalBytes) : nil
            try await connection.query("""
                UPDATE store_paths SET base = coalesce(\(base), base), value = \(state.value.map { ByteBuffer(bytes: $0.canonicalBytes) }),
                    value_version = \(state.valueVersion), value_date = \(state.valueDate), value_sha = \(ByteBuffer(string: state.valueSHA)),
                    last_date = \(state.lastKey?.date), last_sha = \(state.lastKey.map { ByteBuffer(string: $0.sha) }), skipped = \(Int64(state.skipped))
                WHERE id = \(state.id)
                """, logger: logger)
        }
        touched.removeAll()
    }

    // MARK: path state, read inside the transaction

    private mutating func pathState(_ key: PathKey) async throws -> PathState {
        if let state = try await existingPathState(key) { return state }
        let id = try await connection.query("""
            INSERT INTO store_paths (user_id, type, path, base) VALUES (\(user), \(ByteBuffer(string: key.type)), \(ByteBuffer(string: key.path)),
                \(ByteBuffer(bytes: Self.emptyBaseText))) RETURNING id
            """, logger: logger).decode(Int64.self).first(where: { _ in true })!
        let state = PathState(id: id, key: key, base: .empty, baseRow: nil, shas: ShaIndex())
        // The empty base's value, null, is the fold of nothing: materialized already.
        if let reducer = plugins.reducer(for: key.type) {
            state.value = .null
            state.valueVersion = tag(reducer)
        }
        paths[key] = state
        return state
    }

    private mutating func existingPathState(_ key: PathKey) async throws -> PathState? {
        if let state = paths[key] { return state }
        guard let row = try await connection.query("""
            SELECT id, base, value, value_version, value_date, value_sha, last_date, last_sha, skipped
            FROM store_paths WHERE user_id = \(user) AND type = \(ByteBuffer(string: key.type)) AND path = \(ByteBuffer(string: key.path))
            """, logger: logger).decode((Int64, ByteBuffer, ByteBuffer?, String?, Int64?, ByteBuffer?, Int64?, ByteBuffer?, Int64).self)
            .first(where: { _ in true }) else { return nil }
        let base = try Op(jsonBytes: Array(buffer: row.1), maxDepth: 512)
        let state = PathState(id: row.0, key: key, base: base, baseRow: nil, shas: ShaIndex())
        state.value = try row.2.map { try JSON.parse(Array(buffer: $0), maxDepth: 512) }
        state.valueVersion = row.3
        state.valueDate = row.4 ?? base.date
        state.valueSHA = row.5.map { String(buffer: $0) } ?? base.sha
        state.lastKey = row.6.flatMap { date in row.7.map { MergeRules.OrderKey(date: date, sha: String(buffer: $0)) } }
        state.skipped = Int(row.8)
        paths[key] = state
        return state
    }

    private static let emptyBaseText = Op.empty.json.canonicalBytes
}

/// A `store_log` row's op columns, as PostgresNIO decodes them.
enum PostgresLogRow {
    static let columnList = "date, sha, node, nseq, payload, value, covers, extra"
    typealias Decoded = (Int64, ByteBuffer, ByteBuffer?, Int64?, ByteBuffer?, ByteBuffer?, ByteBuffer?, ByteBuffer?)

    static func columns(_ date: Int64, _ sha: ByteBuffer, _ node: ByteBuffer?, _ nseq: Int64?, _ payload: ByteBuffer?,
                        _ value: ByteBuffer?, _ covers: ByteBuffer?, _ extra: ByteBuffer?) -> OpRow.Columns {
        OpRow.Columns(date: date, sha: Array(buffer: sha), node: node.map { String(buffer: $0) }, nseq: nseq,
                      payload: payload.map { Array(buffer: $0) }, value: value.map { Array(buffer: $0) },
                      covers: covers.map { Array(buffer: $0) }, extra: extra.map { Array(buffer: $0) })
    }
}
