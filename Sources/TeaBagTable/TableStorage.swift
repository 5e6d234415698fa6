/// Where the table keeps users, sessions and mount tables: a SQLite file
/// owned by one process (`SQLiteTableStorage`, the default) or a PostgreSQL
/// database shared by any number of table processes (`PostgresTableStorage`).
///
/// The operations are the table's own, not SQL: each backend decides what it
/// may keep in memory. Every change is durable before the call returns,
/// except the sliding `last_check` refresh, which a backend may write behind
/// by at most a second (a session may then expire up to a second early after
/// a crash, never late).
protocol TableStorage: Sendable {
    /// The user's master hash, nil for an unknown user.
    func masterHash(user: Int64) async throws -> String?
    /// Creates or updates a user and deletes all its sessions, at once.
    func setMaster(user: Int64, hash: String, now: Int64) async throws
    /// Records a session unless one with the same signature exists (false then: nothing changed).
    func insert(session: SessionRow) async throws -> Bool
    /// The user's sessions still live at `now`, oldest first.
    func liveSessions(user: Int64, now: Int64) async throws -> [SessionRow]
    /// Whether the session exists and is live at `now`; if so its last check becomes `now`.
    func refresh(signature: String, now: Int64) async throws -> Bool
    func deleteSession(signature: String) async throws
    /// Persists what is written behind and drops sessions expired at `now`
    /// (called about once a second); returns how many sessions are live.
    func maintain(now: Int64) async throws -> Int

    /// The user's mount table, by channel, oldest first.
    func stores(user: Int64) async throws -> [StoreRecord]
    /// The ids of the stores enrolled for the user, in any channel.
    func enrolledStoreIDs(user: Int64) async throws -> Set<String>
    func upsert(user: Int64, store: StoreRecord) async throws
    func deleteStore(user: Int64, channel: String, storeID: String) async throws
    func deleteChannel(user: Int64, channel: String) async throws
}

/// A storage that holds sessions and mount tables in memory, so a token
/// check can be answered on the event loop without waiting (SQLite's
/// mirror; PostgreSQL's storage keeps nothing and is always asked).
protocol InMemoryTableChecks: Sendable {
    /// `refresh(signature:now:)`, from memory.
    func refreshInMemory(signature: String, now: Int64) -> Bool
    /// The enrolled store ids when they are in memory; nil: ask the storage.
    func enrolledStoreIDsInMemory(user: Int64) -> Set<String>?
}

struct SessionRow: Sendable, Equatable {
    let signature: String
    let user: Int64
    let created: Int64
    let timeout: Int64
    let description: String
    var lastCheck: Int64

    func isLive(at now: Int64) -> Bool { now <= lastCheck + timeout }
}

/// A store enrolled under a channel.
public struct StoreRecord: Sendable, Equatable {
    public let channel: String
    public let storeID: String
    public let url: String
    public let code: String
    public let created: Int64
}
