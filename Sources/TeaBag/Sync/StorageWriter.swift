import Dispatch
import Logging
import Synchronization
import TeaBagCore

/// A client's storage written from its own thread, with group commit: the
/// changes that arrive while one transaction commits all go into the next,
/// so concurrent writes share a commit (and its fsync under `full`), and
/// the client actor never waits for the disk.
///
/// `commit` returns once its change is durable (a write is acknowledged
/// then). The other mutations of `ClientStorage` are queued and return at
/// once: they are made in order, in the next transaction — the next
/// commit's, or, when none comes within `laterDelay`, one of their own (a
/// delivered op's dequeue rode alone before: three transactions a push
/// where one does). Each of them is
/// safe to lose in a crash (a dequeue lost resends an op the store holds,
/// a noop; the oplog cache is refetched), and every one queued before a
/// `commit` is durable when that commit returns. Reads go straight to the
/// storage (they happen at start).
public final class StorageWriter: ClientStorage, Sendable {
    public let base: any ClientStorage
    private let logger: Logger
    private let queue = DispatchQueue(label: "teabag.client.storage-writer")
    private let state = Mutex(State())

    private struct State {
        var changes: [StorageChange] = []
        /// Called once the changes queued before them are durable.
        var waiters: [@Sendable (Result<Void, any Error>) -> Void] = []
        var running = false
        /// A drain is set for `laterDelay` from a `later` change.
        var delayed = false
    }

    /// How long a change queued by `later` waits for a commit to ride with.
    public let laterDelay: DispatchTimeInterval

    public init(_ base: any ClientStorage, laterDelay: DispatchTimeInterval = .milliseconds(10),
                logger: Logger = Logger(label: "teabag.client.storage")) {
        self.base = base
        self.laterDelay = laterDelay
        self.logger = logger
    }

    /// Makes `change` durable together with whatever else is waiting.
    public func commit(_ change: StorageChange) async throws {
        try await commit([change])
    }

    /// Makes `changes`, in order, durable together with whatever else is waiting.
    public func commit(_ changes: [StorageChange]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enqueue(changes) { continuation.resume(with: $0) }
        }
    }

    /// Returns once everything queued so far is on disk.
    public func flush() async {
        try? await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enqueue([]) { continuation.resume(with: $0) }
        }
    }

    private func enqueue(_ changes: [StorageChange], done: @escaping @Sendable (Result<Void, any Error>) -> Void) {
        let start = state.withLock { state -> Bool in
            state.changes += changes
            state.waiters.append(done)
            return claim(&state)
        }
        if start { queue.async { self.drain() } }
    }

    /// Queues a change made in the next transaction, without waiting.
    public func later(_ change: StorageChange) {
        let schedule = state.withLock { state -> Bool in
            state.changes.append(change)
            if state.running || state.delayed { return false }
            state.delayed = true
            return true
        }
        if schedule { queue.asyncAfter(deadline: .now() + laterDelay) { self.drainDelayed() } }
    }

    /// The `later` changes no commit took meanwhile.
    private func drainDelayed() {
        let start = state.withLock { state -> Bool in
            state.delayed = false
            return claim(&state)
        }
        if start { drain() }
    }

    private func claim(_ state: inout State) -> Bool {
        guard !state.running else { return false }
        state.running = true
        return true
    }

    /// Commits batch after batch until nothing waits.
    private func drain() {
        while true {
            let (changes, waiters) = state.withLock { state in
                let taken = (state.changes, state.waiters)
                state.changes = []
                state.waiters = []
                if taken.0.isEmpty && taken.1.isEmpty { state.running = false }
                return taken
            }
            if changes.isEmpty && waiters.isEmpty { return }
            var failure: (any Error)?
            do { try base.apply(changes) } catch {
                failure = error
                logger.error("could not write the client database", metadata: ["error": "\(error)", "changes": "\(changes.count)"])
            }
            let result: Result<Void, any Error> = failure.map { .failure($0) } ?? .success(())
            for waiter in waiters { waiter(result) }
        }
    }

    // MARK: ClientStorage

    public func loadNode() throws -> NodeRecord? { try base.loadNode() }
    public func saveNode(_ node: NodeRecord) throws { try base.saveNode(node) }

    /// The synchronous form (the simulation's engine calls it): durable on
    /// return. It blocks the calling thread, never a task it waits for.
    public func enqueue(channel: String, entry: OutboxEntry, stores: [String], nextSeq: Int64) throws {
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<Void, any Error>>(.success(()))
        enqueue([.enqueue(channel: channel, entry: entry, stores: stores, nextSeq: nextSeq)]) { outcome in
            result.withLock { $0 = outcome }
            done.signal()
        }
        done.wait()
        try result.withLock { $0 }.get()
    }

    public func dequeue(channel: String, store: String, seqs: [Int64]) throws { later(.dequeue(channel: channel, store: store, seqs: seqs)) }
    public func drop(channel: String, seq: Int64) throws { later(.drop(channel: channel, seq: seq)) }
    public func dropOutbox(channel: String, store: String) throws { later(.dropOutbox(channel: channel, store: store)) }
    public func outboxes(channel: String) throws -> [String: [OutboxEntry]] { try base.outboxes(channel: channel) }

    public func saveOplogs(channel: String, _ oplogs: [(key: PathKey, ops: [Op])]) throws {
        guard !oplogs.isEmpty, base.keepsOplogs else { return }
        later(.saveOplogs(channel: channel, oplogs))
    }

    public func addToOplogs(channel: String, _ ops: [(key: PathKey, op: Op)]) throws {
        guard !ops.isEmpty, base.keepsOplogs else { return }
        later(.addToOplogs(channel: channel, ops))
    }

    public func oplogs(channel: String) throws -> [(key: PathKey, ops: [Op])] { try base.oplogs(channel: channel) }
    public var keepsOplogs: Bool { base.keepsOplogs }
    public func setting(_ name: String) throws -> String? { try base.setting(name) }
    public func saveSetting(_ name: String, _ value: String) throws { later(.saveSetting(name: name, value: value)) }

    public func apply(_ changes: [StorageChange]) throws {
        for change in changes { later(change) }
    }
}
