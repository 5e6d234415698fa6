import Foundation
import InMemoryLogging
import Logging
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Table: persistence and logs")
struct PersistenceAndLoggingTests {
    @Test("a restart on the same data directory keeps users, sessions and the mount table", arguments: TableBackend.allCases)
    func restart(backend: TableBackend) async throws {
        let data = try temporaryDirectory("table-restart")
        defer { try? FileManager.default.removeItem(atPath: data) }
        try await withStarted({ try await TestStore(.accept) }) { store in
            let first = try await TableFixture.start(backend, data: data)
            let session = try await first.newSession(timeout: 3_600_000, description: "kept")
            #expect(try await first.enroll(channel: "main", store: store).status == 200)
            _ = try await first.get("user/1/session/check/\(session)")
            await first.table.stop()

            try await withStarted({ try await TableFixture.start(backend, database: first.database, data: data, createUser: false) }) { second in
                #expect(try await second.get("user/1/session/check/\(session)").isOK)
                #expect(try await second.get("user/1/session/all?master=secret").json?.arrayValue?.first?["description"] == "kept")
                let table = try await second.get("user/1/table?session_token=\(session)")
                #expect(table.json?["main"]?.objectValue?.values.first?["store_token"] != nil)
            }
        }
    }

    @Test("no master, token or key ever appears in a log line", arguments: TableBackend.allCases)
    func redaction(backend: TableBackend) async throws {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "table", factory: { _ in handler })
        logger.logLevel = .trace
        try await withStarted({ try await TableFixture.start(backend, logger: logger) }) { t in
            let token = try await t.newSession()
            _ = try await t.get("user/1/session/check/\(token)")
            _ = try await t.get("user/1/table?session_token=\(token)")
            _ = try await t.get("user/1/table", headers: [HTTP.bearer(token)])
            _ = try await t.get("user/1/session/all", headers: [HTTP.basic("1", "secret")])
            _ = try await t.get("user/1/session/new?master=wrong-master-value&timeout=5")
            _ = try await t.delete("user/1/session/\(token)")
            _ = try await t.get("user/1/table/check/store_1_2_3_abc_\(String(repeating: "f", count: 64))")
            let lines = handler.entries.map { "\($0.message) \($0.metadata)" }
            #expect(lines.count >= 7)
            let signature = String(token.split(separator: "_").last!)
            for secret in ["secret", "wrong-master-value", signature, testTableKey, String(repeating: "f", count: 64)] {
                #expect(!lines.contains { $0.contains(secret) }, "\(secret) leaked into the logs")
            }
            #expect(lines.contains { $0.contains("/user/1/session/check/<redacted>") })
        }
    }
}
