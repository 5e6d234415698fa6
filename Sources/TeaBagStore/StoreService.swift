/// The store's logic, apart from HTTP: users and enrollment, the checks an
/// op passes before it reaches the writer (docs/protocol.md#store), and reads.
import Foundation
import GRDB
import Logging
import Synchronization
import TeaBagCore
import TeaBagPlugins
import TeaBagServerKit

public final class StoreService: Sendable {
    let pool: DatabasePool
    let writer: StoreWriter
    let plugins: PluginHost
    let gate: FoldGate
    let tokens: TokenChecker
    let codes: EnrollmentCodes
    let configuration: StoreConfiguration
    let clock: @Sendable () -> Int64
    let counters: StoreCounters
    private let users = Mutex<[Int64: StoreUser]>([:])

    init(pool: DatabasePool, writer: StoreWriter, plugins: PluginHost, gate: FoldGate, tokens: TokenChecker, codes: EnrollmentCodes,
         configuration: StoreConfiguration, clock: @escaping @Sendable () -> Int64, counters: StoreCounters) {
        self.pool = pool
        self.writer = writer
        self.plugins = plugins
        self.gate = gate
        self.tokens = tokens
        self.codes = codes
        self.configuration = configuration
        self.clock = clock
        self.counters = counters
    }

    // MARK: users and enrollment

