/// The one writer of a store's oplogs. Requests queue their ops; the writer
/// applies everything queued in one SQLite transaction (group commit) and
/// answers each request once that transaction has committed, so throughput
/// does not collapse to one fsync per request and nothing is acknowledged
/// before it is on disk.
import Foundation
import GRDB
import Logging
import Synchronization
import TeaBagCore
import TeaBagPlugins

/// What merging one op did (SPEC §3).
enum MergeOutcome: Sendable, Equatable {
    /// Stored, and streamed with this per-user sequence number.
    case accepted(seq: Int64)
    /// Already held, or covered, or a losing base: nothing changed.
    case noop
}

/// An op accepted and committed, for the streams.
struct AcceptedOp: Sendable {
    let user: Int64
    let seq: Int64
    let type: String
    let path: String
    /// `{"op":…,"path":…,"type":…}` as streamed.
    let entry: JSON
    /// The same, as canonical text (built from the op's text, not serialized again).
    let entryText: String
}

final class OplogWriter: Sendable {
    struct Entry: Sendable {
        let type: String
        let path: String
        let op: Op
    }

    private struct Request: Sendable {
        let user: Int64
        let entries: [Entry]
        let continuation: CheckedContinuation<[MergeOutcome], any Error>
    }

    private let pool: DatabasePool
    private let plugins: PluginHost
    private let folds: WriterFold
    private let logger: Logger
    private let pending = Mutex<[Request]>([])
    private let signal: AsyncStream<Void>.Continuation
    private let signals: AsyncStream<Void>
    /// Touched only inside the writer's transactions (serial by construction).
    private let cache = Mutex<WriterCache>(WriterCache())
    /// Called after each commit with what it accepted.
    private let onCommit: @Sendable ([AcceptedOp]) -> Void
    private let onCommitTiming: @Sendable (Duration, Int) -> Void

    struct WriterCache {
        var paths: [PathKey: PathState] = [:]
        var nextSeq: [Int64: Int64] = [:]
    }

    init(pool: DatabasePool, plugins: PluginHost, logger: Logger,
         onCommit: @escaping @Sendable ([AcceptedOp]) -> Void, onCommitTiming: @escaping @Sendable (Duration, Int) -> Void) {
        self.pool = pool
        self.plugins = plugins
        self.folds = WriterFold(plugins: plugins, logger: logger)
        self.logger = logger
        self.onCommit = onCommit
        self.onCommitTiming = onCommitTiming
        (signals, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Merges `entries` of one user, in order, in one transaction; returns once committed.
    func merge(user: Int64, _ entries: [Entry]) async throws -> [MergeOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            pending.withLock { $0.append(Request(user: user, entries: entries, continuation: continuation)) }
            signal.yield()
        }
    }

    /// The writer loop; runs until cancelled, then fails whatever is still queued.
    func run() async {
        for await _ in signals {
            while true {
                let batch = pending.withLock { queue -> [Request] in
                    let taken = Array(queue.prefix(1024))
                    queue.removeFirst(taken.count)
                    return taken
                }
                if batch.isEmpty { break }
                await apply(batch)
            }
        }
        let left = pending.withLock { queue in defer { queue.removeAll() }; return queue }
        for request in left { request.continuation.resume(throwing: CancellationError()) }
    }

    func stop() { signal.finish() }

    private func apply(_ batch: [Request]) async {
        let started = ContinuousClock.now
        do {
            let (outcomes, accepted) = try await pool.write { db -> ([[MergeOutcome]], [AcceptedOp]) in
                var accepted: [AcceptedOp] = []
                let outcomes = try batch.map { request in
                    try request.entries.map { entry in try self.merge(db, user: request.user, entry: entry, accepted: &accepted) }
                }
                return (outcomes, accepted)
            }
            onCommitTiming(ContinuousClock.now - started, batch.count)
            onCommit(accepted)
            for (request, outcome) in zip(batch, outcomes) { request.continuation.resume(returning: outcome) }
        } catch {
            // Nothing of this batch is acknowledged; the cache may hold its uncommitted state.
            cache.withLock { $0 = WriterCache() }
            logger.error("write transaction failed; \(batch.count) request(s) refused: \(error)")
            let answer = StorageFailure.answer(for: error)
            for request in batch { request.continuation.resume(throwing: answer) }
        }
    }

    // MARK: inside the transaction

    private func merge(_ db: Database, user: Int64, entry: Entry, accepted: inout [AcceptedOp]) throws -> MergeOutcome {
        let key = PathKey(user: user, type: entry.type, path: entry.path)
        var state = try pathState(db, key: key)
        let op = entry.op
        // Cached statements: parsing and authorizing SQL would otherwise cost more than running it.
        let held = try op.sha == state.base.sha
            || (Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS(SELECT 1 FROM ops WHERE path_id = ? AND sha = ?)"),
                              arguments: [state.id, op.sha]) ?? false)
        let opText = op.json.canonicalString
        switch MergeRules.decide(op, base: state.base, alreadyHeld: held) {
        case .noop:
            return .noop
        case .keep:
            try db.cachedStatement(sql: "INSERT INTO ops (path_id, sha, date, node, seq, body) VALUES (?, ?, ?, ?, ?, ?)")
                .execute(arguments: [state.id, op.sha, op.date, op.node, op.seq, opText])
            let opKey = MergeRules.orderKey(op, base: state.base)
            if let reducer = plugins.reducer(for: entry.type), state.valueVersion == tag(reducer), let value = state.value,
               state.lastKey.map({ $0 < opKey }) ?? true {
                // The common case: the new op sorts last; fold it alone.
                // Through the host, so that an op the reducer skips is counted and logged (SPEC §4.1).
                if let outcome = folds.fold(with: reducer, state: value, ops: [op][...]) {
                    state.value = outcome.value
                    state.skipped += outcome.skipped.count
                    state.lastKey = opKey
                    state.valueDate = op.date
                    state.valueSHA = op.sha
                } else {
                    state.markStale()
                }
            } else {
                // Out of order (or no reducer): folding again now would cost
                // the whole oplog on every such push. The value goes stale
                // instead and is folded when it is read (StoreService.value).
                state.markStale()
            }
        case .replaceBase:
            let ops = try PathState.ops(db, pathID: state.id, base: state.base)
            for covered in ops where MergeRules.isCovered(covered, by: op) {
                try db.execute(sql: "DELETE FROM ops WHERE path_id = ? AND sha = ?", arguments: [state.id, covered.sha])
            }
            state.base = op
            try refold(db, &state, type: entry.type)
        }
        try state.save(db, baseChanged: op.isValueOp)
        cache.withLock { $0.paths[key] = state }
        let seq = try nextSeq(db, user: user)
        let streamed: JSON = ["type": .string(entry.type), "path": .string(entry.path), "op": op.json]
        try db.cachedStatement(sql: "INSERT INTO events (user_id, seq, type, path, op) VALUES (?, ?, ?, ?, ?)")
            .execute(arguments: [user, seq, entry.type, entry.path, opText])
        // Canonical key order is op, path, type; the op's text is already canonical.
        var entryText = #"{"op":"# + opText + #","path":"#
        entryText += JSON.string(entry.path).canonicalString + #","type":"# + JSON.string(entry.type).canonicalString + "}"
        assert(entryText == streamed.canonicalString, "stream entry text drifted from its canonical form")
        accepted.append(AcceptedOp(user: user, seq: seq, type: entry.type, path: entry.path, entry: streamed, entryText: entryText))
        return .accepted(seq: seq)
    }

