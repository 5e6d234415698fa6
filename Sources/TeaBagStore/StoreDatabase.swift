/// The store's SQLite file: users, single-use codes, and per-path oplogs —
/// the base of each path, its payload ops, its materialized value — plus a
/// per-user log of accepted ops for streams (SSE resume by sequence).
import Foundation
import GRDB
import TeaBagServerKit

enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE users (
                    id INTEGER PRIMARY KEY,
                    created_ms INTEGER NOT NULL,
                    table_url TEXT,
                    store_ids TEXT NOT NULL DEFAULT '[]'
                );
                CREATE TABLE used_codes (
                    user_id INTEGER NOT NULL,
                    code TEXT NOT NULL,
                    expiry_ms INTEGER NOT NULL,
                    PRIMARY KEY (user_id, code)
                ) WITHOUT ROWID;
                CREATE TABLE paths (
                    id INTEGER PRIMARY KEY,
                    user_id INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    path TEXT NOT NULL,
                    base TEXT NOT NULL,
                    value TEXT,
                    value_version TEXT,
                    value_date INTEGER,
                    value_sha TEXT,
                    last_date INTEGER,
                    last_sha TEXT,
                    skipped INTEGER NOT NULL DEFAULT 0,
                    UNIQUE (user_id, type, path)
                );
                CREATE TABLE ops (
                    path_id INTEGER NOT NULL,
                    sha TEXT NOT NULL,
                    date INTEGER NOT NULL,
                    node TEXT,
                    seq INTEGER,
                    body TEXT NOT NULL,
                    PRIMARY KEY (path_id, sha)
                ) WITHOUT ROWID;
                CREATE TABLE events (
                    user_id INTEGER NOT NULL,
                    seq INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    path TEXT NOT NULL,
                    op TEXT NOT NULL,
                    PRIMARY KEY (user_id, seq)
                ) WITHOUT ROWID;
                """)
        }
        return migrator
    }
}

/// A user of this store.
struct StoreUser: Sendable, Equatable {
    let id: Int64
    var tableURL: String?
    var storeIDs: [String]
}

extension StoreUser {
    static func fetch(_ db: Database, id: Int64) throws -> StoreUser? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id]) else { return nil }
        let ids = (try? JSONDecoder().decode([String].self, from: Data((row["store_ids"] as String).utf8))) ?? []
        return StoreUser(id: id, tableURL: row["table_url"], storeIDs: ids)
    }
}

/// The per-user log of accepted ops, kept for SSE resumes.
enum StreamLog {
    /// Keeps the newest `keep` entries of each user; a resume from before them gets a resync.
    static func trim(_ pool: DatabasePool, keep: Int) throws {
        // Per user, a range delete on the primary key: a correlated subquery
        // over the whole log would hold the writer for seconds on a big log.
        let cutoffs = try pool.read { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM users").compactMap { user -> (Int64, Int64)? in
                // Two index lookups per user, not a scan of the log.
                guard let row = try Row.fetchOne(db, sql: "SELECT max(seq) AS newest, min(seq) AS oldest FROM events WHERE user_id = ?",
                                                 arguments: [user]),
                      let newest: Int64 = row["newest"], let oldest: Int64 = row["oldest"] else { return nil }
                return newest - oldest >= Int64(keep) ? (user, newest - Int64(keep)) : nil
            }
        }
        for (user, cutoff) in cutoffs {
            try pool.write { db in
                try db.execute(sql: "DELETE FROM events WHERE user_id = ? AND seq <= ?", arguments: [user, cutoff])
            }
        }
    }
}
