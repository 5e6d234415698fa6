import Dispatch
import Logging
import Synchronization
import TeaBagCore

/// Where a client's folds run, so that a slow reducer (a plugin that
/// sleeps, loops or is merely slow) stalls only its own type — as the
/// store's `WriterFold` does for its writer.
///
/// The first folds of each type (`watchedFolds`) run on the type's own
/// queue while the caller waits at most `patience`; a type that stayed
/// quick that long is folded inline from then on (a thread hop costs as
/// much as a small fold), and still found slow, after the fact, by a
/// single op's fold that outlasts the patience. A slow type is never folded
/// inline again: its paths are marked stale and folded on the type's queue,
/// one fold at a time (so never two folds of one path at once), their
/// readers and writers waiting for the value while every other type goes on.
public final class FoldGuard: Sendable {
    public let patience: Duration
    static let watchedFolds = 1_000
    private let logger: Logger
    private let state = Mutex<[String: Standing]>([:])

    private enum Standing {
        case watched(quickFolds: Int, queue: DispatchQueue)
        case trusted(queue: DispatchQueue)
        case slow(queue: DispatchQueue)

        var queue: DispatchQueue {
            switch self {
            case .watched(_, let queue), .trusted(let queue), .slow(let queue): queue
            }
        }
    }

    public init(patience: Duration = .milliseconds(200), logger: Logger = Logger(label: "teabag.client.folds")) {
        self.patience = patience
        self.logger = logger
    }

    public func isSlow(_ type: String) -> Bool {
        if case .slow = state.withLock({ $0[type] }) { return true }
        return false
    }

    /// Runs `fold` now, or returns nil: the type is slow, or just proved so
    /// (the fold then finishes on its queue, its result dropped).
    func fold(_ type: String, ops: Int, _ fold: @escaping @Sendable () -> JSON) -> JSON? {
        let standing = standing(type)
        switch standing {
        case .slow:
            return nil
        case .trusted:
            let started = ContinuousClock.now
            let value = fold()
            if ops == 1 && ContinuousClock.now - started > patience { markSlow(type) }
            return value
        case .watched:
            let result = Mutex<JSON?>(nil)
            let done = DispatchSemaphore(value: 0)
            standing.queue.async {
                let value = fold()
                result.withLock { $0 = value }
                done.signal()
            }
            let seconds = Double(patience.components.seconds) + Double(patience.components.attoseconds) / 1e18
            guard done.wait(timeout: .now() + seconds) == .success else {
                markSlow(type)
                return nil
            }
            state.withLock { state in
                guard case .watched(let quick, let queue) = state[type] else { return }
                state[type] = quick + 1 >= Self.watchedFolds ? .trusted(queue: queue) : .watched(quickFolds: quick + 1, queue: queue)
            }
            return result.withLock { $0 }
        }
    }

    /// Runs `fold` on the type's queue, after any fold of the type before it.
    func foldLater(_ type: String, _ fold: @escaping @Sendable () -> Void) {
        standing(type).queue.async(execute: fold)
    }

    private func standing(_ type: String) -> Standing {
        state.withLock { state in
            if let standing = state[type] { return standing }
            let made = Standing.watched(quickFolds: 0, queue: DispatchQueue(label: "teabag.client.fold.\(type)"))
            state[type] = made
            return made
        }
    }

    private func markSlow(_ type: String) {
        let changed = state.withLock { state -> Bool in
            guard let standing = state[type] else { return false }
            if case .slow = standing { return false }
            state[type] = .slow(queue: standing.queue)
            return true
        }
        if changed {
            logger.warning("folding took longer than \(patience); this type's values are folded on their own queue from now on, and its reads and writes wait for them", metadata: ["type": "\(type)"])
        }
    }
}
