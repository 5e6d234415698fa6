/// A table and a store in the bench process (release build), user 1
/// enrolled through the real routes, and a store token to push with.
import Foundation
import Logging
import TeaBag
import TeaBagCore
import TeaBagServerKit
import TeaBagStore
import TeaBagTable

struct BenchDeployment {
    let table: TableServer
    let store: StoreServer
    let storeURL: String
    let storeToken: String
    let services: InProcessServices
    let directory: String

    static func start(durability: Durability, plugins: String = "Plugins") async throws -> BenchDeployment {
        let directory = NSTemporaryDirectory() + "teabag-bench-\(UUID().uuidString)"
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let table = try BenchServers.table(directory: directory, logger: logger)
        let store = try BenchServers.store(directory: directory + "/store", durability: durability, plugins: plugins, logger: logger)
        let services = InProcessServices([table.application, store.application], logger: logger)
        while table.address.url == nil || store.address.url == nil { try await Task.sleep(for: .milliseconds(10)) }
        let tableURL = table.address.url! + "/", storeURL = store.address.url! + "/"
        let (_, tokens) = try await BenchServers.enroll(tableURL: tableURL, storeURLs: [storeURL])
        let token = tokens[0]
        return BenchDeployment(table: table, store: store, storeURL: storeURL, storeToken: token, services: services, directory: directory)
    }

    func stop() async {
        await services.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    var rssMiB: Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}

/// The servers of an in-process deployment and the enrollment of docs/protocol.md#enrollment
/// for user 1 (master `secret`) under channel `main`.
enum BenchServers {
    static let tableKey = "bench-table-key-0123456789"
    static let storeKey = "bench-store-key-0123456789"

    static func table(directory: String, logger: Logger) throws -> TableServer {
        var configuration = TableConfiguration()
        configuration.port = 0
        configuration.dataDirectory = directory + "/table"
        configuration.key = tableKey
        configuration.masterHashRounds = 1_000
        configuration.logLevel = logger.logLevel
        return try TableServer.build(configuration: configuration, logger: logger)
    }

    static func store(directory: String, durability: Durability, plugins: String = "Plugins", logger: Logger) throws -> StoreServer {
        var configuration = StoreConfiguration()
        configuration.port = 0
        configuration.dataDirectory = directory
        configuration.key = storeKey
        configuration.durability = durability
        configuration.pluginDirectories = [plugins]
        configuration.logLevel = logger.logLevel
        return try StoreServer.build(configuration: configuration, logger: logger)
    }

    /// Creates user 1, enrolls each store into `main`, opens a session; the
    /// session token and each store's token, in the order of `storeURLs`.
    static func enroll(tableURL: String, storeURLs: [String]) async throws -> (session: String, storeTokens: [String]) {
        let table = TableAdminAPI(tableURL: tableURL)
        try await table.createUser(1, master: "secret", adminKey: tableKey)
        for storeURL in storeURLs {
            try await table.enroll(StoreAdminAPI(storeURL: storeURL), storeKey: storeKey, user: 1, master: "secret", channel: "main")
        }
        let device = TableAPI(timeout: .seconds(30))
        let token = try await device.newSession(tableURL: tableURL, user: 1, master: "secret", timeoutMs: 3_600_000, description: "bench")
        let mount = try await device.mountTable(tableURL: tableURL, user: 1, sessionToken: token)["main"] ?? []
        let storeTokens = try storeURLs.map { storeURL in
            guard let store = mount.first(where: { $0.userURL == storeURL + "user/1/" }) else { throw BenchError("no store token for \(storeURL): \(mount)") }
            return store.token
        }
        return (token, storeTokens)
    }
}
