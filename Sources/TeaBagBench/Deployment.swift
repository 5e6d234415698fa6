/// A table and a store in the bench process (release build), user 1
/// enrolled through the real routes, and a store token to push with.
import Foundation
import Logging
import TeaBagCore
import TeaBagServerKit
import TeaBagStore
import TeaBagTable

struct BenchDeployment {
    let table: TableServer
    let store: StoreServer
    let storeURL: String
    let storeToken: String
    let tasks: [Task<Void, any Error>]
    let directory: String

    static func start(durability: Durability, plugins: String = "Plugins") async throws -> BenchDeployment {
        let directory = NSTemporaryDirectory() + "teabag-bench-\(UUID().uuidString)"
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        var tableConfiguration = TableConfiguration()
        tableConfiguration.port = 0
        tableConfiguration.dataDirectory = directory + "/table"
        tableConfiguration.key = "bench-table-key-0123456789"
        tableConfiguration.masterHashRounds = 1_000
        let table = try TableServer.build(configuration: tableConfiguration, logger: logger)
        var storeConfiguration = StoreConfiguration()
        storeConfiguration.port = 0
        storeConfiguration.dataDirectory = directory + "/store"
        storeConfiguration.key = "bench-store-key-0123456789"
        storeConfiguration.durability = durability
        storeConfiguration.pluginDirectories = [plugins]
        let store = try StoreServer.build(configuration: storeConfiguration, logger: logger)
        let tasks = [Task { try await table.application.runService() }, Task { try await store.application.runService() }]
        while table.address.url == nil || store.address.url == nil { try await Task.sleep(for: .milliseconds(10)) }
        let tableURL = table.address.url! + "/", storeURL = store.address.url! + "/"

        try await BenchHTTP.request("PUT", tableURL + "admin/user/1/master/secret", basic: ("admin", tableConfiguration.key!))
        try await BenchHTTP.request("PUT", storeURL + "admin/user/1", basic: ("admin", storeConfiguration.key!))
        let code = try await BenchHTTP.request("GET", storeURL + "admin/user/1/code", basic: ("admin", storeConfiguration.key!))
        try await BenchHTTP.request("POST", tableURL + "user/1/table/main/store?master=secret",
                                    body: ["store_url": .string(storeURL + "user/1/"), "code": code["code"] ?? .null])
        let session = try await BenchHTTP.request("GET", tableURL + "user/1/session/new?master=secret&timeout=3600000")
        let mount = try await BenchHTTP.request("GET", tableURL + "user/1/table?session_token=\(session["session_token"]?.stringValue ?? "")")
        guard let token = mount["main"]?.objectValue?.values.first?["store_token"]?.stringValue else { throw BenchError("no store token: \(mount)") }
        return BenchDeployment(table: table, store: store, storeURL: storeURL, storeToken: token, tasks: tasks, directory: directory)
    }

    func stop() async {
        for task in tasks { task.cancel() }
        for task in tasks { _ = await task.result }
        try? FileManager.default.removeItem(atPath: directory)
    }

    var rssMiB: Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
        return kb / 1024
    }
}
