/// Where a store keeps its users and oplogs: the SQLite file of one process
/// (`SQLiteStoreStorage`, the default, with its writer thread) or a
/// PostgreSQL database shared by any number of processes of one store
/// (`PostgresStoreStorage`, `store.database: postgresql://…`).
///
/// The operations are the store's own, not SQL: the merge of docs/sync.md#oplog-rules runs
/// inside the backend, which decides how writers are serialised. Every
/// change is durable before its completion runs (an ack means committed).
import TeaBagCore

protocol StoreStorage: Sendable {
    /// Merges a request's entries in order, in one transaction; the
    /// completion runs once committed (or failed), on the request's loop
    /// when it names one. The committed ops reach the streams' hub.
    func submit(_ request: WriteRequest)

    /// The user, nil when this store has none of that id.
    func user(_ id: Int64) async throws -> StoreUser?
    /// Creates the user unless it exists.
    func createUser(_ id: Int64, now: Int64) async throws
    /// Spends a single-use code and binds the user to its table (and store
    /// id); false, with nothing changed, when the code was spent already.
    func confirm(user: Int64, code: String, expiry: Int64, tableURL: String, storeID: String?, now: Int64) async throws -> Bool

    /// A path's held ops (nil: never written).
    func heldPath(user: Int64, type: String, path: String) async throws -> HeldPath?
    /// A path's materialized value when it was folded by `version`, else what to fold.
    func value(user: Int64, type: String, path: String, version: String) async throws -> StoredValue
}

/// Where the streams' hub reads resumes from: the same database.
protocol StreamSource: Sendable {
    /// How to resume after `lastEventID` when it is known without waiting
    /// (nil: ask `plan`, off the event loop).
    func immediatePlan(user: Int64, after lastEventID: Int64) -> ResumePlan?
    func plan(user: Int64, after lastEventID: Int64) async throws -> ResumePlan
    /// Up to `StreamHistory.pageSize` frames of `user` with ids above `after`, in id order.
    func historyPage(user: Int64, after: Int64) async throws -> [StreamFrame]
}

/// What `GET value` finds stored.
enum StoredValue: Sendable {
    /// Folded already (or a path never written): the answer.
    case ready(JSON)
    /// Stale or folded by another reducer version: fold these.
    case fold(HeldPath)
}
