/// A user's held ops after a stream id, read from the `log` in pages, for
/// resumes. Paged so that a resume from far back never reads (or holds)
/// the whole history at once, and never stops early: every held op after
/// the id is sent, or the client is told to resync (issue 14 §3).
import Foundation
import GRDB
import TeaBagCore

enum StreamHistory {
    static let pageSize = 5_000

    /// Up to `pageSize` frames of `user` with ids above `after`, in id order.
    static func page(_ reader: any DatabaseReader, user: Int64, after: Int64) throws -> [StreamFrame] {
        try reader.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT log.id, paths.type, paths.path, \(OpRow.columnList.split(separator: ",").map { "log." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", "))
                FROM paths JOIN log ON log.path_id = paths.id
                WHERE paths.user_id = ? AND log.id > ? ORDER BY log.id LIMIT ?
                """, arguments: [user, after, pageSize])
            var frames: [StreamFrame] = []
            while let row = try rows.next() {
                let columns = OpRow.Columns(row: row, from: 3)
                let text = OpText.entry(try OpRow.op(columns), columns: columns, type: row[1], path: row[2])
                frames.append(StreamFrame(id: row[0], user: user, entryText: text))
            }
            return frames
        }
    }
}

extension OpRow.Columns {
    /// The columns of `OpRow.columnList` from a GRDB row, starting at `first`.
    init(row: Row, from first: Int) {
        func bytes(_ index: Int) -> [UInt8]? {
            switch row[index] as DatabaseValue? {
            case .none: return nil
            case .some(let value):
                if value.isNull { return nil }
                if let data = Data.fromDatabaseValue(value) { return [UInt8](data) }
                if let text = String.fromDatabaseValue(value) { return Array(text.utf8) }
                return nil
            }
        }
        self.init(date: row[first], sha: bytes(first + 1) ?? [], node: row[first + 2], nseq: row[first + 3],
                  payload: bytes(first + 4), value: bytes(first + 5), covers: bytes(first + 6), extra: bytes(first + 7))
    }
}
