/// A table, a store and (when asked) an agent with a short idle timeout,
/// for the attacks that wait for it (slowloris, a body that never comes).
///
/// Every request the test makes to them goes on a new connection
/// (`Connection: close`): a pooled keep-alive connection left idle past a
/// timeout this short would be closed by the server just as the client
/// reuses it, failing a request for a reason that is not the attack's.
import Foundation
import Logging
import NIOHTTP1
import TeaBagCore
import TeaBagServerKit
import TeaBagStore
import TeaBagTable
import TeaBagTestSupport
import Testing

/// One request on a new connection.
func fresh(_ method: NIOHTTP1.HTTPMethod, _ url: String, headers: [(String, String)] = [], json: JSON? = nil) async throws -> HTTPAnswer {
    try await HTTP.request(method, url, headers: headers + [("Connection", "close")], json: json)
}

struct ShortIdleDeployment: Sendable {
    let table: RunningTable
    let tableData: String
    let store: RunningStore
    let session: String
    let token: String
    let agent: RunningAgent?

    var tablePort: Int { table.server.address.current!.port }
    var storePort: Int { store.server.address.current!.port }
    var storeUserURL: String { store.userURL(1) }

    /// User 1 (master `secret`) enrolled in channel `main` on the store, §2.4 step by step.
    static func start(idleTimeoutMs: Int, agent: Bool = false) async throws -> ShortIdleDeployment {
        let tableData = try temporaryDirectory("table")
        let table = try await startTable(data: tableData, configure: { $0.idleTimeoutMs = idleTimeoutMs })
        let store: RunningStore
        do {
            store = try await startStore(data: try temporaryDirectory("store"), configure: {
                $0.idleTimeoutMs = idleTimeoutMs
                $0.longPollDelayMs = max(1, idleTimeoutMs / 2)
            })
        } catch {
            await table.stop()
            throw error
        }
        func stopAll() async {
            await store.stop()
            await table.stop()
        }
        do {
            let tableAdmin = [HTTP.basic("admin", testTableKey)], storeAdmin = [HTTP.basic("admin", testStoreKey)]
            try Self.require(try await fresh(.PUT, table.url + "admin/user/1/master/secret", headers: tableAdmin), "create the user")
            try Self.require(try await fresh(.PUT, store.url + "admin/user/1", headers: storeAdmin), "create the store user")
            let code = try await fresh(.GET, store.url + "admin/user/1/code", headers: storeAdmin).json?["code"]?.stringValue ?? ""
            let enrolled = try await fresh(.POST, table.url + "user/1/table/main/store?master=secret",
                                           json: ["store_url": .string(store.userURL(1)), "code": .string(code)])
            guard enrolled.status == 200 else { throw TestFailure("enrollment: \(enrolled.status) \(enrolled.text)") }
            let session = try await fresh(.GET, table.url + "user/1/session/new?master=secret&timeout=3600000").json?["session_token"]?.stringValue ?? ""
            let mount = try await fresh(.GET, table.url + "user/1/table?session_token=\(session)")
            guard let token = mount.json?["main"]?[Enrollment.storeID(store.userURL(1))]?["store_token"]?.stringValue else {
                throw TestFailure("no store token: \(mount.text)")
            }
            let running = agent ? try await RunningAgent.start(tableURL: table.url, session: session) { $0.idleTimeoutMs = idleTimeoutMs } : nil
            return ShortIdleDeployment(table: table, tableData: tableData, store: store, session: session, token: token, agent: running)
        } catch {
            await stopAll()
            throw error
        }
    }

    static func require(_ answer: HTTPAnswer, _ what: String) throws {
        guard answer.isOK else { throw TestFailure("\(what): \(answer.status) \(answer.text)") }
    }

    func stop() async {
        await agent?.stop()
        await store.stop()
        await table.stop()
        try? FileManager.default.removeItem(atPath: store.data)
        try? FileManager.default.removeItem(atPath: tableData)
    }

    /// As `Deployment.expectUnchanged`: every database before and after `attack`.
    func expectUnchanged(_ tally: AttackTally, _ what: String, _ attack: () async throws -> Void) async throws {
        func dump() async throws -> [String: DatabaseDump] {
            try await table.server.service.flush()
            var dumps = ["table": try DatabaseDump.of(tableData + "/table.sqlite", ignoring: ["sessions.last_check_ms"]),
                         "store": try DatabaseDump.of(store.data + "/store.sqlite")]
            if let agent { dumps["agent"] = try DatabaseDump.of(agent.data + "/agent.sqlite") }
            return dumps
        }
        let before = try await dump()
        try await attack()
        await agent?.settle()
        let after = try await dump()
        for name in before.keys.sorted() {
            tally.expectUnchanged(before[name]!, after[name]!, "\(what) (\(name))")
        }
    }
}
