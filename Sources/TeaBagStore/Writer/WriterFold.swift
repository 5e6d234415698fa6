/// The folds the writer does inside the store's one write transaction, with
/// a bound on how long a slow reducer can hold it.
///
/// Every user's pushes wait while the writer folds, so one reducer whose fold
/// takes seconds (a plugin that sleeps, loops or is merely slow) would stall
/// them all. The first folds of each reducer version (`watchedFolds`) run on
/// another thread while the writer waits at most `patience`; past it, the
/// path's value is left stale — folded when it is read, by that `GET value`
/// alone — the abandoned fold finishes on its own, its result dropped, and
/// the reducer is not folded by the writer again (its values are folded
/// when read) until another version of it is loaded. A reducer that stayed
/// quick that long is folded inline from then on — a thread hop costs tens
/// of microseconds, as much as a push — and still marked slow, after the
/// fact, by a single op's fold that outlasts the patience.
/// (A whole oplog folded again after a new base may just be long: that
/// leaves only its path stale.)
///
/// The abandoned fold may still be running when the path is folded again:
/// the `FoldGate` keeps the ABI's promise that one path is never folded
/// twice at once — while it runs, the writer leaves the path stale and a
/// read of its value answers 503 with `Retry-After`. A fold that crashes
/// the process (SIGSEGV) does so on either thread: before the transaction
/// commits, so nothing is acknowledged.
import Dispatch
import Logging
import Synchronization
import TeaBagCore
import TeaBagPlugins

final class WriterFold: Sendable {
    /// Long beside a normal incremental fold (microseconds), short beside
    /// what a client waits for a push.
    static let patience: Duration = .milliseconds(500)
    private static let patienceSeconds = Double(patience.components.seconds) + Double(patience.components.attoseconds) / 1e18
    /// Quick folds on another thread before a reducer version is trusted inline.
    static let watchedFolds = 1_000

    private let plugins: PluginHost
    private let logger: Logger
    let gate: FoldGate
    /// Per reducer tag (library and version): quick watched folds so far, or slow.
    private let reducers = Mutex<[String: Standing]>([:])

    private enum Standing {
        case watched(quickFolds: Int)
        case trusted
        case slow
    }

    init(plugins: PluginHost, logger: Logger, gate: FoldGate) {
        self.plugins = plugins
        self.logger = logger
        self.gate = gate
    }

    /// The fold's outcome, or nil: too slow now or before, leave the value stale.
    func fold(_ path: PathKey, with reducer: any Reducer, state: JSON, ops: ArraySlice<Op>) -> FoldOutcome? {
        guard gate.enter(path) else { return nil }  // an abandoned fold of it still runs
        var handedOff = false
        defer { if !handedOff { gate.leave(path) } }
        let identity = tag(reducer)
        switch reducers.withLock({ $0[identity] ?? .watched(quickFolds: 0) }) {
        case .slow:
            return nil
        case .trusted:
            let started = ContinuousClock.now
            let outcome = plugins.fold(with: reducer, state: state, ops: ops)
            if ops.count == 1 && ContinuousClock.now - started > Self.patience { markSlow(reducer, identity) }
            return outcome
        case .watched:
            handedOff = true
            guard let outcome = foldElsewhere(path, reducer, state: state, ops: ops) else {
                if ops.count == 1 {
                    markSlow(reducer, identity)
                } else {
                    logger.warning("folding a whole oplog took longer than \(Self.patience); its value is folded when read", metadata: [
                        "type": "\(reducer.type)", "ops": "\(ops.count)"])
                }
                return nil
            }
            reducers.withLock { reducers in
                guard case .watched(let quick) = reducers[identity] ?? .watched(quickFolds: 0) else { return }
                reducers[identity] = quick + 1 >= Self.watchedFolds ? .trusted : .watched(quickFolds: quick + 1)
            }
            return outcome
        }
    }

    /// Folds on another thread; nil when it took longer than `patience`.
    /// The path stays in the gate until that thread is done.
    private func foldElsewhere(_ path: PathKey, _ reducer: any Reducer, state: JSON, ops: ArraySlice<Op>) -> FoldOutcome? {
        let result = Mutex<FoldOutcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        let plugins = self.plugins
        let gate = self.gate
        DispatchQueue.global().async {
            let outcome = plugins.fold(with: reducer, state: state, ops: ops)
            result.withLock { $0 = outcome }
            gate.leave(path)
            done.signal()
        }
        guard done.wait(timeout: .now() + Self.patienceSeconds) == .success else { return nil }
        return result.withLock { $0 }
    }

    private func markSlow(_ reducer: any Reducer, _ identity: String) {
        reducers.withLock { $0[identity] = .slow }
        logger.warning("folding one op took longer than \(Self.patience); this reducer's values are folded when read from now on", metadata: [
            "type": "\(reducer.type)", "reducer": "\(identity)"])
    }
}
