/// What the writer keeps of one path between pushes, so that a push costs
/// index lookups and one incremental fold, whatever the oplog's length.
import GRDB
import TeaBagCore

struct PathKey: Hashable, Sendable {
    let user: Int64
    let type: String
    let path: String
}

struct PathState: Sendable {
    let id: Int64
    var base: Op
    /// Order key of the last op folded into `value`; a new op that sorts after it folds incrementally.
    var lastKey: MergeRules.OrderKey?
    var value: JSON?
    /// Which reducer produced `value` (file and version); another one means a refold.
    var valueVersion: String?
    var valueDate: Int64
    var valueSHA: String
    var skipped: Int

    /// No value kept: the next `GET value` folds the path.
    mutating func markStale() {
        value = nil
        valueVersion = nil
        lastKey = nil
    }

    static func load(_ db: Database, key: PathKey) throws -> PathState? {
        guard let row = try Row.fetchOne(db, sql: "SELECT * FROM paths WHERE user_id = ? AND type = ? AND path = ?",
                                         arguments: [key.user, key.type, key.path]) else { return nil }
        return try PathState(row: row)
    }

    init(row: Row) throws {
        id = row["id"]
        base = try Op(jsonBytes: Array((row["base"] as String).utf8), maxDepth: 512)
        if let date: Int64 = row["last_date"], let sha: String = row["last_sha"] { lastKey = .init(date: date, sha: sha) }
        value = (row["value"] as String?).flatMap { try? JSON.parse($0, maxDepth: 512) }
        valueVersion = row["value_version"]
        valueDate = row["value_date"] ?? base.date
        valueSHA = row["value_sha"] ?? base.sha
        skipped = row["skipped"]
    }

    init(id: Int64) {
        self.id = id
        base = .empty
        valueDate = 0
        valueSHA = Op.emptySHA
        skipped = 0
    }

    static func create(_ db: Database, key: PathKey) throws -> PathState {
        try db.execute(sql: "INSERT INTO paths (user_id, type, path, base) VALUES (?, ?, ?, ?)",
                       arguments: [key.user, key.type, key.path, Op.empty.json.canonicalString])
        return PathState(id: db.lastInsertedRowID)
    }

    /// Writes the value and its bookkeeping; the base too when it changed.
    func save(_ db: Database, baseChanged: Bool) throws {
        if baseChanged {
            try db.cachedStatement(sql: "UPDATE paths SET base = ? WHERE id = ?").execute(arguments: [base.json.canonicalString, id])
        }
        try db.cachedStatement(sql: """
            UPDATE paths SET value = ?, value_version = ?, value_date = ?, value_sha = ?, last_date = ?, last_sha = ?, skipped = ?
            WHERE id = ?
            """).execute(arguments: [value?.canonicalString, valueVersion, valueDate, valueSHA, lastKey?.date, lastKey?.sha, skipped, id])
    }

    /// The payload ops held, in fold order.
    static func ops(_ db: Database, pathID: Int64, base: Op) throws -> [Op] {
        let ops = try String.fetchAll(db, sql: "SELECT body FROM ops WHERE path_id = ?", arguments: [pathID]).map {
            try Op(jsonBytes: Array($0.utf8), maxDepth: 512)
        }
        return ops.sorted { MergeRules.orderKey($0, base: base) < MergeRules.orderKey($1, base: base) }
    }
}
