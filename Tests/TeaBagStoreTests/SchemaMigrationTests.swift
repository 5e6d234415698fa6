import Foundation
import GRDB
import Testing
import TeaBagCore
import TeaBagTestSupport
@testable import TeaBagStore

/// A data directory written by the first schema (ops keyed by (path, sha),
/// a per-user `events` log) opens with the one-row-per-op `log`.
@Suite("Store: migration from the first schema")
struct SchemaMigrationTests {
    /// Writes what the first schema's writer wrote for `ops` pushed to one
    /// path of user 1: the path's base and value, its payload ops, and one
    /// event per accepted op (per-user sequence 1, 2, …).
    static func writeFirstSchema(data: String, tableURL: String, storeID: String, type: String, path: String,
                                 base: Op, ops: [Op], value: JSON) throws {
        let pool = try DatabasePool(path: data + "/store.sqlite")
        var migrator = StoreSchema.migrator
        migrator.eraseDatabaseOnSchemaChange = false
        try migrator.migrate(pool, upTo: "v1")
        try pool.write { db in
            try db.execute(sql: "INSERT INTO users (id, created_ms, table_url, store_ids) VALUES (1, 0, ?, ?)",
                           arguments: [tableURL, "[\"\(storeID)\"]"])
            let last = ops.last
            try db.execute(sql: """
                INSERT INTO paths (id, user_id, type, path, base, value, value_version, value_date, value_sha, last_date, last_sha, skipped)
                VALUES (7, 1, ?, ?, ?, ?, 'stale-version', ?, ?, ?, ?, 0)
                """, arguments: [type, path, base.json.canonicalString, value.canonicalString, last?.date, last?.sha, last?.date, last?.sha])
            for op in ops {
                try db.execute(sql: "INSERT INTO ops (path_id, sha, date, node, seq, body) VALUES (7, ?, ?, ?, ?, ?)",
                               arguments: [op.sha, op.date, op.node, op.seq, op.json.canonicalString])
            }
            // The events log also held an op a later base covered (deleted from ops).
            var seq: Int64 = 0
            for op in [Op(date: 1, sha: "covered", body: .payload(1))] + (base.sha == Op.emptySHA ? [] : [base]) + ops {
                seq += 1
                try db.execute(sql: "INSERT INTO events (user_id, seq, type, path, op) VALUES (1, ?, ?, ?, ?)",
                               arguments: [seq, type, path, op.json.canonicalString])
            }
        }
    }

    @Test("an old data directory opens: the same oplogs and values, streams resume from old ids, pushes go on")
    func migrates() async throws {
        try await withEnrolledUser { u in
            await u.store.stop()
            // The enrolled store's directory, replaced by one in the first schema.
            let data = try temporaryDirectory("teabag-migration")
            let base = Op(date: 5, sha: "b5", body: .value(10), covers: ["n": 1])
            let ops = [Op(date: 6, sha: "p6", body: .payload(2), node: "n", seq: 2),
                       Op(date: 9, sha: "p9", body: .payload(3), node: "n", seq: 3)]
            try Self.writeFirstSchema(data: data, tableURL: u.table.url + "user/1/", storeID: Enrollment.storeID(u.store.userURL(1)),
                                      type: "counter", path: "/m", base: base, ops: ops, value: 15)

            try await withStore(data: data) { store in
                let c = StoreClient(userURL: store.userURL(1), token: u.tokens[0])
                #expect(try await c.ops("counter", "/m") == [base.json] + ops.map(\.json))
                let value = try await c.value("counter", "/m")
                // Folded again: the stored value's version is not this reducer's.
                #expect(value.json?["value"] == 15)
                // The old tables are gone; the log holds the base and the ops.
                let rows = try await store.server.service.pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM log") }
                #expect(rows == 3)
                let tables = try await store.server.service.pool.read { db in
                    try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('ops', 'events')")
                }
                #expect(tables.isEmpty)

                // A client that had seen old event 2 resumes: the whole log again (never a gap), no resync.
                let resumed = try await c.events(lastEventID: "2")
                defer { resumed.close() }
                let replay = try await resumed.next(3)
                #expect(replay.allSatisfy { $0.event == nil })
                #expect(try replay.map { try JSON.parse(try #require($0.data))["op"]?["sha"] } == ["b5", "p6", "p9"])

                // Pushes go on, streamed with ids above the migrated ones.
                let op = payloadOp(20, "p20", 1, node: "n", seq: 4)
                #expect(try await c.push("counter", "/m", op).isAccepted)
                let live = try #require(try await resumed.next())
                #expect(Int64(try #require(live.id))! > Int64(try #require(replay.last?.id))!)
                #expect(try await c.ops("counter", "/m") == [base.json] + ops.map(\.json) + [op])
                #expect(try await c.value("counter", "/m").json?["value"] == 16)
            }
        }
    }
}
