/// A read-only look at a store's data directory, safe while the store runs:
/// `teabag plugins diff` folds what a store holds without the store.
///
/// This is the one place outside the store's own code that knows the
/// store's schema; a schema change ports this function and nothing else.
import Foundation
import GRDB
import TeaBagCore

public enum StoreSnapshot {
    /// One held path: its base and its payload ops in fold order.
    public struct Path: Sendable {
        public let user: Int64
        public let type: String
        public let path: String
        public let base: Op
        public let ops: [Op]
    }

    /// The store's database file in `dataDirectory`.
    public static func databasePath(dataDirectory: String) -> String {
        (dataDirectory as NSString).appendingPathComponent("store.sqlite")
    }

    /// Every path of `types` (every type when nil) held in the store at
    /// `dataDirectory`, by user, type and path. The file is opened read-only
    /// (SQLite's read-only mode: a WAL reader that never writes and never
    /// blocks the store's writer) and read in one transaction, so the
    /// answer is one consistent moment of a live store.
    public static func paths(dataDirectory: String, types: Set<String>?) throws -> [Path] {
        let file = databasePath(dataDirectory: dataDirectory)
        guard FileManager.default.fileExists(atPath: file) else {
            throw StoreSnapshotError("\(dataDirectory) holds no store.sqlite: give a store's data directory (store.data)")
        }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        let queue: DatabaseQueue
        do { queue = try DatabaseQueue(path: file, configuration: configuration) } catch {
            throw StoreSnapshotError("cannot open \(file) read-only: \(error)")
        }
        return try queue.read { db in
            // A directory a store of the first schema left is migrated by the store's next start, not here.
            guard try db.tableExists("log") else {
                throw StoreSnapshotError("\(file) is in the store's first schema; start the store once (it migrates the file), then diff")
            }
            var result: [Path] = []
            let rows = try Row.fetchAll(db, sql: "SELECT user_id, type, path FROM paths ORDER BY user_id, type, path")
            for row in rows {
                let (user, type, path): (Int64, String, String) = (row["user_id"], row["type"], row["path"])
                if let types, !types.contains(type) { continue }
                guard let held = try HeldPath.read(db, user: user, type: type, path: path) else { continue }
                result.append(Path(user: user, type: type, path: path, base: held.base, ops: held.ops))
            }
            return result
        }
    }
}

public struct StoreSnapshotError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
