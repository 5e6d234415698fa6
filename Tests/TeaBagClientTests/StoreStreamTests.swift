import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport
@testable import TeaBag
@testable import TeaBagStore

/// Reconnects quickly, so that a restart costs a test tens of milliseconds.
let quick = Backoff(initial: .milliseconds(20), maximum: .milliseconds(200))

/// The events of a stream, gathered by a task until `stop()`.
final class Collector: Sendable {
    let events = Locked<[StoreStreamEvent]>([])
    let ended = Locked(false)
    private let task: Task<Void, Never>

    init(_ stream: AsyncStream<StoreStreamEvent>) {
        let events = self.events
        let ended = self.ended
        task = Task {
            for await event in stream { events.withLock { $0.append(event) } }
            ended.withLock { $0 = true }
        }
    }

    /// Every event but `.disconnected` (whose count depends on timing), in a form that reads well in failures.
    var steps: [String] { events.current.compactMap(Self.step) }

    static func step(_ event: StoreStreamEvent) -> String? {
        switch event {
        case .connected(let resumed): "connected(resumed: \(resumed))"
        case .op(let key, let op): "op(\(key) \(op.sha))"
        case .resync: "resync"
        case .disconnected: nil
        }
    }

    var disconnections: [TeaBagError] {
        events.current.compactMap { if case .disconnected(let error) = $0 { error } else { nil } }
    }

    /// Waits until the steps are `expected` (fails after `seconds`).
    func expect(_ expected: [String], within seconds: Double = 30, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let reached = try await eventually(seconds) { self.steps == expected }
        #expect(reached, "steps: \(steps)", sourceLocation: sourceLocation)
        if !reached { throw TestFailure("stream steps \(steps), expected \(expected)") }
    }

    func waitForDisconnection(within seconds: Double = 30) async throws -> TeaBagError {
        guard try await eventually(seconds, { !self.disconnections.isEmpty }), let error = disconnections.first else {
            throw TestFailure("no .disconnected within \(seconds) s: \(events.current)")
        }
        return error
    }

    func stop() { task.cancel() }
}

/// The same store, data and port again (the URL is what the user enrolled).
func restart(_ store: RunningStore, configure: @escaping (inout StoreConfiguration) -> Void = { _ in }) async throws -> RunningStore {
    let port = try #require(URL(string: store.url)?.port)
    return try await startStore(data: store.data, configure: {
        configure(&$0)
        $0.port = port
    })
}

