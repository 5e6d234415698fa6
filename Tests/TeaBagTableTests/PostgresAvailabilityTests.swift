/// A table whose PostgreSQL cannot be reached keeps running and answers 503
/// with Retry-After (never a crash, never a 500), and serves again once the
/// database is there.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Table: PostgreSQL unreachable")
struct PostgresAvailabilityTests {
    static func expectUnavailable(_ answer: HTTPAnswer) {
        #expect(answer.status == 503, "\(answer.status) \(answer.text)")
        #expect(answer.errorName == "ServerError:DatabaseUnavailable")
        #expect(answer.headers.first(name: "Retry-After").flatMap(Int.init).map { $0 >= 1 } == true)
    }

    @Test("nothing listening at the database's address: 503 with Retry-After, the process serves on")
    func nothingListening() async throws {
        let url = "postgresql://postgres@127.0.0.1:\(try PostgresCluster.unusedPort())/nowhere"
        try await withStarted({ try await TableFixture.start(database: url, createUser: false, configure: { $0.databaseTimeoutMs = 5_000 }) }) { t in
            Self.expectUnavailable(try await t.admin(.PUT, "admin/user/1/master/secret"))
            Self.expectUnavailable(try await t.get("user/1/session/new?master=secret&timeout=5000"))
            Self.expectUnavailable(try await t.get("user/1/session/check/session_1_2_3_\(String(repeating: "a", count: 64))"))
            #expect(try await t.get("healthz").status == 200)
        }
    }

    @Test("a database that appears after the start is migrated and served")
    func databaseAppearsLater() async throws {
        let cluster = try await PostgresCluster.shared()
        let name = "later_\(UInt32.random(in: 0...UInt32.max))"
        try await withStarted({ try await TableFixture.start(database: cluster.url(database: name), createUser: false,
                                            configure: { $0.databaseTimeoutMs = 5_000 }) }) { t in
            Self.expectUnavailable(try await t.admin(.PUT, "admin/user/1/master/secret"))
            try cluster.createDatabase(named: name)
            #expect(try await eventually(30) { try await t.admin(.PUT, "admin/user/1/master/secret").isOK })
            let token = try await t.newSession()
            #expect(try await t.get("user/1/session/check/\(token)").isOK)
        }
    }
}