    private func pathState(_ db: Database, key: PathKey) throws -> PathState {
        if let cached = cache.withLock({ $0.paths[key] }) { return cached }
        var state: PathState
        if let stored = try PathState.load(db, key: key) {
            state = stored
        } else {
            state = try PathState.create(db, key: key)
            // The empty base's value, null, is the fold of nothing: materialized already.
            if let reducer = plugins.reducer(for: key.type) {
                state.value = .null
                state.valueVersion = tag(reducer)
            }
        }
        cache.withLock { c in
            if c.paths.count > 50_000 { c.paths.removeAll(keepingCapacity: true) }
            c.paths[key] = state
        }
        return state
    }

    /// Folds the whole path again (a late op, a new base, another reducer).
    private func refold(_ db: Database, _ state: inout PathState, type: String) throws {
        guard let reducer = plugins.reducer(for: type) else {
            state.markStale()
            return
        }
        let ops = try PathState.ops(db, pathID: state.id, base: state.base)
        guard let outcome = folds.fold(with: reducer, state: state.base.value ?? .null, ops: ops[...]) else {
            state.markStale()
            return
        }
        state.value = outcome.value
        state.valueVersion = tag(reducer)
        state.skipped = outcome.skipped.count
        state.lastKey = ops.last.map { MergeRules.orderKey($0, base: state.base) }
        state.valueDate = ops.last?.date ?? state.base.date
        state.valueSHA = ops.last?.sha ?? state.base.sha
    }

    private func nextSeq(_ db: Database, user: Int64) throws -> Int64 {
        if let next = cache.withLock({ $0.nextSeq[user] }) {
            cache.withLock { $0.nextSeq[user] = next + 1 }
            return next
        }
        let next = (try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events WHERE user_id = ?", arguments: [user]) ?? 0) + 1
        cache.withLock { $0.nextSeq[user] = next + 1 }
        return next
    }
}

/// Which reducer (library and version) a materialized value came from.
func tag(_ reducer: any Reducer) -> String {
    switch reducer {
    case let plugin as PluginReducer: plugin.identity
    case let ffi as FFIReducer: "ffi:\(ffi.declaration.library):\(ffi.declaration.symbol):\(ffi.declaration.signature)"
    default: "\(Swift.type(of: reducer)):\(reducer.type)"
    }
}
