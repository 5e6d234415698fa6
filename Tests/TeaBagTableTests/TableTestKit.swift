/// A table per test, with user 1 (master "secret") and helpers for its routes.
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import TeaBagCore
import TeaBagServerKit
import TeaBagTable
import TeaBagTestSupport

struct TableFixture {
    let data: String
    let table: RunningTable
    /// `table.database`: nil for SQLite in `data`.
    let database: String?
    var url: String { table.url }

    /// - Parameters:
    ///   - backend: SQLite in `data`, or a fresh PostgreSQL database (unless `database` names one).
    ///   - database: for PostgreSQL, a database to reuse (a restart, a second instance).
    static func start(_ backend: TableBackend = .sqlite, database: String? = nil, clock: ManualClock? = nil, logger: Logger? = nil,
                      data: String? = nil, createUser: Bool = true,
                      configure: (inout TableConfiguration) -> Void = { _ in }) async throws -> TableFixture {
        let data = try data ?? temporaryDirectory("table")
        var database = database
        if database == nil { database = try await backend.freshDatabase() }
        let table = try await startTable(data: data, clock: clock?.read,
                                         logger: logger ?? Logger(label: "t", factory: { _ in SwiftLogNoOpLogHandler() }),
                                         configure: { [database] configuration in
                                             configuration.database = database
                                             // The whole suite shares one PostgreSQL on 2 cores: a query may
                                             // wait its turn for seconds; 503s are for a database that is gone.
                                             configuration.databaseTimeoutMs = 30_000
                                             // Likewise a stand-in store's confirm, on a machine running the whole suite.
                                             configuration.confirmTimeoutMs = 30_000
                                             configure(&configuration)
                                         })
        let fixture = TableFixture(data: data, table: table, database: database)
        if createUser {
            // A database slow to answer on a loaded machine is 503 (retry later), as a client would be told.
            var created = try await fixture.admin(.PUT, "admin/user/1/master/secret")
            for _ in 0..<10 where created.status == 503 {
                try await Task.sleep(for: .seconds(1))
                created = try await fixture.admin(.PUT, "admin/user/1/master/secret")
            }
            guard created.isOK else {
                await fixture.stop()
                throw TestFailure("could not create user 1: \(created.text)")
            }
        }
        return fixture
    }

    func stop() async {
        await table.stop()
        try? FileManager.default.removeItem(atPath: data)
    }

    func admin(_ method: HTTPMethodName, _ path: String) async throws -> HTTPAnswer {
        try await HTTP.request(method.nio, url + path, headers: [HTTP.basic("admin", table.key)])
    }

    func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPAnswer {
        try await HTTP.get(url + path, headers: headers)
    }

    func delete(_ path: String, headers: [(String, String)] = []) async throws -> HTTPAnswer {
        try await HTTP.request(.DELETE, url + path, headers: headers)
    }

    func newSession(timeout: Int = 60_000, description: String = "test") async throws -> String {
        let answer = try await get("user/1/session/new?master=secret&timeout=\(timeout)&description=\(HTTP.q(description))")
        guard let token = answer.json?["session_token"]?.stringValue else { throw TestFailure("no session: \(answer.text)") }
        return token
    }

    /// Enrolls a store served by `store` under `channel`, as docs/protocol.md#enrollment step 3 does.
    func enroll(channel: String, store: TestStore, user: Int = 1) async throws -> HTTPAnswer {
        try await HTTP.request(.POST, url + "user/\(user)/table/\(channel)/store?master=secret",
                               json: ["store_url": .string(store.userURL(user)), "code": "the-code"])
    }
}

enum HTTPMethodName {
    case GET, PUT, POST, DELETE
    var nio: NIOHTTP1.HTTPMethod {
        switch self {
        case .GET: .GET
        case .PUT: .PUT
        case .POST: .POST
        case .DELETE: .DELETE
        }
    }
}

import NIOHTTP1

/// A small stand-in for a store's `confirm` route, to test enrollment on its
/// own: it accepts, refuses, or never answers, and records what it was sent.
/// (The store issue's integration tests use the real store.)
final class TestStore: Sendable {
    enum Behaviour: Sendable { case accept, refuse, hang }
    let received = Mutex<[JSON]>([])
    private let address = BoundAddress()
    private let services: Mutex<InProcessServices?> = Mutex(nil)

    init(_ behaviour: Behaviour) async throws {
        let router = Router(context: ServerContext.self)
        router.post("/user/:user_id/confirm") { [self] request, _ -> Response in
            let body = try await request.jsonBody(BodyLimits(), errorKind: "UserError")
            self.received.withLock { $0.append(body) }
            switch behaviour {
            case .accept: return Response.ok
            case .refuse: throw APIError.badRequest("UserError:InvalidCode", "the code is not valid")
            case .hang:
                // Until the test stops this store (graceful shutdown waits for open requests).
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: .seconds(30)) }
                return Response.ok
            }
        }
        let address = self.address
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { address.set($0) },
                              logger: Logger(label: "store", factory: { _ in SwiftLogNoOpLogHandler() }))
        let running = InProcessServices([app], logger: Logger(label: "store", factory: { _ in SwiftLogNoOpLogHandler() }))
        services.withLock { $0 = running }
        guard try await eventually(30, { address.url != nil }) else {
            await running.stop()
            throw TestFailure("the stand-in store did not start listening within 30 s")
        }
    }

    func userURL(_ user: Int) -> String { "\(address.url!)/user/\(user)/" }

    func stop() async {
        let running = services.withLock { $0 }
        await running?.stop()
    }
}

extension TableFixture: Stoppable {}
extension TestStore: Stoppable {}
