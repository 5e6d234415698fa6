/// `teabag dev`: the embedded default (docs/cli.md) — a table, two stores and
/// an agent in one process on loopback, user 1 enrolled into channel `main`
/// on both stores, the shipped reducers loaded. A second run on the same
/// data directory resumes with the same ports, secrets and data.
import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TeaBag
import TeaBagAgent
import TeaBagConfig
import TeaBagCore
import TeaBagServerKit
import TeaBagStore
import TeaBagTable

struct DevCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "dev", abstract: "Run a table, two stores and an agent in one process, ready to use.")

    @Option(help: "conf.d directory (default ./conf.d, then /etc/teabag/conf.d): reducers, prune, durability and the other keys reach the table, stores and agent.")
    var config: String?

    @Option(help: "Data directory (table, stores, agent, and dev.json with the ports and secrets).")
    var data = "data"

    @Option(help: "First port: the table gets it, the stores the next two; 0 picks free ones. Kept for later runs.")
    var port = 4000

    @Option(help: "A plugin directory (repeatable; added to plugins.directories, which is Plugins by default).")
    var plugins: [String] = []

    @Option(help: "Log level.")
    var logLevel = "warning"

    func run() async throws {
        let state = try DevState.loadOrCreate(directory: data, firstPort: port)
        let logger = RoleRunner.logger("teabag.dev", level: Logger.Level(rawValue: logLevel) ?? .warning)
        // conf.d as every role reads it, with what dev.json decides on top:
        // ports, data directories, keys and user 1's credentials.
        let settings: Settings
        do {
            settings = try await Settings.load(directory: config, flags: [
                "table.key": .string(state.tableKey), "table.url": .string(state.tableURL), "store.key": .string(state.storeKey),
                "agent.table_url": .string(state.tableURL), "agent.user": .int(1), "agent.master": .string(state.master),
                "agent.data": .string((data as NSString).appendingPathComponent("agent")),
            ])
        } catch {
            throw CLIFailure.usage("configuration: \(error.description)")
        }

        var table = try RoleRunner.starting("dev") { try TableConfiguration(settings: settings) }
        table.port = state.tablePort
        table.dataDirectory = (data as NSString).appendingPathComponent("table")
        let tableServer = try RoleRunner.starting("dev") { try TableServer.build(configuration: table, logger: logger, announce: true) }
        var storeServers: [StoreServer] = []
        for (index, storePort) in state.storePorts.enumerated() {
            var store = try RoleRunner.starting("dev") { try StoreConfiguration(settings: settings, extraPluginDirectories: plugins) }
            store.port = storePort
            store.dataDirectory = (data as NSString).appendingPathComponent("store\(index + 1)")
            // A development default, unless conf.d or the environment chose.
            if settings.reader.scoped(to: "store").string(forKey: "durability") == nil { store.durability = .normal }
            storeServers.append(try RoleRunner.starting("dev") { try StoreServer.build(configuration: store, logger: logger, announce: true) })
        }
        var agent = try RoleRunner.starting("dev") { try AgentConfiguration(settings: settings, extraPluginDirectories: plugins) }
        agent.logLevel = logger.logLevel
        let agentServer = try RoleRunner.starting("dev") { try AgentServer.build(configuration: agent, logger: logger, announce: true) }
        // One group. The agent's services start once user 1 is enrolled; it
        // stops in reverse order: the agent's listeners, its client, then
        // the stores and the table it talks to.
        let enrolled = DevGate()
        let bootstrap = DevBootstrap(state: state, directory: data, agent: agentServer, enrolled: enrolled)
        let services: [any Service] = [tableServer.application] + storeServers.map(\.application) + [bootstrap]
            + agentServer.services.map { AfterGate(gate: enrolled, service: $0) }
        try await RoleRunner.run(services, logger: logger, what: "teabag dev")
    }
}

/// Waits for the servers, enrolls user 1 on first run, opens the gate the
/// agent's services wait at, prints what to type next once the agent has
/// read its mount table, and then waits for the shutdown.
struct DevBootstrap: Service {
    let state: DevState
    let directory: String
    let agent: AgentServer
    let enrolled: DevGate

    func run() async throws {
        try await waitForServers()
        if !state.enrolled {
            try await enroll()
            try state.markEnrolled(directory: directory)
        }
        enrolled.open()
        try? await cancelWhenGracefulShutdown {
            for _ in 0..<100 where await agent.client.channels.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
            banner()
        }
        try? await gracefulShutdown()
    }

    private func waitForServers() async throws {
        for url in [state.tableURL] + state.storeURLs {
            var ready = false
            for _ in 0..<200 where !ready {
                ready = await AdminHTTP.json(url + "healthz")?["ok"] == true
                if !ready { try await Task.sleep(for: .milliseconds(25)) }
            }
            guard ready else { throw CLIFailure.runtime("dev: \(url) did not come up; see the log above") }
        }
    }

    /// docs/protocol.md#enrollment for user 1 and channel `main` on both stores.
    private func enroll() async throws {
        let table = TableAdminAPI(tableURL: state.tableURL)
        try await AdminHTTP.run(state.tableURL) { try await table.createUser(1, master: state.master, adminKey: state.tableKey) }
        for storeURL in state.storeURLs {
            try await AdminHTTP.run(storeURL) {
                try await table.enroll(StoreAdminAPI(storeURL: storeURL), storeKey: state.storeKey, user: 1, master: state.master, channel: "main")
            }
        }
    }

