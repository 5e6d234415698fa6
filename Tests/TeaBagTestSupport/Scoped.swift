/// Scoped servers: each `with…` starts something, runs the test's body with
/// it, and awaits its shutdown before returning or rethrowing. A failing
/// test cannot leave a server running into the next one, as the old
/// `defer { Task { await x.stop() } }` could (that stop ran detached, after
/// the test had ended).
import Foundation
import Logging
import TeaBagStore
import TeaBagTable

/// Something a test starts and must stop before it ends.
public protocol Stoppable: Sendable {
    func stop() async
}

extension RunningTable: Stoppable {}
extension RunningStore: Stoppable {}
extension EnrolledUser: Stoppable {}

/// Runs `body` with what `start` started; awaits `stop()` whether `body`
/// returns or throws. (`body` returns nothing: with a generic result, a
/// closure whose only `try`s are inside `#expect` is inferred not to throw.)
public func withStarted<S: Stoppable>(_ start: () async throws -> S, _ body: (S) async throws -> Void) async throws {
    let started = try await start()
    do {
        try await body(started)
    } catch {
        await started.stop()
        throw error
    }
    await started.stop()
}

/// Several started things, stopped in reverse order of starting.
public func withStarted<S: Stoppable>(all starts: [() async throws -> S], _ body: ([S]) async throws -> Void) async throws {
    var started: [S] = []
    do {
        for start in starts { started.append(try await start()) }
        try await body(started)
        for item in started.reversed() { await item.stop() }
    } catch {
        for item in started.reversed() { await item.stop() }
        throw error
    }
}

/// A table in this process (see `startTable`), stopped when `body` ends.
public func withTable(data: String, key: String = testTableKey, clock: (@Sendable () -> Int64)? = nil,
                         logger: Logger = Logger(label: "table", factory: { _ in SwiftLogNoOpLogHandler() }),
                         configure: (inout TableConfiguration) -> Void = { _ in },
                         _ body: (RunningTable) async throws -> Void) async throws {
    try await withStarted({ try await startTable(data: data, key: key, clock: clock, logger: logger, configure: configure) }, body)
}

/// A store in this process (see `startStore`), stopped when `body` ends.
public func withStore(data: String, key: String = testStoreKey, clock: (@Sendable () -> Int64)? = nil,
                         logger: Logger = Logger(label: "store", factory: { _ in SwiftLogNoOpLogHandler() }),
                         configure: (inout StoreConfiguration) -> Void = { _ in },
                         _ body: (RunningStore) async throws -> Void) async throws {
    try await withStarted({ try await startStore(data: data, key: key, clock: clock, logger: logger, configure: configure) }, body)
}

/// A table, `stores` stores and user 1 enrolled on each (see
/// `EnrolledUser.start`); all stopped, and their files removed, when `body` ends.
public func withEnrolledUser(backend: TableBackend = .sqlite, stores count: Int = 1, tableClock: (@Sendable () -> Int64)? = nil,
                                storeClock: (@Sendable () -> Int64)? = nil,
                                configureStore: (inout StoreConfiguration) -> Void = { _ in },
                                configureTable: (inout TableConfiguration) -> Void = { _ in },
                                _ body: (EnrolledUser) async throws -> Void) async throws {
    try await withStarted({
        try await EnrolledUser.start(backend: backend, stores: count, tableClock: tableClock, storeClock: storeClock,
                                     configureStore: configureStore, configureTable: configureTable)
    }, body)
}

/// Several things started together (e.g. with `async let`), stopped in reverse order.
extension Array: Stoppable where Element: Stoppable {
    public func stop() async {
        for item in reversed() { await item.stop() }
    }
}
