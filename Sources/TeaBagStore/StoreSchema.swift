/// The store's SQLite file: users, single-use codes, per-path state (the
/// base, the materialized value) and the `log`: one row per held op, its
/// rowid the op's stream id, appended in id order. The log is both the
/// oplogs (through the `log_path` index) and the streams' history (a
/// resume reads a user's rows after its `Last-Event-ID`); `runs` records
/// the id range each start of the store issued (see `StreamIDs`).
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
        migrator.registerMigration("v2-log") { db in
            try db.execute(sql: """
                CREATE TABLE log (
                    id INTEGER PRIMARY KEY,
                    path_id INTEGER NOT NULL,
                    date INTEGER NOT NULL,
                    sha BLOB NOT NULL,
                    node TEXT,
                    nseq INTEGER,
                    payload TEXT,
                    value TEXT,
                    covers TEXT,
                    extra TEXT
                );
                CREATE INDEX log_path ON log (path_id);
                CREATE TABLE runs (
                    start_id INTEGER PRIMARY KEY,
                    end_id INTEGER,
                    legacy INTEGER NOT NULL DEFAULT 0
                );
                """)
            try LegacyMigration.moveOps(db)
            try db.execute(sql: "DROP TABLE ops; DROP TABLE events;")
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