    private func banner() {
        let socket = agent.configuration.socketPath
        Readiness.announce("""

        TeaBag is running: table \(state.tableURL), stores \(state.storeURLs.joined(separator: " ")),
        agent on unix:\(socket). User 1, channel "main" on both stores; the master is in \(directory)/dev.json.

        Try, in another terminal:
          teabag push main counter /hits 1      # prints the new value at once
          teabag get main counter /hits
          teabag watch main                     # value changes as they happen
          teabag status
          teabag dashboard                      # the live dashboard in a browser

        A second device (another agent on this machine):
          teabag agent --table-url \(state.tableURL) --user 1 --master "$(sed -n 's/.*"master":"\\([^"]*\\)".*/\\1/p' \(directory)/dev.json)" --data \(directory)/device2 --plugins Plugins
          teabag get --agent \(directory)/device2/agent.sock main counter /hits

        Stop with Ctrl-C; run `teabag dev` again to resume with the same data.
        """)
    }
}

/// dev.json: the ports and secrets of a `teabag dev` data directory (0600).
struct DevState: Sendable {
    let tablePort: Int
    let storePorts: [Int]
    let master: String
    let tableKey: String
    let storeKey: String
    let enrolled: Bool

    var tableURL: String { "http://127.0.0.1:\(tablePort)/" }
    var storeURLs: [String] { storePorts.map { "http://127.0.0.1:\($0)/" } }

    static func file(_ directory: String) -> String { (directory as NSString).appendingPathComponent("dev.json") }

    static func loadOrCreate(directory: String, firstPort: Int) throws -> DevState {
        let path = file(directory)
        if let data = FileManager.default.contents(atPath: path) {
            guard let json = try? JSON.parse(Array(data)), let table = json["table_port"]?.int64Value,
                  let stores = json["store_ports"]?.arrayValue?.compactMap(\.int64Value), stores.count == 2,
                  let master = json["master"]?.stringValue, let tableKey = json["table_key"]?.stringValue,
                  let storeKey = json["store_key"]?.stringValue else {
                throw CLIFailure.usage("dev: \(path) is damaged; remove the data directory \(directory) to start afresh")
            }
            return DevState(tablePort: Int(table), storePorts: stores.map { Int($0) }, master: master, tableKey: tableKey,
                            storeKey: storeKey, enrolled: json["enrolled"] == true)
        }
        guard (0...65533).contains(firstPort) else { throw CLIFailure.usage("dev: --port must be from 0 to 65533") }
        let ports = firstPort == 0 ? try (0..<3).map { _ in try FreePort.pick() } : [firstPort, firstPort + 1, firstPort + 2]
        let state = DevState(tablePort: ports[0], storePorts: Array(ports[1...]), master: Secret.make(), tableKey: Secret.make(),
                             storeKey: Secret.make(), enrolled: false)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try state.save(directory: directory)
        return state
    }

    func markEnrolled(directory: String) throws {
        try DevState(tablePort: tablePort, storePorts: storePorts, master: master, tableKey: tableKey, storeKey: storeKey, enrolled: true)
            .save(directory: directory)
    }

    private func save(directory: String) throws {
        let json: JSON = [
            "table_port": .number(Double(tablePort)), "store_ports": .array(storePorts.map { .number(Double($0)) }),
            "master": .string(master), "table_key": .string(tableKey), "store_key": .string(storeKey), "enrolled": .bool(enrolled),
        ]
        let path = Self.file(directory)
        guard FileManager.default.createFile(atPath: path, contents: Data(json.canonicalBytes), attributes: [.posixPermissions: 0o600]) else {
            throw CLIFailure.runtime("dev: cannot write \(path); check the directory's permissions")
        }
    }
}

enum Secret {
    /// 24 random bytes as hex.
    static func make() -> String {
        (0..<24).map { _ in
            let hex = String(UInt8.random(in: 0...255), radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
    }
}

enum FreePort {
    /// A port the kernel hands out for 127.0.0.1:0 (free a moment ago).
    static func pick() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw CLIFailure.runtime("dev: cannot open a socket to pick a port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
                guard bind(fd, pointer, length) == 0 else { return -1 }
                return getsockname(fd, pointer, &length)
            }
        }
        guard bound == 0 else { throw CLIFailure.runtime("dev: cannot pick a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// Opens once; `AfterGate` services wait for it.
final class DevGate: Sendable {
    private struct State {
        var open = false
        var nextID: UInt64 = 0
        var waiters: [UInt64: CheckedContinuation<Void, Never>] = [:]
    }

    private let state = Mutex(State())

    var isOpen: Bool { state.withLock { $0.open } }

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once the gate is open, or once the waiting task is cancelled.
    func wait() async {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state in
                    if state.open || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }
}

/// A service that starts once the gate opens; shut down before that, it
/// never starts.
struct AfterGate: Service {
    let gate: DevGate
    let service: any Service

    func run() async throws {
        try? await cancelWhenGracefulShutdown { await gate.wait() }
        guard gate.isOpen, !Task.isCancelled else { return }
        try await service.run()
    }
}
