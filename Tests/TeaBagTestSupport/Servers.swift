/// Servers stood up in the test process on 127.0.0.1, port 0, with real
/// SQLite files in a temporary directory.
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import Synchronization
import TeaBagCore
import TeaBagServerKit
import TeaBagStore
import TeaBagTable

/// Time that a test moves by hand.
public final class ManualClock: Sendable {
    private let now: Mutex<Int64>
    public init(_ start: Int64 = 1_800_000_000_000) { now = Mutex(start) }
    public func advance(ms: Int64) { now.withLock { $0 += ms } }
    public var read: @Sendable () -> Int64 { { [self] in now.withLock { $0 } } }
}

public func temporaryDirectory(_ name: String = "teabag-test") throws -> String {
    let path = NSTemporaryDirectory() + "\(name)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Waits until `condition` holds, polling, or fails after `seconds`.
public func eventually(_ seconds: Double, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(20))
    }
    return try await condition()
}

/// How long a server may take to bind: generous, since a whole suite starts
/// dozens of servers at once on two cores.
let serverStartSeconds = 30.0

/// A running table; `stop()` ends it.
public struct RunningTable: Sendable {
    public let server: TableServer
    public let url: String
    public let key: String
    let services: InProcessServices

    /// A graceful shutdown, as SIGTERM gives (see `InProcessServices`).
    public func stop() async { await services.stop() }
}

public let testTableKey = "test-table-key-0123456789"

/// What every table a test builds starts from: port 0, its data in `data`, cheap master hashes.
public func testTableConfiguration(data: String, key: String = testTableKey,
                                   configure: (inout TableConfiguration) -> Void = { _ in }) -> TableConfiguration {
    var configuration = TableConfiguration()
    configuration.port = 0
    configuration.dataDirectory = data
    configuration.key = key
    configuration.masterHashRounds = 1_000
    configure(&configuration)
    return configuration
}

public func startTable(data: String, key: String = testTableKey, clock: (@Sendable () -> Int64)? = nil,
                       logger: Logger = Logger(label: "table", factory: { _ in SwiftLogNoOpLogHandler() }),
                       configure: (inout TableConfiguration) -> Void = { _ in }) async throws -> RunningTable {
    let configuration = testTableConfiguration(data: data, key: key, configure: configure)
    let server = try TableServer.build(configuration: configuration, logger: logger,
                                       clock: clock ?? WallClock.milliseconds)
    let services = InProcessServices([server.application], logger: logger)
    guard try await eventually(serverStartSeconds, { server.address.url != nil }), let url = server.address.url else {
        await services.stop()
        throw TestFailure("the \(logger.label) did not start listening within \(serverStartSeconds) s")
    }
    return RunningTable(server: server, url: url + "/", key: configuration.key ?? "", services: services)
}

/// A running store; `stop()` ends it.
public struct RunningStore: Sendable {
    public let server: StoreServer
    /// `http://127.0.0.1:PORT/`
    public let url: String
    public let key: String
    public let data: String
    /// `store.database`: nil for SQLite in `data`.
    public let database: String?
    let services: InProcessServices

    /// `http://127.0.0.1:PORT/user/N/`: the store URL a user enrolls (§2.4).
    public func userURL(_ user: Int = 1) -> String { url + "user/\(user)/" }

    /// Graceful, like the table's `stop()`.
    public func stop() async { await services.stop() }
}

public let testStoreKey = "test-store-key-0123456789"

/// What every store a test builds starts from: port 0, its data in `data`, the shipped plugins.
public func testStoreConfiguration(data: String, key: String = testStoreKey,
                                   configure: (inout StoreConfiguration) -> Void = { _ in }) -> StoreConfiguration {
    var configuration = StoreConfiguration()
    configuration.port = 0
    configuration.dataDirectory = data
    configuration.key = key
    configuration.pluginDirectories = [Repository.plugins]
    configure(&configuration)
    return configuration
}

/// A store in this process on 127.0.0.1, port 0, with the shipped plugins of
/// `Repository.plugins` and its SQLite file in `data`.
public func startStore(data: String, key: String = testStoreKey, clock: (@Sendable () -> Int64)? = nil,
                       logger: Logger = Logger(label: "store", factory: { _ in SwiftLogNoOpLogHandler() }),
                       configure: (inout StoreConfiguration) -> Void = { _ in }) async throws -> RunningStore {
    let configuration = testStoreConfiguration(data: data, key: key, configure: configure)
    let server = try StoreServer.build(configuration: configuration, logger: logger,
                                       clock: clock ?? WallClock.milliseconds)
    let services = InProcessServices([server.application], logger: logger)
    guard try await eventually(serverStartSeconds, { server.address.url != nil }), let url = server.address.url else {
        await services.stop()
        throw TestFailure("the \(logger.label) did not start listening within \(serverStartSeconds) s")
    }
    return RunningStore(server: server, url: url + "/", key: key, data: data, database: configuration.database, services: services)
}
