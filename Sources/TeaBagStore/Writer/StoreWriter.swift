/// The one writer of a store's oplogs: a thread of its own that owns the
/// store's write connection.
///
/// Requests are queued under a lock and the thread is woken by a condition
/// variable; it takes everything queued (up to 1,024 requests) into one
/// transaction (group commit), so the commit's fsync is paid once per
/// group. After the commit each request's completion is handed to the
/// event loop it came from — one task per loop per commit — and the
/// accepted ops to the streams. Nothing is acknowledged before its
/// transaction committed. No Swift concurrency on this path: a push
/// crosses two threads (its event loop and this one), not five.
import Foundation
import Logging
import NIOCore
import TeaBagCore
import TeaBagServerKit

final class StoreWriter: @unchecked Sendable {
    // Unsafe 3: `queue` and `state` are touched only under
    // `condition`'s lock; `store` only on the writer thread (and in init,
    // before the thread starts). That is what @unchecked Sendable rests on.
    private let condition = NSCondition()
    private var queue: [WriteRequest] = []
    private var state: RunState = .idle
    private let store: WriterStore
    private let logger: Logger
    private let onCommit: @Sendable ([AcceptedOp]) -> Void
    private let onCommitTiming: @Sendable (Duration, Int) -> Void
    private let finished = DispatchSemaphore(value: 0)

    private enum RunState { case idle, running, draining, stopped }

    static let maxGroup = 1_024

    var ids: StreamIDs { store.ids }

    init(store: WriterStore, logger: Logger,
         onCommit: @escaping @Sendable ([AcceptedOp]) -> Void, onCommitTiming: @escaping @Sendable (Duration, Int) -> Void) {
        self.store = store
        self.logger = logger
        self.onCommit = onCommit
        self.onCommitTiming = onCommitTiming
    }

    /// Starts the thread (once).
    func start() {
        condition.lock()
        defer { condition.unlock() }
        guard state == .idle else { return }
        state = .running
        let thread = Thread { [self] in run() }
        thread.name = "teabag-store-writer"
        thread.start()
    }

    /// Finishes what is queued, then ends the thread; later requests fail at once.
    func stop() {
        condition.lock()
        let wasRunning = state == .running
        if state == .running || state == .idle { state = wasRunning ? .draining : .stopped }
        condition.broadcast()
        condition.unlock()
        if wasRunning { finished.wait() }
    }

    /// Queues a request; its completion runs once committed. A writer that
    /// has stopped fails it at once (it would never run).
    func submit(_ request: WriteRequest) {
        condition.lock()
        guard state == .running || state == .idle else {
            condition.unlock()
            let failure = Result<[WriteOutcome], any Error>.failure(Self.stopped)
            if let loop = request.loop { loop.execute { request.completion(failure) } } else { request.completion(failure) }
            return
        }
        queue.append(request)
        if queue.count == 1 { condition.signal() }
        condition.unlock()
    }

    /// Merges `entries` of one user, in order, in one transaction; returns once committed.
    func merge(user: Int64, _ entries: [WriteEntry]) async throws -> [WriteOutcome] {
        try await withCheckedThrowingContinuation { continuation in
            submit(WriteRequest(user: user, entries: entries, loop: nil) { continuation.resume(with: $0) })
        }
    }

    static let stopped = APIError(.storeShuttingDown, "the store is shutting down; retry on another store or later")

    // MARK: the thread

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty && state == .running { condition.wait() }
            if queue.isEmpty {
                state = .stopped
                condition.unlock()
                break
            }
            let group = Array(queue.prefix(Self.maxGroup))
            queue.removeFirst(group.count)
            condition.unlock()

            apply(group)
            store.restartWALIfLarge()
        }
        finished.signal()
    }

    private func apply(_ group: [WriteRequest]) {
        let started = ContinuousClock.now
        var accepted: [AcceptedOp] = []
        let results: [Result<[WriteOutcome], any Error>]
        do {
            results = try store.apply(group, accepted: &accepted).map { .success($0) }
            onCommitTiming(ContinuousClock.now - started, group.count)
        } catch {
            logger.error("write transaction failed; \(group.count) request(s) refused: \(error)")
            let answer = StorageFailure.answer(for: error)
            results = Array(repeating: .failure(answer), count: group.count)
            accepted = []
        }
        // Listeners first: their frames and the acks leave in the same loop turns.
        if !accepted.isEmpty { onCommit(accepted) }
        deliver(results, to: group)
    }

    /// Each loop gets its completions in one task.
    private func deliver(_ results: [Result<[WriteOutcome], any Error>], to group: [WriteRequest]) {
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, calls: [@Sendable () -> Void])] = [:]
        for (request, result) in zip(group, results) {
            guard let loop = request.loop else {
                request.completion(result)
                continue
            }
            let completion = request.completion
            byLoop[ObjectIdentifier(loop), default: (loop, [])].calls.append { completion(result) }
        }
        for (loop, calls) in byLoop.values {
            loop.execute { for call in calls { call() } }
        }
    }
}
