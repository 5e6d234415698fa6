/// Moves a data directory written by the first schema (`ops` keyed by
/// `(path, sha)`, and a separate per-user `events` log) into the `log`.
///
/// Each path's base (unless empty) and payload ops become rows 1…N, path by
/// path. Stream ids of the old schema counted per user, so they mean
/// nothing in the new numbering: the rows are marked as one legacy run,
/// and a client resuming with any id below the first new run gets the
/// user's whole log again (duplicates are noops to it) — never a silent gap.
import Foundation
import GRDB
import TeaBagCore

enum LegacyMigration {
    static func moveOps(_ db: Database) throws {
        let insert = try db.makeStatement(sql: "INSERT INTO log (path_id, \(OpRow.columnList)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
        let paths = try Row.fetchAll(db, sql: "SELECT id, base FROM paths ORDER BY id")
        for path in paths {
            let pathID: Int64 = path["id"]
            let base = try Op(jsonBytes: Array((path["base"] as String).utf8), maxDepth: 512)
            var ops: [Op] = base.sha == Op.emptySHA ? [] : [base]
            ops += try String.fetchAll(db, sql: "SELECT body FROM ops WHERE path_id = ?", arguments: [pathID]).map {
                try Op(jsonBytes: Array($0.utf8), maxDepth: 512)
            }
            for op in ops {
                let c = OpRow.columns(of: op)
                try insert.execute(arguments: [pathID, c.date, Data(c.sha), c.node, c.nseq, c.payload.map(text),
                                               c.value.map(text), c.covers.map(text), c.extra.map(text)])
            }
        }
        // The legacy range covers every id an old client may hold: the old
        // per-user sequences and the rows just numbered.
        let oldSeq = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM events") ?? 0
        let moved = try Int64.fetchOne(db, sql: "SELECT max(id) FROM log") ?? 0
        if max(oldSeq, moved) > 0 {
            try db.execute(sql: "INSERT INTO runs (start_id, end_id, legacy) VALUES (1, ?, 1)", arguments: [max(oldSeq, moved)])
        }
    }

    private static func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
}
