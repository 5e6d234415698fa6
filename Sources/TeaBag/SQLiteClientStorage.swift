import Foundation
import GRDB
import TeaBagCore

/// Client storage in one SQLite file (the agent's `<data>/agent.sqlite`).
/// The outbox is written in WAL mode with `synchronous=NORMAL`: a write
/// acknowledged by the agent survives the agent's crash (SIGKILL); `full`
/// durability also survives a power cut, at the cost of an fsync per write.
public final class SQLiteClientStorage: ClientStorage {
    private let queue: DatabaseQueue

    public enum Durability: String, Sendable { case normal, full }

    public init(path: String, durability: Durability = .normal) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability == .full ? "FULL" : "NORMAL")")
        }
        do {
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            try Self.migrator.migrate(queue)
        } catch {
            throw TeaBagError(.clientStorage, "cannot open the client database \(path) (\(error)); move the damaged file aside or point the data directory elsewhere")
        }
    }

    /// Opens an agent's existing file read-only, safe while the agent runs
    /// (`teabag plugins diff`): SQLite's read-only mode, no migration, no write.
    public init(readingOnly path: String) throws {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        do { queue = try DatabaseQueue(path: path, configuration: configuration) } catch {
            throw TeaBagError(.clientStorage, "cannot open the client database \(path) read-only (\(error))")
        }
    }

    /// The channels whose oplogs this file holds.
    public func oplogChannels() throws -> [String] {
        try queue.read { db in
            // A file read-only is not migrated: it may still have the first schema.
            let table = try db.tableExists("oplog_ops") ? "oplog_ops" : "oplogs"
            return try String.fetchAll(db, sql: "SELECT DISTINCT channel FROM \(table) ORDER BY channel")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE node (id TEXT NOT NULL, next_seq INTEGER NOT NULL);
                CREATE TABLE outbox (channel TEXT NOT NULL, store TEXT NOT NULL, seq INTEGER NOT NULL,
                                     type TEXT NOT NULL, path TEXT NOT NULL, op TEXT NOT NULL,
                                     PRIMARY KEY (channel, store, seq)) WITHOUT ROWID;
                CREATE TABLE oplogs (channel TEXT NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL, ops TEXT NOT NULL,
                                     PRIMARY KEY (channel, type, path)) WITHOUT ROWID;
                CREATE TABLE settings (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
                """)
        }
        // One row per cached op, so that a changed oplog writes only the ops
        // it gained and deletes those it lost, never the whole oplog again.
        migrator.registerMigration("v2-oplog-ops") { db in
            try db.execute(sql: """
                CREATE TABLE oplog_ops (channel TEXT NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL, sha TEXT NOT NULL,
                                        op TEXT NOT NULL, PRIMARY KEY (channel, type, path, sha)) WITHOUT ROWID;
                """)
            let rows = try Row.fetchAll(db, sql: "SELECT channel, type, path, ops FROM oplogs")
            for row in rows {
                let text: String = row["ops"]
                guard case .array(let items) = try? JSON.parse(Array(text.utf8), maxDepth: 512) else { continue }
                for item in items {
                    guard let op = try? Op(json: item) else { continue }
                    try db.execute(sql: "INSERT OR REPLACE INTO oplog_ops (channel, type, path, sha, op) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [row["channel"], row["type"], row["path"], op.sha, item.canonicalString])
                }
            }
            try db.execute(sql: "DROP TABLE oplogs")
        }
        return migrator
    }

    public func loadNode() throws -> NodeRecord? {
        try queue.read { db in
            try Row.fetchOne(db, sql: "SELECT id, next_seq FROM node").map { NodeRecord(id: $0["id"], nextSeq: $0["next_seq"]) }
        }
    }

    public func saveNode(_ node: NodeRecord) throws {
        try queue.write { db in
            try db.execute(sql: "DELETE FROM node")
            try db.execute(sql: "INSERT INTO node (id, next_seq) VALUES (?, ?)", arguments: [node.id, node.nextSeq])
        }
    }

    public func enqueue(channel: String, entry: OutboxEntry, stores: [String], nextSeq: Int64) throws {
        try apply([.enqueue(channel: channel, entry: entry, stores: stores, nextSeq: nextSeq)])
    }

    public func dequeue(channel: String, store: String, seqs: [Int64]) throws {
        try apply([.dequeue(channel: channel, store: store, seqs: seqs)])
    }

    public func drop(channel: String, seq: Int64) throws {
        try apply([.drop(channel: channel, seq: seq)])
    }

    public func dropOutbox(channel: String, store: String) throws {
        try apply([.dropOutbox(channel: channel, store: store)])
    }

    /// One transaction, so one commit (and with `full`, one fsync) for all.
    public func apply(_ changes: [StorageChange]) throws {
        guard !changes.isEmpty else { return }
        try queue.write { db in
            for change in changes { try Self.make(change, in: db) }
        }
    }

    /// The ops the cache lacks are inserted, those the oplog no longer has deleted.
    private static func saveOplog(channel: String, key: PathKey, ops: [Op], in db: Database) throws {
        let arguments: StatementArguments = [channel, key.type, key.path]
        var held = Set(try String.fetchAll(db.cachedStatement(sql: "SELECT sha FROM oplog_ops WHERE channel = ? AND type = ? AND path = ?"),
                                           arguments: arguments))
        let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO oplog_ops (channel, type, path, sha, op) VALUES (?, ?, ?, ?, ?)")
        for op in ops where held.remove(op.sha) == nil {
            try insert.execute(arguments: [channel, key.type, key.path, op.sha, op.json.canonicalString])
        }
        let delete = try db.cachedStatement(sql: "DELETE FROM oplog_ops WHERE channel = ? AND type = ? AND path = ? AND sha = ?")
        for sha in held { try delete.execute(arguments: [channel, key.type, key.path, sha]) }
    }

    private static func make(_ change: StorageChange, in db: Database) throws {
        switch change {
        case .enqueue(let channel, let entry, let stores, let nextSeq):
            let op = entry.op.json.canonicalString
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO outbox (channel, store, seq, type, path, op) VALUES (?, ?, ?, ?, ?, ?)")
            for store in stores {
                try insert.execute(arguments: [channel, store, entry.seq, entry.key.type, entry.key.path, op])
            }
            // Never back: group commits may carry seqs out of order.
            try db.cachedStatement(sql: "UPDATE node SET next_seq = MAX(next_seq, ?)").execute(arguments: [nextSeq])
        case .dequeue(let channel, let store, let seqs):
            let delete = try db.cachedStatement(sql: "DELETE FROM outbox WHERE channel = ? AND store = ? AND seq = ?")
            for seq in seqs { try delete.execute(arguments: [channel, store, seq]) }
        case .drop(let channel, let seq):
            try db.cachedStatement(sql: "DELETE FROM outbox WHERE channel = ? AND seq = ?").execute(arguments: [channel, seq])
        case .dropOutbox(let channel, let store):
            try db.execute(sql: "DELETE FROM outbox WHERE channel = ? AND store = ?", arguments: [channel, store])
        case .saveOplogs(let channel, let oplogs):
            for (key, ops) in oplogs { try saveOplog(channel: channel, key: key, ops: ops, in: db) }
        case .addToOplogs(let channel, let ops):
            let insert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO oplog_ops (channel, type, path, sha, op) VALUES (?, ?, ?, ?, ?)")
            for (key, op) in ops { try insert.execute(arguments: [channel, key.type, key.path, op.sha, op.json.canonicalString]) }
        case .saveSetting(let name, let value):
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO settings (name, value) VALUES (?, ?)").execute(arguments: [name, value])
        }
    }

    public func outboxes(channel: String) throws -> [String: [OutboxEntry]] {
        try queue.read { db in
            var result: [String: [OutboxEntry]] = [:]
            let rows = try Row.fetchCursor(db, sql: "SELECT store, seq, type, path, op FROM outbox WHERE channel = ? ORDER BY store, seq",
                                           arguments: [channel])
            while let row = try rows.next() {
                let key = PathKey(checkedType: row["type"], path: row["path"])
                let op = try Self.op(row["op"])
                result[row["store"], default: []].append(OutboxEntry(seq: row["seq"], key: key, op: op))
            }
            return result
        }
    }

    public func saveOplogs(channel: String, _ oplogs: [(key: PathKey, ops: [Op])]) throws {
        guard !oplogs.isEmpty else { return }
        try apply([.saveOplogs(channel: channel, oplogs)])
    }

    public func addToOplogs(channel: String, _ ops: [(key: PathKey, op: Op)]) throws {
        guard !ops.isEmpty else { return }
        try apply([.addToOplogs(channel: channel, ops)])
    }

    public func oplogs(channel: String) throws -> [(key: PathKey, ops: [Op])] {
        try queue.read { db in
            guard try db.tableExists("oplog_ops") else { return try Self.firstSchemaOplogs(channel: channel, in: db) }
            var result: [(key: PathKey, ops: [Op])] = []
            let rows = try Row.fetchCursor(db, sql: "SELECT type, path, op FROM oplog_ops WHERE channel = ? ORDER BY type, path", arguments: [channel])
            while let row = try rows.next() {
                let key = PathKey(checkedType: row["type"], path: row["path"])
                let op = try Self.op(row["op"])
                if result.last?.key == key { result[result.count - 1].ops.append(op) } else { result.append((key: key, ops: [op])) }
            }
            return result
        }
    }

    /// A file opened read-only before its agent migrated it: one JSON array per path.
    private static func firstSchemaOplogs(channel: String, in db: Database) throws -> [(key: PathKey, ops: [Op])] {
        var result: [(key: PathKey, ops: [Op])] = []
        let rows = try Row.fetchCursor(db, sql: "SELECT type, path, ops FROM oplogs WHERE channel = ? ORDER BY type, path", arguments: [channel])
        while let row = try rows.next() {
            let text: String = row["ops"]
            guard case .array(let items) = try JSON.parse(Array(text.utf8), maxDepth: 512) else { continue }
            result.append((key: PathKey(checkedType: row["type"], path: row["path"]), ops: try items.map { try Op(json: $0) }))
        }
        return result
    }

    public var keepsOplogs: Bool { true }

    public func setting(_ name: String) throws -> String? {
        try queue.read { db in try String.fetchOne(db, sql: "SELECT value FROM settings WHERE name = ?", arguments: [name]) }
    }

    public func saveSetting(_ name: String, _ value: String) throws {
        try apply([.saveSetting(name: name, value: value)])
    }

    private static func op(_ text: String) throws -> Op {
        try Op(jsonBytes: Array(text.utf8), maxDepth: 512)
    }
}