@Suite("Client transport: store stream")
struct StoreStreamTests {
    @Test("SSE: connected, then each op pushed; after a restart it resumes with Last-Event-ID: what it missed, once, then live ops")
    func sseAndResume() async throws {
        try await withEnrolledUser { u in
            let store = endpoint(u)
            let key = try PathKey(type: "counter", path: "/s")
            let events = Collector(StoreStream.events(store, backoff: quick))
            defer { events.stop() }
            try await events.expect(["connected(resumed: false)"])

            let op1 = counterOp(1)
            #expect(try await StoreAPI().batch(store, [(key, op1)]).answers == [.accepted(noop: false)])
            try await events.expect(["connected(resumed: false)", "op(counter /s \(op1.sha))"])
            if case .op(let streamedKey, let streamedOp) = events.events.current.last {
                #expect(streamedKey == key)
                #expect(streamedOp == op1)
            }

            await u.store.stop()
            #expect(try await events.waitForDisconnection().name.hasPrefix("NetworkError:"))

            // While the stream is away, op2 reaches the store's data (through another port): the resume must deliver it.
            let op2 = counterOp(2)
            let aside = try await startStore(data: u.store.data)
            #expect(try await StoreAPI().push(StoreEndpoint(storeID: store.storeID, userURL: aside.userURL(1), token: store.token), key, op2)
                == .accepted(noop: false))
            await aside.stop()

            try await withStarted({ try await restart(u.store) }) { again in
                let op3 = counterOp(3)
                let resumed = ["connected(resumed: false)", "op(counter /s \(op1.sha))", "connected(resumed: true)", "op(counter /s \(op2.sha))"]
                try await events.expect(resumed)
                #expect(try await StoreAPI().push(store, key, op3) == .accepted(noop: false))
                try await events.expect(resumed + ["op(counter /s \(op3.sha))"])
            }
        }
    }

    @Test("SSE: resuming from an id of a history the store lost (restored from a backup) gives .resync, then what it holds")
    func resync() async throws {
        try await withEnrolledUser { u in
            let store = endpoint(u)
            let key = try PathKey(type: "counter", path: "/r")
            let events = Collector(StoreStream.events(store, backoff: quick))
            defer { events.stop() }
            try await events.expect(["connected(resumed: false)"])
            let ops = (1...5).map { counterOp($0) }
            #expect(try await StoreAPI().push(store, key, ops[0]) == .accepted(noop: false))
            try await events.expect(["connected(resumed: false)", "op(counter /r \(ops[0].sha))"])

            // A backup now; then the stream sees two more ops of a history the restore will lose.
            await u.store.stop()
            _ = try await events.waitForDisconnection()
            let backup = try temporaryDirectory("teabag-backup")
            try copyDirectory(u.store.data, to: backup)
            let lost = try await restart(u.store)
            for op in ops[1...2] { #expect(try await pushAfterRestart(store, key, op)) }
            let seen = ["connected(resumed: false)", "op(counter /r \(ops[0].sha))", "connected(resumed: true)",
                        "op(counter /r \(ops[1].sha))", "op(counter /r \(ops[2].sha))"]
            try await events.expect(seen)
            await lost.stop()
            _ = try await events.waitForDisconnection()

            // Restored from the backup, the store goes on: the client's last id is of no history it has.
            try FileManager.default.removeItem(atPath: u.store.data)
            try copyDirectory(backup, to: u.store.data)
            try await withStarted({ try await restart(u.store) }) { again in
                try await events.expect(seen + ["connected(resumed: true)", "resync"])
                #expect(try await pushAfterRestart(store, key, ops[3]))
                try await events.expect(seen + ["connected(resumed: true)", "resync", "op(counter /r \(ops[3].sha))"])
            }
        }
    }

    @Test("a revoked token is reported as a disconnection with its status, and nothing else")
    func revoked() async throws {
        try await withEnrolledUser { u in
            let (session, token) = try await u.newToken()
            try await TableAPI().revokeSession(tableURL: u.table.url, user: 1, sessionToken: session)
            var store = endpoint(u)
            store = StoreEndpoint(storeID: store.storeID, userURL: store.userURL, token: token)
            let events = Collector(StoreStream.events(store, backoff: quick))
            defer { events.stop() }
            let error = try await events.waitForDisconnection()
            #expect(error.name == "UtilityError:InvalidStoreToken")
            #expect(error.status == 403)
            #expect(events.steps.isEmpty)
        }
    }

    @Test("an original store (long poll only): connected on registration, its ops, then .resync for a lost registration")
    func originalLongPoll() async throws {
        try await withStarted({ try await FixtureServer.start() }) { fixture in
            let events = Collector(StoreStream.events(fixture.endpoint("original"), backoff: quick))
            defer { events.stop() }
            try await events.expect(["connected(resumed: false)", "op(note /x orig-1)", "resync"])
            if case .op(_, let op) = events.events.current[1] { #expect(op.json == FixtureServer.originalOp) }
            #expect(try await eventually(20) { fixture.polls.current.count >= 3 })
            #expect(Array(fixture.polls.current.prefix(3)) == [nil, "r1", "r2"])
            #expect(events.disconnections.isEmpty)
        }
    }

    @Test("long poll against a TeaBag store: ops pushed between polls arrive; a restart loses the registration → resync")
    func longPollOnStore() async throws {
        try await withEnrolledUser(configureStore: { $0.longPollDelayMs = 100 }) { u in
            let store = endpoint(u)
            let key = try PathKey(type: "counter", path: "/lp")
            var options = StoreStream.Options()
            options.longPoll = true
            let events = Collector(StoreStream.events(store, http: ClientHTTP.shared, backoff: quick, options: options))
            defer { events.stop() }
            try await events.expect(["connected(resumed: false)"])
            let op1 = counterOp(1)
            #expect(try await StoreAPI().push(store, key, op1) == .accepted(noop: false))
            try await events.expect(["connected(resumed: false)", "op(counter /lp \(op1.sha))"])

            await u.store.stop()
            _ = try await events.waitForDisconnection()
            try await withStarted({ try await restart(u.store, configure: { $0.longPollDelayMs = 100 }) }) { again in
                try await events.expect(["connected(resumed: false)", "op(counter /lp \(op1.sha))", "connected(resumed: true)", "resync"])
            }
        }
    }

    @Test("silence beyond the idle timeout is a disconnection; the stream then reconnects")
    func idleTimeout() async throws {
        try await withStarted({ try await FixtureServer.start() }) { fixture in
            var options = StoreStream.Options()
            // Long enough that a loaded machine still connects within it (the
            // first bytes count as traffic), short enough to keep the test quick.
            options.idleTimeout = .milliseconds(1_500)
            let events = Collector(StoreStream.events(fixture.endpoint("silent"), http: ClientHTTP.shared, backoff: quick, options: options))
            defer { events.stop() }
            let error = try await events.waitForDisconnection()
            #expect(error.name == "NetworkError:Timeout")
            try await events.expect(["connected(resumed: false)", "connected(resumed: false)"])
        }
    }

    @Test("terminating the stream ends it and closes its connection")
    func termination() async throws {
        try await withStarted({ try await FixtureServer.start() }) { fixture in
            let events = Collector(StoreStream.events(fixture.endpoint("ticking"), backoff: quick))
            try await events.expect(["connected(resumed: false)"])
            #expect(fixture.openTicking.current == 1)
            events.stop()
            #expect(try await eventually(20) { events.ended.current })
            #expect(try await eventually(20) { fixture.openTicking.current == 0 })
            #expect(events.disconnections.isEmpty)
        }
    }
}

/// A copy of a stopped store's data directory (its SQLite file with `-wal`/`-shm`), as a backup is.
func copyDirectory(_ source: String, to destination: String) throws {
    try FileManager.default.createDirectory(atPath: destination, withIntermediateDirectories: true)
    for name in try FileManager.default.contentsOfDirectory(atPath: source) {
        try FileManager.default.copyItem(atPath: source + "/" + name, toPath: destination + "/" + name)
    }
}

/// Pushes `op` to a store just restarted on the same port: a pooled
/// connection to the stopped one may fail first, so retry, as a client does
/// (a retried push the store took already answers noop).
func pushAfterRestart(_ store: StoreEndpoint, _ key: TeaBag.PathKey, _ op: Op) async throws -> Bool {
    try await eventually(20) {
        let answer = try? await StoreAPI().push(store, key, op)
        return answer == .accepted(noop: false) || answer == .accepted(noop: true)
    }
}
