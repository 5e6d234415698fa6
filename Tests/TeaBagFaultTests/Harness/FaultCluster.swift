/// A table, three stores and three agents as real `teabag` processes, each
/// with its own data directory under one temporary directory, user 1
/// enrolled in channel `main` on every store through docs/protocol.md#enrollment's steps:
/// what a fault scenario breaks and heals.
import Foundation
import Synchronization
import TeaBagCore
import TeaBagTestSupport

let faultTableKey = "fault-table-key-0123456789"
let faultStoreKey = "fault-store-key-0123456789"

/// What a scenario changes in the standard cluster.
struct ClusterOptions: Sendable {
    var stores = 3
    var agents = 3
    /// Store index → extra plugin directories (a crashing or a slow plugin).
    var storePlugins: [Int: [String]] = [:]
    /// Store index → environment variables added to its process's.
    var storeEnvironment: [Int: [String: String]] = [:]
    /// The store whose enrolled URL is a partition proxy in front of it.
    var proxiedStore: Int?
    /// Agent index → the test-only `--clock-offset-ms`.
    var agentClockOffsets: [Int: Int64] = [:]
    /// Data directories placed elsewhere (on a small tmpfs).
    var storeData: [Int: String] = [:]
    var agentData: [Int: String] = [:]
    /// Low, so that paths prune during the workload and faults meet prunes.
    var pruneMinOps = 8
}

final class FaultCluster: Sendable {
    let root: String
    let config: String
    let table: NodeProcess
    let stores: [NodeProcess]
    let agents: [NodeProcess]
    let proxy: PartitionProxy?
    let proxiedStore: Int?
    /// `…/user/1/` as each store was enrolled (the proxy's URL for a proxied store).
    let enrolledURLs: [String]
    /// The checker's own session (not the agents'), and its token for each store.
    let checkerSession: String
    let checkerTokens: [String]
    private let workloads = Mutex<[Workload]>([])

    private init(root: String, config: String, table: NodeProcess, stores: [NodeProcess], agents: [NodeProcess],
                 proxy: PartitionProxy?, proxiedStore: Int?, enrolledURLs: [String], checkerSession: String, checkerTokens: [String]) {
        self.root = root
        self.config = config
        self.table = table
        self.stores = stores
        self.agents = agents
        self.proxy = proxy
        self.proxiedStore = proxiedStore
        self.enrolledURLs = enrolledURLs
        self.checkerSession = checkerSession
        self.checkerTokens = checkerTokens
    }

    var tableURL: String { table.url }
    var agentAPIs: [AgentAPI] { agents.map { AgentAPI(socket: $0.data + "/agent.sock") } }
    func agentAPI(_ index: Int) -> AgentAPI { AgentAPI(socket: agents[index].data + "/agent.sock") }
    /// Store `index` reached directly (never through the proxy), with the checker's token.
    func storeClient(_ index: Int) -> StoreClient { StoreClient(userURL: stores[index].url + "user/1/", token: checkerTokens[index]) }

