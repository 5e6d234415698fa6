/// One path's oplog as held in the `log`, read through GRDB (the reads
/// of `GET oplog`/`value`, which never go through the writer).
import GRDB
import TeaBagCore

struct HeldPath: Sendable {
    let id: Int64
    let base: Op
    /// Payload ops in fold order.
    let ops: [Op]

    static func read(_ db: Database, user: Int64, type: String, path: String) throws -> HeldPath? {
        guard let row = try Row.fetchOne(db, sql: "SELECT id, base FROM paths WHERE user_id = ? AND type = ? AND path = ?",
                                         arguments: [user, type, path]) else { return nil }
        let id: Int64 = row["id"]
        let base = try Op(jsonBytes: Array((row["base"] as String).utf8), maxDepth: 512)
        var ops: [Op] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT \(OpRow.columnList) FROM log WHERE path_id = ? AND payload IS NOT NULL",
                                       arguments: [id])
        while let row = try rows.next() { ops.append(try OpRow.op(OpRow.Columns(row: row, from: 0))) }
        ops.sort { MergeRules.orderKey($0, base: base) < MergeRules.orderKey($1, base: base) }
        return HeldPath(id: id, base: base, ops: ops)
    }
}
