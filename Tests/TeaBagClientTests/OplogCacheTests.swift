import Foundation
import Testing
import TeaBag
import TeaBagCore
import TeaBagTestSupport

/// The SQLite oplog cache keeps one row per op (issue 15 "incremental
/// storage"): a save writes the ops gained and deletes those lost.
@Suite struct OplogCacheTests {
    let key = try! PathKey(type: "counter", path: "/c")

    func ops(_ seqs: ClosedRange<Int64>) -> [Op] {
        seqs.map { OpFactory.payloadOp(payload: 1, node: "n", seq: $0, date: 1_000 + $0) }
    }

    @Test func aChangedOplogIsCachedAsItIsNowAndSurvivesReopening() throws {
        let path = try temporaryDirectory("cache") + "/agent.sqlite"
        let storage = try SQLiteClientStorage(path: path)
        let empty = Oplog().base
        try storage.saveOplogs(channel: "main", [(key: key, ops: [empty] + ops(1...3))])
        // Rows come back in key order; the oplog orders them.
        #expect(Set(try storage.oplogs(channel: "main").first?.ops.map(\.sha) ?? []) == Set(([empty] + ops(1...3)).map(\.sha)))

        // Pruned: a new base covering 1...3, then one more op.
        let base = OpFactory.valueOp(value: 3, covers: ["n": 3], date: 2_000)
        try storage.saveOplogs(channel: "main", [(key: key, ops: [base] + ops(4...4))])
        let reopened = try SQLiteClientStorage(path: path)
        let loaded = try reopened.oplogs(channel: "main")
        #expect(loaded.count == 1)
        #expect(Oplog(merging: loaded.first?.ops ?? []) == Oplog(merging: [base] + ops(4...4)))
    }

    @Test func aFirstSchemaDatabaseKeepsItsCachedOplogs() throws {
        let path = try temporaryDirectory("cache-v1") + "/agent.sqlite"
        let cached = JSON.array(([Oplog().base] + ops(1...2)).map(\.json)).canonicalString.replacingOccurrences(of: "'", with: "''")
        let script = """
            CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
            INSERT INTO grdb_migrations VALUES ('v1');
            CREATE TABLE node (id TEXT NOT NULL, next_seq INTEGER NOT NULL);
            CREATE TABLE outbox (channel TEXT NOT NULL, store TEXT NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL,
                                 op TEXT NOT NULL, PRIMARY KEY (channel, store, seq)) WITHOUT ROWID;
            CREATE TABLE oplogs (channel TEXT NOT NULL, type TEXT NOT NULL, path TEXT NOT NULL, ops TEXT NOT NULL,
                                 PRIMARY KEY (channel, type, path)) WITHOUT ROWID;
            CREATE TABLE settings (name TEXT PRIMARY KEY NOT NULL, value TEXT NOT NULL) WITHOUT ROWID;
            INSERT INTO oplogs VALUES ('main', 'counter', '/c', '\(cached)');
            """
        let sqlite = try ChildProcess("/usr/bin/sqlite3", [path, script])
        #expect(sqlite.waitUntilExit() == 0)
        let storage = try SQLiteClientStorage(path: path)
        let loaded = try storage.oplogs(channel: "main")
        #expect(loaded.first?.key == key)
        #expect(Oplog(merging: loaded.first?.ops ?? []) == Oplog(merging: [Oplog().base] + ops(1...2)))
    }
}
