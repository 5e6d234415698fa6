/// What the attacks aim at: a real table and store in this process on
/// 127.0.0.1, port 0, user 1 enrolled through §2.4, real SQLite files, the
/// shipped plugins — and, when asked, an agent (the `AgentServer` that
/// `teabag agent` runs) with its local API on a loopback port.
import Foundation
import Logging
import TeaBag
import TeaBagAgent
import TeaBagCore
import TeaBagServerKit
import TeaBagStore
import TeaBagTable
import TeaBagTestSupport
import Testing

struct Deployment: Sendable {
    let user: EnrolledUser
    let agent: RunningAgent?

    var table: RunningTable { user.table }
    var store: RunningStore { user.store }
    var tablePort: Int { user.table.server.address.current!.port }
    var storePort: Int { user.store.server.address.current!.port }
    /// `http://127.0.0.1:PORT/user/1/`
    var storeUserURL: String { user.store.userURL(1) }

    static func start(stores: Int = 1, agent: Bool = false,
                      configureStore: (inout StoreConfiguration) -> Void = { _ in },
                      configureTable: (inout TableConfiguration) -> Void = { _ in }) async throws -> Deployment {
        let user = try await EnrolledUser.start(stores: stores, configureStore: configureStore, configureTable: configureTable)
        do {
            let running = agent ? try await RunningAgent.start(user) : nil
            return Deployment(user: user, agent: running)
        } catch {
            await user.stop()
            throw error
        }
    }

    func stop() async {
        await agent?.stop()
        await user.stop()
    }

    /// Every server's database, after the table has written its pending
    /// session refreshes (it writes them behind, once a second).
    /// - Parameter strictSessions: compare sessions' `last_check_ms` too. A
    ///   session's sliding last check moves on every valid use (a normal
    ///   client's request, a store's first check of a valid token next to
    ///   an attack), so only the token attacks, which use no valid
    ///   credential, pin it down.
    func dump(strictSessions: Bool = false) async throws -> [String: DatabaseDump] {
        try await table.server.service.flush()
        let ignored: Set<String> = strictSessions ? [] : ["sessions.last_check_ms"]
        var dumps = ["table": try DatabaseDump.of(user.tableData + "/table.sqlite", ignoring: ignored)]
        for (index, store) in user.stores.enumerated() {
            dumps["store\(index)"] = try DatabaseDump.of(store.data + "/store.sqlite")
        }
        if let agent { dumps["agent"] = try DatabaseDump.of(agent.data + "/agent.sqlite") }
        return dumps
    }

    /// Runs `attack`, then expects every database exactly as before it.
    func expectUnchanged(_ tally: AttackTally, _ what: String, strictSessions: Bool = false,
                         _ attack: () async throws -> Void) async throws {
        // What the agent had in flight before the attack lands first (an op still
        // in its outbox would leave it during the attack, and look like a change).
        await agent?.settle()
        let before = try await dump(strictSessions: strictSessions)
        try await attack()
        await agent?.settle()
        let after = try await dump(strictSessions: strictSessions)
        for name in before.keys.sorted() {
            tally.expectUnchanged(before[name]!, after[name]!, "\(what) (\(name))")
        }
    }
}

/// An agent of user 1 in this process, its local API on 127.0.0.1:port.
struct RunningAgent: Sendable {
    let server: AgentServer
    let services: InProcessServices
    let data: String
    let url: String

    var port: Int { server.tcpAddress.current!.port }

    static func start(_ user: EnrolledUser, configure: (inout AgentConfiguration) -> Void = { _ in }) async throws -> RunningAgent {
        try await start(tableURL: user.table.url, session: user.session, configure: configure)
    }

    static func start(tableURL: String, session: String, configure: (inout AgentConfiguration) -> Void = { _ in }) async throws -> RunningAgent {
        let data = try temporaryDirectory("agent")
        var configuration = AgentConfiguration()
        configuration.tableURL = tableURL
        configuration.user = 1
        configuration.sessionToken = session
        configuration.dataDirectory = data
        configuration.port = 0
        configuration.pluginDirectories = [Repository.plugins]
        configure(&configuration)
        let logger = Logger(label: "agent", factory: { _ in SwiftLogNoOpLogHandler() })
        let server = try AgentServer.build(configuration: configuration, logger: logger)
        let services = InProcessServices(server.services, logger: logger)
        guard try await eventually(30, { server.tcpAddress.url != nil }), let url = server.tcpAddress.url else {
            await services.stop()
            throw TestFailure("the agent did not listen within 30 s")
        }
        let agent = RunningAgent(server: server, services: services, data: data, url: url + "/")
        // Ready once it has read the mount table and its stream is up.
        let ready = try await eventually(30) {
            let channels = try await fresh(.GET, agent.url + "v1/channels")
            return channels.json?["main"]?["stores"]?.arrayValue?.first?["connected"] == true
        }
        guard ready else {
            await agent.stop()
            throw TestFailure("the agent did not connect to its store within 30 s")
        }
        await agent.settle()
        return agent
    }

    /// Waits until the agent has nothing in flight and its oplog cache
    /// (written every 200 ms) is on disk.
    func settle() async {
        _ = try? await eventually(10) { await server.client.isQuiet() }
        try? await Task.sleep(for: .milliseconds(450))
    }

    func stop() async {
        await services.stop()
        try? FileManager.default.removeItem(atPath: data)
    }
}
