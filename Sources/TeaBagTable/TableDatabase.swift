/// The table's SQLite file: users, sessions and the mount table, with
/// migrations from the first version on. `SQLiteTableStorage` serves from
/// a mirror of it.
import Foundation
import GRDB
import TeaBagServerKit

struct UserRow: Sendable {
    let id: Int64
    let masterHash: String
}

final class TableDatabase: Sendable {
    let pool: DatabasePool

    init(path: String, durability: Durability) throws {
        pool = try ServerDatabase.open(path: path, durability: durability, migrator: Self.migrator)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    id INTEGER PRIMARY KEY,
                    master_hash TEXT NOT NULL,
                    created_ms INTEGER NOT NULL,
                    updated_ms INTEGER NOT NULL
                );
                CREATE TABLE sessions (
                    signature TEXT PRIMARY KEY,
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    created_ms INTEGER NOT NULL,
                    timeout_ms INTEGER NOT NULL,
                    description TEXT NOT NULL,
                    last_check_ms INTEGER NOT NULL
                );
                CREATE INDEX sessions_by_user ON sessions(user_id, created_ms);
                CREATE TABLE stores (
                    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    channel TEXT NOT NULL,
                    store_id TEXT NOT NULL,
                    url TEXT NOT NULL,
                    code TEXT NOT NULL,
                    created_ms INTEGER NOT NULL,
                    PRIMARY KEY (user_id, channel, store_id)
                );
                """)
        }
        return migrator
    }

    func users() throws -> [UserRow] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, master_hash FROM users").map { UserRow(id: $0["id"], masterHash: $0["master_hash"]) }
        }
    }

    func sessions() throws -> [SessionRow] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM sessions ORDER BY created_ms").map(Self.session)
        }
    }

    static func session(_ row: Row) -> SessionRow {
        SessionRow(signature: row["signature"], user: row["user_id"], created: row["created_ms"], timeout: row["timeout_ms"],
                   description: row["description"], lastCheck: row["last_check_ms"])
    }

    /// Creates or updates a user and deletes all its sessions, in one transaction.
    func setMaster(user: Int64, hash: String, now: Int64) throws {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO users (id, master_hash, created_ms, updated_ms) VALUES (?, ?, ?, ?)
                ON CONFLICT(id) DO UPDATE SET master_hash = excluded.master_hash, updated_ms = excluded.updated_ms
                """, arguments: [user, hash, now, now])
            try db.execute(sql: "DELETE FROM sessions WHERE user_id = ?", arguments: [user])
        }
    }

    /// False when a session with this signature exists: then nothing changed.
    func insert(session: SessionRow) throws -> Bool {
        try pool.write { db in
            try db.execute(sql: "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(signature) DO NOTHING",
                           arguments: [session.signature, session.user, session.created, session.timeout, session.description, session.lastCheck])
            return db.changesCount == 1
        }
    }

    func deleteSession(signature: String) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM sessions WHERE signature = ?", arguments: [signature]) }
    }

    /// Persists sliding-expiry refreshes and drops expired sessions, in one transaction.
    func flush(lastChecks: [(signature: String, lastCheck: Int64)], expired: [String]) throws {
        guard !lastChecks.isEmpty || !expired.isEmpty else { return }
        try pool.write { db in
            for (signature, lastCheck) in lastChecks {
                try db.execute(sql: "UPDATE sessions SET last_check_ms = max(last_check_ms, ?) WHERE signature = ?", arguments: [lastCheck, signature])
            }
            for signature in expired {
                try db.execute(sql: "DELETE FROM sessions WHERE signature = ?", arguments: [signature])
            }
        }
    }

    func stores(user: Int64) throws -> [StoreRecord] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM stores WHERE user_id = ? ORDER BY channel, created_ms, store_id", arguments: [user]).map {
                StoreRecord(channel: $0["channel"], storeID: $0["store_id"], url: $0["url"], code: $0["code"], created: $0["created_ms"])
            }
        }
    }

    func isEnrolled(user: Int64, storeID: String) throws -> Bool {
        try pool.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM stores WHERE user_id = ? AND store_id = ?)", arguments: [user, storeID]) ?? false
        }
    }

    func upsert(user: Int64, store: StoreRecord) throws {
        try pool.write { db in
            try db.execute(sql: """
                INSERT INTO stores (user_id, channel, store_id, url, code, created_ms) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT(user_id, channel, store_id) DO UPDATE SET url = excluded.url, code = excluded.code, created_ms = excluded.created_ms
                """, arguments: [user, store.channel, store.storeID, store.url, store.code, store.created])
        }
    }

    func deleteStore(user: Int64, channel: String, storeID: String) throws {
        try pool.write { db in
            try db.execute(sql: "DELETE FROM stores WHERE user_id = ? AND channel = ? AND store_id = ?", arguments: [user, channel, storeID])
        }
    }

    func deleteChannel(user: Int64, channel: String) throws {
        try pool.write { db in try db.execute(sql: "DELETE FROM stores WHERE user_id = ? AND channel = ?", arguments: [user, channel]) }
    }
}
