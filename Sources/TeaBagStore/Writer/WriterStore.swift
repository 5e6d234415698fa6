/// The store's oplogs as the writer thread sees them: its own SQLite
/// connection with prepared statements, the cached state of recently
/// written paths, and the merge of docs/sync.md#oplog-rules inside one transaction.
///
/// Confined to the writer thread; nothing here is shared.
import Foundation
import Logging
import TeaBagCore
import TeaBagPlugins
import TeaBagServerKit

final class WriterStore {
    let db: SQLiteConnection
    let ids: StreamIDs
    private let plugins: PluginHost
    private let folds: WriterFold
    private var paths: [PathKey: PathState] = [:]
    /// Paths written in the transaction in progress.
    private var touched: [PathState] = []
    private var nextID: Int64
    /// Paths kept in memory at most; past it the cache starts again (a
    /// path costs about 200 bytes plus 25 per held op).
    static let maxCachedPaths = 100_000

    private let walPath: String
    private var nextWALCheck = ContinuousClock.now

    init(path: String, durability: Durability, plugins: PluginHost, gate: FoldGate, logger: Logger, nowMs: Int64) throws {
        db = try SQLiteConnection(path: path)
        walPath = path + "-wal"
        // The writer's working set is the log's last pages, the `log_path`
        // index pages of the paths being written, and their `paths` rows:
        // 16 MiB of page cache holds it for tens of thousands of active
        // paths, and bounds what the cache adds to the store's memory.
        try db.execute("""
            PRAGMA journal_mode = WAL;
            PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL");
            PRAGMA cache_size = -16384;
            PRAGMA temp_store = MEMORY;
            PRAGMA wal_autocheckpoint = 0;
            PRAGMA journal_size_limit = 8388608;
            """)
        self.plugins = plugins
        folds = WriterFold(plugins: plugins, logger: logger, gate: gate)
        (ids, nextID) = try Self.beginRun(db, nowMs: nowMs)
    }

