import Foundation
import Logging
import TeaBag
import TeaBagCore
import TeaBagPlugins
import TeaBagTestSupport

/// Shipped plugins, loaded once per test process.
let shippedPlugins = PluginHost(directories: [Repository.plugins],
                                logger: Logger(label: "plugins", factory: { _ in SwiftLogNoOpLogHandler() }))

/// The reducers a test client knows: the shipped plugins, and the original
/// client's `test` type (a sum that reads 0 when never written).
func testReducers() -> ReducerRegistry {
    let reducers = ReducerRegistry(plugins: shippedPlugins)
    reducers.register(type: "test", initial: 0) { state, op in
        .number((state.doubleValue ?? 0) + (op.payload?.doubleValue ?? 0))
    }
    return reducers
}

/// A client of user 1 on `user`'s table, started.
func startClient(_ user: EnrolledUser, session: String? = nil, storage: any ClientStorage = InMemoryClientStorage(),
                 reducers: ReducerRegistry = testReducers(), pruneMinOps: Int = 32,
                 configure: (inout ClientConfiguration) -> Void = { _ in }) async throws -> TeaBagClient {
    var configuration = ClientConfiguration(tableURL: user.table.url, user: 1, credential: .session(session ?? user.session), storage: storage)
    configuration.policy.pruneMinOps = pruneMinOps
    configure(&configuration)
    let client = TeaBagClient(configuration, reducers: reducers,
                              logger: Logger(label: "client", factory: { _ in SwiftLogNoOpLogHandler() }))
    try await client.start()
    return client
}

/// Collects a client's updates in the background.
final class UpdateLog: Sendable {
    private let updates = Locked<[ValueUpdate]>([])
    private let task: Task<Void, Never>

    init(_ stream: AsyncStream<ValueUpdate>) {
        let updates = self.updates
        task = Task { for await update in stream { updates.withLock { $0.append(update) } } }
    }

    var all: [ValueUpdate] { updates.withLock { $0 } }
    func cancel() { task.cancel() }
}

/// The shas of a store's oplog for a path: its base, then its payload ops.
func storeOplog(_ user: EnrolledUser, _ index: Int, _ type: String, _ path: String) async throws -> [String] {
    shas(try await user.client(index).ops(type, path))
}

/// Both clients and every store agree, and each client is quiet.
func converged(_ user: EnrolledUser, _ clients: [TeaBagClient], _ type: String, _ path: String) async throws -> Bool {
    let first = try await storeOplog(user, 0, type, path)
    for index in user.stores.indices.dropFirst() where try await storeOplog(user, index, type, path) != first { return false }
    for client in clients where !(await client.isQuiet()) { return false }
    return true
}
