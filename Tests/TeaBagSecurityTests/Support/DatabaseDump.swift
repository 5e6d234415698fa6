/// Every row of every table of a server's SQLite file, as text: taken
/// before and after an attack, the two must be equal ("the database is
/// unchanged"). Read through a second connection, as any reader of the WAL
/// file would see it.
import Foundation
import GRDB

struct DatabaseDump: Equatable, CustomStringConvertible {
    /// Table name → its rows, each rendered and sorted.
    let tables: [String: [String]]

    /// - Parameter ignoring: `table.column`s left out of the rows.
    static func of(_ path: String, ignoring: Set<String> = []) throws -> DatabaseDump {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        return try queue.read { db in
            var tables: [String: [String]] = [:]
            let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name != 'grdb_migrations'")
            for name in names {
                let rows = try Row.fetchAll(db, sql: "SELECT * FROM \"\(name)\"")
                tables[name] = rows.map { row in
                    row.columnNames.filter { !ignoring.contains("\(name).\($0)") }
                        .map { "\($0):\(row[$0] as DatabaseValue)" }.joined(separator: " ")
                }.sorted()
            }
            return DatabaseDump(tables: tables)
        }
    }

    var rowCount: Int { tables.values.reduce(0) { $0 + $1.count } }

    var description: String {
        tables.keys.sorted().map { "\($0): \(tables[$0]!.count) rows" }.joined(separator: ", ")
    }

    /// The rows one side has and the other lacks, for a failure message.
    func difference(from other: DatabaseDump) -> String {
        var lines: [String] = []
        for name in Set(tables.keys).union(other.tables.keys).sorted() {
            let mine = Set(tables[name] ?? []), theirs = Set(other.tables[name] ?? [])
            for row in mine.subtracting(theirs).sorted() { lines.append("+ \(name) \(row)") }
            for row in theirs.subtracting(mine).sorted() { lines.append("- \(name) \(row)") }
        }
        return lines.prefix(20).joined(separator: "\n")
    }
}
