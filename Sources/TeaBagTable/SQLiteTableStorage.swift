/// The default backend: one SQLite file owned by this process.
///
/// Users, sessions and enrolled store ids are mirrored in memory so that a
/// check (which every store's first sight of a token waits on) costs a
/// dictionary lookup. Every change is committed to SQLite before it is
/// answered; only the sliding `last_check` refresh is written behind, at
/// most once a second per session, by `maintain()`. The mirror is right
/// only because no other process writes the file: a table on SQLite is one
/// instance (several instances share a PostgreSQL database instead).
import Synchronization

final class SQLiteTableStorage: TableStorage, InMemoryTableChecks {
    let database: TableDatabase
    private let state: Mutex<State>

    struct State {
        var masterHashes: [Int64: String] = [:]
        var sessions: [String: SessionRow] = [:]
        /// Sessions whose last check moved since the last `maintain()`.
        var dirty: Set<String> = []
        var enrolled: [Int64: Set<String>] = [:]
        /// Moves on every mount-table change, so a read that raced one is not cached.
        var mountGeneration = 0
    }

    init(database: TableDatabase) throws {
        self.database = database
        var state = State()
        for user in try database.users() { state.masterHashes[user.id] = user.masterHash }
        for session in try database.sessions() { state.sessions[session.signature] = session }
        self.state = Mutex(state)
    }

    func masterHash(user: Int64) -> String? { state.withLock { $0.masterHashes[user] } }

    func setMaster(user: Int64, hash: String, now: Int64) throws {
        try database.setMaster(user: user, hash: hash, now: now)
        state.withLock { s in
            s.masterHashes[user] = hash
            for (signature, session) in s.sessions where session.user == user {
                s.sessions[signature] = nil
                s.dirty.remove(signature)
            }
        }
    }

    func insert(session: SessionRow) throws -> Bool {
        // The file decides (its primary key), not the mirror: two requests
        // racing for one signature both see it free in the mirror.
        guard try database.insert(session: session) else { return false }
        state.withLock { $0.sessions[session.signature] = session }
        return true
    }

    func liveSessions(user: Int64, now: Int64) -> [SessionRow] {
        state.withLock { s in s.sessions.values.filter { $0.user == user && $0.isLive(at: now) } }
            .sorted { ($0.created, $0.signature) < ($1.created, $1.signature) }
    }

    func refresh(signature: String, now: Int64) -> Bool {
        state.withLock { s in
            guard var session = s.sessions[signature], session.isLive(at: now) else { return false }
            session.lastCheck = max(session.lastCheck, now)
            s.sessions[signature] = session
            s.dirty.insert(signature)
            return true
        }
    }

    func deleteSession(signature: String) throws {
        try database.deleteSession(signature: signature)
        state.withLock { s in
            s.sessions[signature] = nil
            s.dirty.remove(signature)
        }
    }

    func maintain(now: Int64) throws -> Int {
        let (refreshed, expired, live): ([(signature: String, lastCheck: Int64)], [String], Int) = state.withLock { s in
            let refreshed = s.dirty.compactMap { signature in s.sessions[signature].map { (signature: signature, lastCheck: $0.lastCheck) } }
            s.dirty.removeAll()
            let expired = s.sessions.values.filter { !$0.isLive(at: now) }.map(\.signature)
            for signature in expired { s.sessions[signature] = nil }
            return (refreshed, expired, s.sessions.count)
        }
        try database.flush(lastChecks: refreshed, expired: expired)
        return live
    }

    func refreshInMemory(signature: String, now: Int64) -> Bool { refresh(signature: signature, now: now) }

    func enrolledStoreIDsInMemory(user: Int64) -> Set<String>? { state.withLock { $0.enrolled[user] } }

    func stores(user: Int64) throws -> [StoreRecord] { try database.stores(user: user) }

    func enrolledStoreIDs(user: Int64) throws -> Set<String> {
        let (known, generation) = state.withLock { ($0.enrolled[user], $0.mountGeneration) }
        if let known { return known }
        let ids = Set(try database.stores(user: user).map(\.storeID))
        state.withLock { s in if s.mountGeneration == generation { s.enrolled[user] = ids } }
        return ids
    }

    func upsert(user: Int64, store: StoreRecord) throws {
        try database.upsert(user: user, store: store)
        mountTableChanged(user: user)
    }

    func deleteStore(user: Int64, channel: String, storeID: String) throws {
        try database.deleteStore(user: user, channel: channel, storeID: storeID)
        mountTableChanged(user: user)
    }

    func deleteChannel(user: Int64, channel: String) throws {
        try database.deleteChannel(user: user, channel: channel)
        mountTableChanged(user: user)
    }

    private func mountTableChanged(user: Int64) {
        state.withLock { s in
            s.enrolled[user] = nil
            s.mountGeneration += 1
        }
    }
}
