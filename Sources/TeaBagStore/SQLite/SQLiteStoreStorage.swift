/// The store's default storage: its SQLite file, written by the one writer
/// thread (`StoreWriter`), read through GRDB's pool. A request reaches the
/// writer as before — `submit` is the writer's own — so the seam adds no
/// hop and no allocation to the SQLite hot path.
import Foundation
import GRDB
import TeaBagCore

final class SQLiteStoreStorage: StoreStorage {
    let pool: DatabasePool
    let writer: StoreWriter

    init(pool: DatabasePool, writer: StoreWriter) {
        self.pool = pool
        self.writer = writer
    }

    @inline(__always)
    func submit(_ request: WriteRequest) { writer.submit(request) }

    func user(_ id: Int64) async throws -> StoreUser? {
        try await pool.read { db in try StoreUser.fetch(db, id: id) }
    }

    func createUser(_ id: Int64, now: Int64) async throws {
        try await pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO users (id, created_ms) VALUES (?, ?)", arguments: [id, now])
        }
    }

    func confirm(user id: Int64, code: String, expiry: Int64, tableURL: String, storeID: String?, now: Int64) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM used_codes WHERE expiry_ms < ?", arguments: [now])
            do {
                try db.execute(sql: "INSERT INTO used_codes (user_id, code, expiry_ms) VALUES (?, ?, ?)", arguments: [id, code, expiry])
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                return false
            }
            var user = try StoreUser.fetch(db, id: id)!
            user.tableURL = tableURL
            if let storeID, !user.storeIDs.contains(storeID) { user.storeIDs.append(storeID) }
            try db.execute(sql: "UPDATE users SET table_url = ?, store_ids = ? WHERE id = ?", arguments: [tableURL, user.storeIDsText, id])
            return true
        }
    }

    func heldPath(user: Int64, type: String, path: String) async throws -> HeldPath? {
        try await pool.read { db in try HeldPath.read(db, user: user, type: type, path: path) }
    }

    func value(user: Int64, type: String, path: String, version: String) async throws -> StoredValue {
        try await pool.read { db -> StoredValue in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM paths WHERE user_id = ? AND type = ? AND path = ?",
                                             arguments: [user, type, path]) else {
                return .ready(StoredValue.never)
            }
            if row["value_version"] as String? == version, let text: String = row["value"],
               let value = try? JSON.parse(text, maxDepth: 512) {
                let base = try Op(jsonBytes: Array((row["base"] as String).utf8), maxDepth: 512)
                return .ready(["value": value, "date": .number(Double(row["value_date"] ?? base.date)),
                               "sha": .string(row["value_sha"] ?? base.sha)])
            }
            return .fold(try HeldPath.read(db, user: user, type: type, path: path)!)
        }
    }

}

/// Resumes from the SQLite log; the plan is this process's (`StreamIDs`), known at once.
struct SQLiteStreamSource: StreamSource {
    let pool: DatabasePool
    let ids: StreamIDs

    func immediatePlan(user: Int64, after lastEventID: Int64) -> ResumePlan? { ids.plan(after: lastEventID) }

    func plan(user: Int64, after lastEventID: Int64) async throws -> ResumePlan { ids.plan(after: lastEventID) }

    func historyPage(user: Int64, after: Int64) async throws -> [StreamFrame] {
        try StreamHistory.page(pool, user: user, after: after)
    }
}

extension StoredValue {
    /// The value of a path never written: the empty base's.
    static let never: JSON = ["value": .null, "date": 0, "sha": .string(Op.emptySHA)]
}

extension StoreUser {
    /// `store_ids` as stored: a JSON array.
    var storeIDsText: String { String(decoding: (try? JSONEncoder().encode(storeIDs)) ?? Data("[]".utf8), as: UTF8.self) }
}
