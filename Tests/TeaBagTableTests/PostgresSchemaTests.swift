/// The table's PostgreSQL schema: versioned migrations applied once at
/// start, even by instances starting together, and a database newer than
/// this teabag refused (503) rather than written to.
import Foundation
import Logging
import Testing
import TeaBagTestSupport

@Suite("Table: PostgreSQL schema migrations")
struct PostgresSchemaTests {
    @Test("three instances starting at once over a new database apply each migration once, and all serve")
    func concurrentStart() async throws {
        let cluster = try await PostgresCluster.shared()
        let database = try cluster.createDatabase()
        try await withStarted({ () async throws -> [TableFixture] in
            async let a = TableFixture.start(.postgres, database: database, createUser: false)
            async let b = TableFixture.start(.postgres, database: database, createUser: false)
            async let c = TableFixture.start(.postgres, database: database, createUser: false)
            return try await [a, b, c]
        }) { (tables: [TableFixture]) async throws in
            #expect(try await tables[0].admin(.PUT, "admin/user/1/master/secret").isOK)
            for t in tables { #expect(try await t.get("user/1/session/new?master=secret&timeout=5000").status == 200) }
            #expect(try cluster.psql(database, "SELECT string_agg(version::text, ',' ORDER BY version) FROM table_schema_versions") == "1")
        }
    }

    @Test("a database whose schema is newer than this teabag: 503, nothing written")
    func newerSchema() async throws {
        let cluster = try await PostgresCluster.shared()
        let first = try await TableFixture.start(.postgres)
        let database = try #require(first.database)
        await first.stop()
        try _ = cluster.psql(database, "INSERT INTO table_schema_versions (version) VALUES (99)")
        try await withStarted({ try await TableFixture.start(.postgres, database: database, createUser: false, configure: { $0.databaseTimeoutMs = 5_000 }) }) { t in
            let answer = try await t.admin(.PUT, "admin/user/2/master/two")
            #expect(answer.status == 503)
            #expect(answer.errorName == "ServerError:DatabaseUnavailable")
            #expect(answer.json?["error"]?["message"]?.stringValue?.contains("version 99, newer than this teabag knows") == true, "\(answer.text)")
            #expect(try cluster.psql(database, "SELECT count(*) FROM table_users WHERE id = 2") == "0")
        }
    }
}
