/// A store whose PostgreSQL cannot be reached keeps running and answers 503
/// with Retry-After (never a crash, never a 500), and serves again once the
/// database is there.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Store: PostgreSQL unreachable")
struct PostgresStoreAvailabilityTests {
    static func expectUnavailable(_ answer: HTTPAnswer) {
        #expect(answer.status == 503, "\(answer.status) \(answer.text)")
        #expect(answer.json?["error"]?["name"]?.stringValue == "ServerError:DatabaseUnavailable", "\(answer.text)")
        #expect(answer.headers.first(name: "Retry-After").flatMap(Int.init).map { $0 >= 1 } == true)
    }

    static func start(database: String) async throws -> RunningStore {
        try await startStore(data: try temporaryDirectory("store"), configure: {
            $0.database = database
            $0.databaseTimeoutMs = 5_000
        })
    }

    @Test("nothing listening at the database's address: 503 with Retry-After on admin, push and reads; the process serves on")
    func nothingListening() async throws {
        try await withStarted({ try await Self.start(database: "postgresql://postgres@127.0.0.1:\(try PostgresCluster.unusedPort())/nowhere") }) { (store) async throws in
            let admin = [HTTP.basic("admin", store.key)]
            Self.expectUnavailable(try await HTTP.request(.PUT, store.url + "admin/user/1", headers: admin))
            Self.expectUnavailable(try await HTTP.get(store.url + "admin/user/1/code", headers: admin))
            let c = StoreClient(userURL: store.userURL(1), token: "store_1_2_3_" + String(repeating: "a", count: 64))
            Self.expectUnavailable(try await c.push("note", "/n", payloadOp(1, "n1", 1)))
            Self.expectUnavailable(try await c.oplog("note", "/n"))
            #expect(try await HTTP.get(store.url + "healthz").status == 200)
        }
    }

    @Test("a database that appears after the start is migrated and served")
    func databaseAppearsLater() async throws {
        let cluster = try await PostgresCluster.shared()
        let name = "store_later_\(UInt32.random(in: 0...UInt32.max))"
        try await withStarted({ try await Self.start(database: cluster.url(database: name)) }) { (store) async throws in
            let admin = [HTTP.basic("admin", store.key)]
            Self.expectUnavailable(try await HTTP.request(.PUT, store.url + "admin/user/1", headers: admin))
            try cluster.createDatabase(named: name)
            #expect(try await eventually(30) { try await HTTP.request(.PUT, store.url + "admin/user/1", headers: admin).isOK })
            #expect(try await HTTP.get(store.url + "admin/user/1/code", headers: admin).json?["code"]?.stringValue != nil)
        }
    }
}