    public func createUser(_ id: Int64) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO users (id, created_ms) VALUES (?, ?)", arguments: [id, clock()])
        }
        users.withLock { $0[id] = nil }
    }

    static let maxCachedUsers = 100_000

    /// The user when already in memory (the event-loop path must not read the database).
    func cachedUser(_ id: Int64) -> StoreUser? { users.withLock { $0[id] } }

    func user(_ id: Int64) throws -> StoreUser {
        if let known = users.withLock({ $0[id] }) { return known }
        guard let user = try pool.read({ db in try StoreUser.fetch(db, id: id) }) else {
            throw APIError(.userNotFound, "no user \(id) on this store (the store admin creates it: PUT /admin/user/\(id))")
        }
        users.withLock { users in
            // Bounded: users come and go, the cache starts again past it (issue 14 §4).
            if users.count >= Self.maxCachedUsers { users.removeAll(keepingCapacity: true) }
            users[id] = user
        }
        return user
    }

    public func newCode(user id: Int64) throws -> (code: String, expiry: Int64) {
        _ = try user(id)
        return codes.make(user: id, now: clock())
    }

    /// Binds the user to a table with a single-use code; remembers the store id (ext).
    func confirm(user id: Int64, tableURL: String, code: String, storeID: String?) throws {
        _ = try user(id)
        guard let expiry = codes.verify(code, user: id, now: clock()) else {
            throw APIError(.userInvalidCode, "the code is not valid or has expired (get a new one: GET /admin/user/\(id)/code)")
        }
        guard BaseURL.isValid(tableURL) else {
            throw APIError(.userInvalidTableUrl, "table_url must be an http(s) URL ending with / and without a query")
        }
        if let storeID, storeID.isEmpty || storeID.count > 128 || storeID.contains("_") {
            throw APIError(.userInvalidStoreId, "store_id must be 1 to 128 characters without _")
        }
        let now = clock()
        try pool.write { db in
            try db.execute(sql: "DELETE FROM used_codes WHERE expiry_ms < ?", arguments: [now])
            do {
                try db.execute(sql: "INSERT INTO used_codes (user_id, code, expiry_ms) VALUES (?, ?, ?)", arguments: [id, code, expiry])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                throw APIError(.userInvalidCode, "this code was used already; codes are single use")
            }
            var user = try StoreUser.fetch(db, id: id)!
            user.tableURL = tableURL
            if let storeID, !user.storeIDs.contains(storeID) { user.storeIDs.append(storeID) }
            let ids = String(decoding: try JSONEncoder().encode(user.storeIDs), as: UTF8.self)
            try db.execute(sql: "UPDATE users SET table_url = ?, store_ids = ? WHERE id = ?", arguments: [tableURL, ids, id])
        }
        users.withLock { $0[id] = nil }
    }

    /// The user, once its store token checks out.
    func authorize(user id: Int64, token: String?) async throws -> StoreUser {
        let user = try user(id)
        try await tokens.check(user: user, token: token)
        return user
    }

    // MARK: pushing ops

    static let invalidType = APIError(.userInvalidType, "type must be 1 to 64 of [A-Za-z0-9_-]")
    static let invalidPath = APIError(.userInvalidPath, "path must be a non-empty UTF-8 path that stays under /, without control characters or backslashes")

    /// Validates `type` and normalizes `path`.
    static func key(type: String?, path: String?) throws -> (type: String, path: String) {
        guard let type, OplogKey.isValidType(type) else { throw invalidType }
        guard let raw = path, let normalized = OplogKey.normalizePath(raw) else { throw invalidPath }
        return (type, normalized)
    }

    /// Every op-local check of an op (docs/protocol.md#store). A refusal still goes to
    /// the writer, which answers noop instead when the path already holds
    /// the op's sha ("already held" comes first), seeing the ops before it
    /// in the same batch.
    func admit(type: String, path: String, body: JSON) -> WriteEntry {
        do {
            return WriteEntry(type: type, path: path, item: .merge(try check(type: type, body: body)))
        } catch {
            return WriteEntry(type: type, path: path, item: .refused(sha: body["sha"]?.stringValue, error))
        }
    }

    private func check(type: String, body: JSON) throws(APIError) -> Op {
        let op: Op
        do { op = try Op(json: body) } catch {
            throw APIError(.userInvalidOpBody, error.message)
        }
        let now = clock()
        if op.date > now + configuration.maxSkewMs {
            var error = APIError(.storeFutureDate, "the op is dated \(op.date - now) ms ahead of this store's clock (at most \(configuration.maxSkewMs)); retry later")
            let seconds = max(1, (op.date - now - configuration.maxSkewMs + 999) / 1000)
            error.headers[.retryAfter] = String(seconds)
            throw error
        }
        if let payload = op.payload {
            if let reducer = plugins.reducer(for: type) {
                do { try reducer.validate(payload: payload) } catch {
                    throw APIError(.storeInvalidOp, error.message)
                }
            } else if configuration.unknownTypes == .reject {
                throw APIError(.storeNoReducerForPush, "this store serves no reducer for type \(type) and refuses unknown types")
            }
        }
        return op
    }

    /// Counts one answered op.
    func count(_ outcome: WriteOutcome) {
        switch outcome {
        case .accepted: counters.accepted.increment()
        case .noop: counters.noop.increment()
        case .refused: counters.refused.increment()
        }
    }

    /// One op: admitted, merged, committed.
    func push(user: Int64, type: String, path: String, body: JSON) async throws -> WriteOutcome {
        let outcome = try await writer.merge(user: user, [admit(type: type, path: path, body: body)])[0]
        count(outcome)
        if case .refused(let error) = outcome { throw error }
        return outcome
    }

    /// A batch: each op answered as if sent alone after the ones before it,
    /// the admitted ones merged in order in one transaction.
    public func pushBatch(user: Int64, items: [JSON]) async throws -> [JSON] {
        let prepared = prepareBatch(items)
        let outcomes = prepared.entries.isEmpty ? [] : try await writer.merge(user: user, prepared.entries.map(\.entry))
        return finishBatch(prepared, outcomes: outcomes)
    }

    struct PreparedBatch: Sendable {
        /// The answers known before the writer (items that name no valid path).
        var results: [JSON?]
        var entries: [(index: Int, entry: WriteEntry)]
    }

    /// Each item's key checked and its op admitted (or refused), in order.
    func prepareBatch(_ items: [JSON]) -> PreparedBatch {
        var prepared = PreparedBatch(results: Array(repeating: nil, count: items.count), entries: [])
        for (index, item) in items.enumerated() {
            do {
                guard case .object = item else { throw APIError(.userInvalidOpBody, "each batch item is {type, path, op}") }
                let key = try Self.key(type: item["type"]?.stringValue, path: item["path"]?.stringValue)
                guard let body = item["op"] else { throw APIError(.userInvalidOpBody, "a batch item needs an op") }
                prepared.entries.append((index, admit(type: key.type, path: key.path, body: body)))
            } catch let error as APIError {
                prepared.results[index] = error.json
                counters.refused.increment()
            } catch {
                prepared.results[index] = APIError.internal().json
            }
        }
        return prepared
    }

    /// The results array, once the writer has merged the entries.
    func finishBatch(_ prepared: PreparedBatch, outcomes: [WriteOutcome]) -> [JSON] {
        var results = prepared.results
        for ((index, _), outcome) in zip(prepared.entries, outcomes) {
            results[index] = Self.batchResult(outcome)
            count(outcome)
        }
        return results.map { $0 ?? .null }
    }

    static func batchResult(_ outcome: WriteOutcome) -> JSON {
        switch outcome {
        case .accepted: ["ok": true]
        case .noop: ["ok": true, "noop": true]
        case .refused(let error): error.json
        }
    }

    // MARK: reads

    /// The oplog: its base first, then the payload ops in fold order.
    func oplog(user: Int64, type: String, path: String) throws -> [JSON] {
        try pool.read { db in
            guard let held = try HeldPath.read(db, user: user, type: type, path: path) else { return [Op.empty.json] }
            return [held.base.json] + held.ops.map(\.json)
        }
    }

    /// How long `GET value` waits for a fold before answering 503: a slow
    /// reducer delays its own reads, never hangs them.
    static let readFoldBudget: Duration = .seconds(2)

    /// `{value, date, sha}` folded by this store's reducer for the type.
    func value(user: Int64, type: String, path: String) async throws -> JSON {
        guard let reducer = plugins.reducer(for: type) else {
            throw APIError(.storeNoReducer, "this store serves no reducer for type \(type)")
        }
        enum Read: Sendable { case ready(JSON), fold(HeldPath) }
        let read = try await pool.read { db -> Read in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM paths WHERE user_id = ? AND type = ? AND path = ?",
                                             arguments: [user, type, path]) else {
                return .ready(["value": .null, "date": 0, "sha": .string(Op.emptySHA)])
            }
            if row["value_version"] as String? == tag(reducer), let text: String = row["value"],
               let value = try? JSON.parse(text, maxDepth: 512) {
                let base = try Op(jsonBytes: Array((row["base"] as String).utf8), maxDepth: 512)
                return .ready(["value": value, "date": .number(Double(row["value_date"] ?? base.date)),
                               "sha": .string(row["value_sha"] ?? base.sha)])
            }
            return .fold(try HeldPath.read(db, user: user, type: type, path: path)!)
        }
        guard case .fold(let held) = read else {
            if case .ready(let answer) = read { return answer }
            return .null
        }
        // Stale (an op arrived out of order) or folded by another reducer version: fold now, within the budget.
        let key = PathKey(user: user, type: type, path: path)
        let plugins = self.plugins
        guard let outcome = await FoldGate.fold(key, gate: gate, within: Self.readFoldBudget, {
            plugins.fold(with: reducer, state: held.base.value ?? .null, ops: held.ops[...])
        }) else {
            var error = APIError(.storeSlowReducer, "the \(type) reducer has not folded this path within \(Self.readFoldBudget); retry later")
            error.headers[.retryAfter] = "5"
            throw error
        }
        let last = held.ops.last
        return ["value": outcome.value, "date": .number(Double(last?.date ?? held.base.date)),
                "sha": .string(last?.sha ?? held.base.sha)]
    }
}