    static func start(_ options: ClusterOptions = ClusterOptions()) async throws -> FaultCluster {
        let root = try temporaryDirectory("fault")
        let config = root + "/conf"
        try FileManager.default.createDirectory(atPath: config, withIntermediateDirectories: true)
        // Fast master checks (the table's default is a deliberately slow
        // hash), warnings only, low prune thresholds, and room for the
        // disk-full scenario's big writes.
        try """
        table:
          master_hash_rounds: 1000
          log_level: warning
        store:
          log_level: warning
          body_limit: 4194304
        agent:
          log_level: warning
        prune:
          min_ops: \(options.pruneMinOps)
        plugins:
          poll_ms: 200
        """.write(toFile: config + "/10-fault.yaml", atomically: true, encoding: .utf8)

        let table = NodeProcess(role: "table", name: "table", data: root + "/table",
                                arguments: ["table", "--config", config, "--data", root + "/table", "--key", faultTableKey])
        let stores = (0..<options.stores).map { index in
            let data = options.storeData[index] ?? root + "/store\(index)"
            return NodeProcess(role: "store", name: "store \(index)", data: data,
                               arguments: storeArguments(config: config, data: data, plugins: options.storePlugins[index] ?? []),
                               environment: options.storeEnvironment[index] ?? [:])
        }
        var started: [NodeProcess] = [table] + stores
        var proxy: PartitionProxy?
        do {
            step("starting a table and \(stores.count) stores under \(root)")
            try await table.start()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for store in stores { group.addTask { try await store.start() } }
                try await group.waitForAll()
            }
            try await Enrollment.createUser(tableURL: table.url, tableKey: faultTableKey)
            var enrolled: [String] = []
            for (index, store) in stores.enumerated() {
                var storeURL = store.url
                if options.proxiedStore == index {
                    let made = try PartitionProxy(targetPort: store.port!)
                    proxy = made
                    storeURL = "http://127.0.0.1:\(made.port)/"
                }
                try await Enrollment.enroll(tableURL: table.url, storeURL: storeURL, storeKey: faultStoreKey)
                enrolled.append(storeURL + "user/1/")
            }
            let checkerSession = try await Enrollment.session(tableURL: table.url)
            var tokens: [String] = []
            for url in enrolled {
                tokens.append(try await Enrollment.storeToken(tableURL: table.url, session: checkerSession, storeUserURL: url))
            }
            var agents: [NodeProcess] = []
            for index in 0..<options.agents {
                // A session per agent: one device each.
                let session = try await Enrollment.session(tableURL: table.url)
                let data = options.agentData[index] ?? root + "/agent\(index)"
                var arguments = ["agent", "--config", config, "--table-url", table.url, "--user", "1", "--session-token", session,
                                 "--data", data, "--plugins", Repository.plugins]
                // One argument: a negative value after a space would read as an option.
                if let offset = options.agentClockOffsets[index] { arguments.append("--clock-offset-ms=\(offset)") }
                agents.append(NodeProcess(role: "agent", name: "agent \(index)", data: data, arguments: arguments, listensOnPort: false))
            }
            started += agents
            step("starting \(agents.count) agents")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for agent in agents { group.addTask { try await agent.start() } }
                try await group.waitForAll()
            }
            let cluster = FaultCluster(root: root, config: config, table: table, stores: stores, agents: agents, proxy: proxy,
                                       proxiedStore: options.proxiedStore, enrolledURLs: enrolled,
                                       checkerSession: checkerSession, checkerTokens: tokens)
            try await cluster.waitUntilAgentsConnected()
            return cluster
        } catch {
            print("fault cluster did not start: \(error)\n" + started.map { "--- \($0.name)\n\($0.logTail())" }.joined(separator: "\n"))
            for node in started { node.kill9() }
            proxy?.stop()
            try? FileManager.default.removeItem(atPath: root)
            throw error
        }
    }

    static func storeArguments(config: String, data: String, plugins: [String]) -> [String] {
        var arguments = ["store", "--config", config, "--data", data, "--key", faultStoreKey, "--plugins", Repository.plugins]
        for directory in plugins { arguments += ["--plugins", directory] }
        return arguments
    }

    /// Every agent has read its mount table and streams from every store.
    func waitUntilAgentsConnected(seconds: Double = 60) async throws {
        for (index, agent) in agentAPIs.enumerated() {
            let ready = try await eventually(seconds) {
                let stores = (try? await agent.stores()) ?? []
                return stores.count == self.stores.count && stores.allSatisfy(\.connected)
            }
            if !ready { throw TestFailure("agent \(index) did not connect to every store: \((try? await agent.status())?.description ?? "no status")") }
        }
    }

    /// A workload through every agent, stopped by `shutdown()` whatever happens.
    func startWorkload(history: History, tag: String, pace: Duration = .milliseconds(20)) -> Workload {
        let workload = Workload(history: history, agents: agentAPIs, tag: tag, pace: pace)
        workloads.withLock { $0.append(workload) }
        workload.start()
        return workload
    }

    /// Where the checker reads values: every agent, then every store directly.
    var valueSources: [ValueSource] {
        agentAPIs.enumerated().map { index, agent in
            ValueSource(name: "agent \(index)") { type, path in
                let answer = try await agent.value(type, path)
                guard answer.status == 200, let value = answer.json?["value"] else { throw TestFailure("\(answer.status) \(answer.text)") }
                return value
            }
        } + stores.indices.map { index in
            let client = storeClient(index)
            return ValueSource(name: "store \(index)") { type, path in
                let answer = try await client.value(type, path)
                guard answer.status == 200, let value = answer.json?["value"] else { throw TestFailure("\(answer.status) \(answer.text)") }
                return value
            }
        }
    }

    /// Nothing of any agent waits for a store.
    func outboxesEmpty() async -> Bool {
        for agent in agentAPIs {
            guard let total = try? await agent.outboxTotal(), total == 0 else { return false }
        }
        return true
    }

    /// Stops the workloads and every process by PID, and removes the files.
    func shutdown(keepFiles: Bool = false) async {
        for workload in workloads.withLock({ $0 }) { await workload.stop() }
        for node in agents + stores + [table] { node.kill9() }
        proxy?.stop()
        if !keepFiles { try? FileManager.default.removeItem(atPath: root) }
    }

    /// Each process's last stderr lines, for a failing scenario's log.
    func logs() -> String {
        ([table] + stores + agents).map { "--- \($0.name)\n\($0.logTail())" }.joined(separator: "\n")
    }
}

/// Runs `body` on a fresh cluster and shuts it down afterwards, also when
/// the body throws (its processes' logs are printed then).
func withCluster<T: Sendable>(_ options: ClusterOptions = ClusterOptions(), _ body: (FaultCluster) async throws -> T) async throws -> T {
    let cluster = try await FaultCluster.start(options)
    do {
        let result = try await body(cluster)
        await cluster.shutdown()
        return result
    } catch {
        print("fault cluster logs after \(error):\n\(cluster.logs())")
        await cluster.shutdown()
        throw error
    }
}