    /// Closes the previous run at the last id held and opens this start's.
    private static func beginRun(_ db: SQLiteConnection, nowMs: Int64) throws -> (StreamIDs, Int64) {
        try db.execute("BEGIN IMMEDIATE")
        do {
            let last = try db.statement("SELECT coalesce(max(id), 0) FROM log")
            _ = try last.step()
            let lastID = last.int64(0)
            let close = try db.statement("UPDATE runs SET end_id = ? WHERE end_id IS NULL")
            close.bind(1, lastID)
            try close.run()
            try db.execute("DELETE FROM runs WHERE end_id < start_id")
            let read = try db.statement("SELECT start_id, end_id, legacy FROM runs ORDER BY start_id")
            var runs: [StreamRun] = []
            while try read.step() { runs.append(StreamRun(start: read.int64(0), end: read.int64(1), legacy: read.int64(2) != 0)) }
            let start = max(StreamIDs.runStart(lastID: lastID, nowMs: nowMs), (runs.last?.start ?? 0) + 1)
            let open = try db.statement("INSERT INTO runs (start_id) VALUES (?)")
            open.bind(1, start)
            try open.run()
            try db.execute("COMMIT")
            return (StreamIDs(closedRuns: runs, currentStart: start), start)
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    // MARK: one group

    /// Merges every request's entries in one transaction and commits.
    /// Throws (after a rollback) when the transaction fails: nothing of it is kept.
    func apply(_ requests: [WriteRequest], accepted: inout [AcceptedOp]) throws -> [[WriteOutcome]] {
        try db.execute("BEGIN IMMEDIATE")
        do {
            let outcomes = try requests.map { request in
                try request.entries.map { try merge(user: request.user, $0, accepted: &accepted) }
            }
            try finishTouchedPaths()
            try db.execute("COMMIT")
            ids.committed(upTo: nextID - 1)
            return outcomes
        } catch {
            try? db.execute("ROLLBACK")
            forgetUncommitted()
            throw error
        }
    }

    /// Between two groups, at most every 100 ms: a WAL past
    /// `WALCheckpoint.restartBytes` is reset here, by the writer itself.
    /// The PASSIVE checkpoints of `WALCheckpoint` copy most of it back off
    /// this thread, but a WAL can only start again from its beginning when
    /// no commit is under way — and under continuous writes the writer is
    /// never idle, so a RESTART from another connection never found that
    /// moment and the WAL grew without end (1 KB of disk per op held after
    /// a million pushes). Here the moment is certain; what this costs the
    /// writer is the frames not yet copied and readers finishing (20 ms at
    /// most, else it tries again later).
    func restartWALIfLarge() {
        let now = ContinuousClock.now
        guard now >= nextWALCheck else { return }
        nextWALCheck = now + .milliseconds(100)
        var status = stat()
        guard stat(walPath, &status) == 0, Int(status.st_size) > WALCheckpoint.restartBytes else { return }
        _ = db.restartWAL(patienceMs: 20)
    }

    /// After a failed transaction the cache may hold what it did not keep.
    private func forgetUncommitted() {
        paths.removeAll()
        touched.removeAll()
        if let last = try? db.statement("SELECT coalesce(max(id), 0) FROM log"), (try? last.step()) == true {
            nextID = max(ids.currentStart, last.int64(0) + 1)
        }
        db.resetStatements()
    }

    private func merge(user: Int64, _ entry: WriteEntry, accepted: inout [AcceptedOp]) throws -> WriteOutcome {
        let key = PathKey(user: user, type: entry.type, path: entry.path)
        let op: Op
        switch entry.item {
        case .refused(let sha, let error):
            // A refused op changes nothing, not even by creating its path.
            guard let sha else { return .refused(error) }
            let held = try existingPathState(key)?.held(sha) ?? Bytewise.equal(sha, Op.emptySHA)
            return held ? .noop : .refused(error)
        case .merge(let admitted):
            op = admitted
        }
        let state = try pathState(key)
        let fingerprint = ShaIndex.fingerprint(op.sha)
        switch MergeRules.decide(op, base: state.base, alreadyHeld: state.held(op.sha, fingerprint)) {
        case .noop:
            return .noop
        case .keep:
            let (id, columns) = try insert(op, pathID: state.id)
            state.shas.insert(fingerprint)
            state.foldLater(op, reducer: plugins.reducer(for: entry.type))
            markTouched(state)
            accepted.append(Self.accepted(user: user, id: id, entry: entry, op: op, columns: columns))
            return .accepted(id: id)
        case .replaceBase:
            let columns = try replaceBase(of: state, with: op, type: entry.type)
            markTouched(state)
            state.baseChanged = true
            accepted.append(Self.accepted(user: user, id: state.baseRow!, entry: entry, op: op, columns: columns))
            return .accepted(id: state.baseRow!)
        }
    }

    private static func accepted(user: Int64, id: Int64, entry: WriteEntry, op: Op, columns: OpRow.Columns) -> AcceptedOp {
        AcceptedOp(user: user, id: id, type: entry.type, path: entry.path, op: op,
                   entryText: OpText.entry(op, columns: columns, type: entry.type, path: entry.path))
    }

    /// Appends `op` to the log; its id and the columns it was stored as.
    private func insert(_ op: Op, pathID: Int64) throws -> (id: Int64, columns: OpRow.Columns) {
        let id = nextID
        let columns = OpRow.columns(of: op)
        let statement = try db.statement("INSERT INTO log (id, path_id, \(OpRow.columnList)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        statement.bind(1, id)
        statement.bind(2, pathID)
        OpRow.bind(columns, to: statement, from: 3)
        try statement.run()
        nextID += 1
        return (id, columns)
    }

    private func replaceBase(of state: PathState, with op: Op, type: String) throws -> OpRow.Columns {
        let rows = try db.statement("SELECT id, \(OpRow.columnList) FROM log WHERE path_id = ?")
        rows.bind(1, state.id)
        var kept: [Op] = []
        var gone: [Int64] = []
        while try rows.step() {
            let id = rows.int64(0)
            let held = try OpRow.op(OpRow.read(rows, from: 1))
            if held.isValueOp || MergeRules.isCovered(held, by: op) { gone.append(id) } else { kept.append(held) }
        }
        let delete = try db.statement("DELETE FROM log WHERE id = ?")
        for id in gone {
            delete.reset()
            delete.bind(1, id)
            try delete.run()
        }
        let (id, columns) = try insert(op, pathID: state.id)
        state.baseRow = id
        state.base = op
        var shas = ShaIndex(capacity: kept.count)
        for held in kept { shas.insert(held.sha) }
        state.shas = shas
        kept.sort { MergeRules.orderKey($0, base: op) < MergeRules.orderKey($1, base: op) }
        state.refold(ops: kept, reducer: plugins.reducer(for: type), folds: folds)
        return columns
    }

    private func markTouched(_ state: PathState) {
        if !state.dirty {
            state.dirty = true
            touched.append(state)
        }
    }

    /// One fold per path for its new ops, and its `paths` row written once.
    private func finishTouchedPaths() throws {
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
            state.pending.removeAll(keepingCapacity: true)
            try save(state)
            state.dirty = false
            state.baseChanged = false
        }
        touched.removeAll(keepingCapacity: true)
    }

    private func save(_ state: PathState) throws {
        if state.baseChanged {
            let base = try db.statement("UPDATE paths SET base = ? WHERE id = ?")
            base.bind(1, text: state.base.json.canonicalBytes)
            base.bind(2, state.id)
            try base.run()
        }
        let update = try db.statement("""
            UPDATE paths SET value = ?, value_version = ?, value_date = ?, value_sha = ?, last_date = ?, last_sha = ?, skipped = ?
            WHERE id = ?
            """)
        update.bind(1, text: state.value?.canonicalBytes)
        update.bind(2, text: state.valueVersion)
        update.bind(3, state.valueDate)
        update.bind(4, text: state.valueSHA)
        update.bind(5, state.lastKey?.date)
        update.bind(6, text: state.lastKey?.sha)
        update.bind(7, Int64(state.skipped))
        update.bind(8, state.id)
        try update.run()
    }

    // MARK: path state

    private func pathState(_ key: PathKey) throws -> PathState {
        if let cached = paths[key] { return cached }
        if paths.count >= Self.maxCachedPaths, touched.isEmpty {
            paths.removeAll(keepingCapacity: true)
        }
        let state = try loadPath(key) ?? createPath(key)
        paths[key] = state
        return state
    }

    private func existingPathState(_ key: PathKey) throws -> PathState? {
        if let cached = paths[key] { return cached }
        guard let state = try loadPath(key) else { return nil }
        paths[key] = state
        return state
    }

    private func loadPath(_ key: PathKey) throws -> PathState? {
        let row = try db.statement("""
            SELECT id, base, value, value_version, value_date, value_sha, last_date, last_sha, skipped
            FROM paths WHERE user_id = ? AND type = ? AND path = ?
            """)
        row.bind(1, key.user)
        row.bind(2, text: key.type)
        row.bind(3, text: key.path)
        guard try row.step() else { return nil }
        let id = row.int64(0)
        let base = try Op(jsonBytes: row.bytes(1), maxDepth: 512)
        let value = try row.optionalBytes(2).map { try JSON.parse($0, maxDepth: 512) }
        let valueVersion = row.optionalText(3)
        let valueDate = row.optionalInt64(4)
        let valueSHA = row.optionalText(5)
        let lastKey = row.optionalInt64(6).flatMap { date in row.optionalText(7).map { MergeRules.OrderKey(date: date, sha: $0) } }
        let skipped = Int(row.int64(8))

        let shas = try db.statement("SELECT id, sha, payload IS NULL FROM log WHERE path_id = ?")
        shas.bind(1, id)
        var index = ShaIndex()
        var baseRow: Int64?
        while try shas.step() {
            if shas.int64(2) != 0 {
                baseRow = shas.int64(0)
            } else {
                index.insert(SHAColumn.decode(shas.bytes(1)))
            }
        }
        let state = PathState(id: id, key: key, base: base, baseRow: baseRow, shas: index)
        state.value = value
        state.valueVersion = valueVersion
        state.valueDate = valueDate ?? base.date
        state.valueSHA = valueSHA ?? base.sha
        state.lastKey = lastKey
        state.skipped = skipped
        return state
    }

    private func createPath(_ key: PathKey) throws -> PathState {
        let insert = try db.statement("INSERT INTO paths (user_id, type, path, base) VALUES (?, ?, ?, ?)")
        insert.bind(1, key.user)
        insert.bind(2, text: key.type)
        insert.bind(3, text: key.path)
        insert.bind(4, text: Self.emptyBaseText)
        try insert.run()
        let state = PathState(id: db.lastInsertedRowID, key: key, base: .empty, baseRow: nil, shas: ShaIndex())
        // The empty base's value, null, is the fold of nothing: materialized already.
        if let reducer = plugins.reducer(for: key.type) {
            state.value = .null
            state.valueVersion = tag(reducer)
        }
        return state
    }

    private static let emptyBaseText = Op.empty.json.canonicalBytes
}

/// Which reducer (library and version) a materialized value came from.
func tag(_ reducer: any Reducer) -> String {
    switch reducer {
    case let plugin as PluginReducer: plugin.identity
    case let ffi as FFIReducer: "ffi:\(ffi.declaration.library):\(ffi.declaration.symbol):\(ffi.declaration.signature)"
    default: "\(Swift.type(of: reducer)):\(reducer.type)"
    }
}
