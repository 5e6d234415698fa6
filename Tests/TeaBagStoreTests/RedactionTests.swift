import Foundation
import InMemoryLogging
import Logging
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Store: logs")
struct RedactionTests {
    @Test("no store token, code or key ever appears in a store log line")
    func redaction() async throws {
        let handler = InMemoryLogHandler()
        var logger = Logger(label: "store", factory: { _ in handler })
        logger.logLevel = .trace
        let tableData = try temporaryDirectory("table")
        try await withTable(data: tableData) { table in
            try await withStore(data: try temporaryDirectory("store"), logger: logger) { store in
                try await Enrollment.createUser(tableURL: table.url)
                let code = try await Enrollment.code(storeURL: store.url)
                #expect(try await Enrollment.post(tableURL: table.url, storeUserURL: store.userURL(1), code: code).status == 200)
                _ = try await HTTP.request(.POST, store.userURL(1) + "confirm", json: ["code": .string(code), "table_url": .string(table.url + "user/1/")])
                let session = try await Enrollment.session(tableURL: table.url)
                let token = try await Enrollment.storeToken(tableURL: table.url, session: session, storeUserURL: store.userURL(1))
                let c = StoreClient(userURL: store.userURL(1), token: token)
                _ = try await c.push("counter", "/r", payloadOp(1, "r1", 1))
                _ = try await c.push("counter", "/r", payloadOp(2, "r2", "refused"))
                var bearer = c
                bearer.bearer = true
                _ = try await bearer.oplog("counter", "/r")
                _ = try await c.with(token: token + "0").oplog("counter", "/r")
                _ = try await HTTP.request(.DELETE, store.userURL(1) + "session/\(token)")
                _ = try await HTTP.request(.PUT, store.url + "admin/user/2", headers: [HTTP.basic("admin", "wrong-admin-key-0123456789")])

                let lines = handler.entries.map { "\($0.message) \($0.metadata)" }
                #expect(lines.count >= 8, "\(lines)")
                let signature = String(token.split(separator: "_").last!)
                let codeMAC = String(code.split(separator: "_").last!)
                for secret in [signature, codeMAC, testStoreKey, "wrong-admin-key-0123456789"] {
                    #expect(!lines.contains { $0.contains(secret) }, "\(secret) leaked into the logs")
                }
                #expect(lines.contains { $0.contains("/user/1/session/<redacted>") }, "\(lines)")
            }
        }
    }
}
