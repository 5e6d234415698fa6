/// Table check rates (issue 3): `table/check/:store_token` and
/// `session/check/:session_token` on loopback with wrk at 16 connections.
/// Every store's first sight of a token waits on the first of these.
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import TeaBag
import TeaBagCore
import TeaBagServerKit
import TeaBagTable

struct TableBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "table", abstract: "Session and store-token check rates of the table.")

    @Option(help: "Seconds per measurement.") var seconds = 10
    @Option(help: "Concurrent connections.") var connections = 16
    @Option(help: "Where to write the report.") var out = "docs/benchmarks/table.md"

    func run() async throws {
        let data = NSTemporaryDirectory() + "teabag-bench-table-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: data) }
        var configuration = TableConfiguration()
        configuration.port = 0
        configuration.dataDirectory = data
        configuration.key = "bench-table-key-0123456789"
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let table = try TableServer.build(configuration: configuration, logger: logger)
        let tableTask = Task { try await table.application.runService() }
        defer { tableTask.cancel() }
        let confirmer = try await ConfirmingStore.start()
        defer { confirmer.task.cancel() }
        while table.address.url == nil { try await Task.sleep(for: .milliseconds(10)) }
        let base = table.address.url! + "/"

        // User 1, a session, a store enrolled through the real route.
        let admin = TableAdminAPI(tableURL: base), device = TableAPI(timeout: .seconds(30))
        try await admin.createUser(1, master: "secret", adminKey: configuration.key!)
        let sessionToken = try await device.newSession(tableURL: base, user: 1, master: "secret", timeoutMs: 3_600_000, description: "bench")
        try await admin.enrollStore(user: 1, master: "secret", channel: "main", storeUserURL: confirmer.url + "user/1/", code: "c")
        let mount = try await device.mountTable(tableURL: base, user: 1, sessionToken: sessionToken)
        guard let storeToken = mount["main"]?.first?.token else { throw BenchError("no store token: \(mount)") }

        // The check itself, without HTTP: what a request costs beyond the server's floor.
        let iterations = 200_000
        let inProcessStore = try await Timing.elapsed { for _ in 0..<iterations { _ = try? await table.service.checkStoreToken(user: 1, token: storeToken) } }
        let inProcessSession = try await Timing.elapsed { for _ in 0..<iterations { _ = try? await table.service.checkSession(user: 1, token: sessionToken) } }

        let storeCheck = try Wrk.run(url: base + "user/1/table/check/\(storeToken)", connections: connections, seconds: seconds)
        let sessionCheck = try Wrk.run(url: base + "user/1/session/check/\(sessionToken)", connections: connections, seconds: seconds)
        let health = try Wrk.run(url: base + "healthz", connections: connections, seconds: seconds)
        let bare = try Wrk.run(url: confirmer.url + "bare", connections: connections, seconds: seconds)
        let nginx = try? Nginx.measure(connections: connections, seconds: seconds)

        var table_ = "| route | checks/s | p50 | p99 | goal |\n| --- | ---: | ---: | ---: | --- |\n"
        for (name, result, goal) in [("`GET …/table/check/:store_token`", storeCheck, "≥ 20,000"),
                                     ("`GET …/session/check/:session_token`", sessionCheck, "≥ 20,000"),
                                     ("`GET /healthz` of the table (its floor)", health, "(reference)"),
                                     ("bare Hummingbird `GET` → 204, same process", bare, "(reference)")] {
            table_ += "| \(name) | \(Report.formatRate(result.requestsPerSecond)) | \(result.p50) | \(result.p99) | \(goal) |\n"
            if let errors = result.errors { table_ += "| ↳ \(errors) | | | | |\n" }
        }
        if let nginx {
            table_ += "| nginx `return 204`, 1 worker (machine anchor; NOTES: 101,700 on the reference machine) | \(Report.formatRate(nginx.requestsPerSecond)) | \(nginx.p50) | \(nginx.p99) | (reference) |\n"
        }
        table_ += "| store-token check in process, no HTTP | \(Report.formatRate(Double(iterations) / inProcessStore)) | | | |\n"
        table_ += "| session check in process, no HTTP | \(Report.formatRate(Double(iterations) / inProcessSession)) | | | |\n"
        say(table_)
        let markdown = """
        # Table benchmark

        `swift run -c release teabag-bench table` on \(Report.machine()), \(ISO8601DateFormatter().string(from: Date())). \
        wrk, 2 threads, \(connections) connections, \(seconds) s per route, load generator on the same cores as the table.

        \(table_)
        A check is an HMAC-SHA256 of the token, a lookup in the in-memory mirror of the sessions, and the \
        sliding refresh of `last_check` (written behind, at most once a second per session). Anchors on this \
        machine kind (shared/NOTES.md): nginx `return 204` ≈ 101,700 req/s; bare Hummingbird `GET` → 204 ≈ 65,000 req/s.
        """
        try Report.write(markdown + "\n", to: out)
        say("written to \(out)")
    }
}

/// A store stand-in that confirms any code, so the bench can enroll through the real route.
struct ConfirmingStore {
    let url: String
    let task: Task<Void, any Error>

    static func start() async throws -> ConfirmingStore {
        let router = Router(context: ServerContext.self)
        router.post("/user/:user_id/confirm") { _, _ in Response.ok }
        router.get("/bare") { _, _ in Response(status: .noContent) }
        let address = BoundAddress()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { address.set($0) }, logger: Logger(label: "confirm", factory: { _ in SwiftLogNoOpLogHandler() }))
        let task = Task { try await app.runService() }
        while address.url == nil { try await Task.sleep(for: .milliseconds(10)) }
        return ConfirmingStore(url: address.url! + "/", task: task)
    }
}
