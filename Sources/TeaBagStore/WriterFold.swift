/// The folds the writer does inside the store's one write transaction, with
/// a bound on how long it waits for each.
///
/// Every user's pushes wait while the writer folds, so one reducer whose fold
/// takes seconds (a plugin that sleeps, loops or is merely slow) would stall
/// them all. The fold therefore runs on another thread and the writer waits
/// at most `patience`; past it, the path's value is left stale — folded when
/// it is read, by that `GET value` alone — and the abandoned fold finishes on
/// its own, its result dropped. A reducer that ran out of patience on a
/// single op is not folded by the writer again (its values are folded when
/// read) until another version of it is loaded, so the writer waits once per
/// slow reducer, not once per op. (A whole oplog folded again after a new
/// base may just be long: that leaves only its path stale.)
///
/// The abandoned fold may still be running when a read folds the same path.
/// The ABI promises never to fold one path twice at once; a fold is never
/// told its path and only borrows its buffers, so a reentrant plugin (which
/// the ABI requires) cannot tell, and this is the price of not stalling the
/// store. A fold that crashes the process (SIGSEGV) does so on either
/// thread: before the transaction commits, so nothing is acknowledged.
import Dispatch
import Logging
import Synchronization
import TeaBagCore
import TeaBagPlugins

final class WriterFold: Sendable {
    /// Long beside a normal incremental fold (microseconds), short beside
    /// what a client waits for a push.
    static let patience: Duration = .milliseconds(500)

    private let plugins: PluginHost
    private let logger: Logger
    /// Tags (library and version) of reducers that ran out of patience.
    private let slow = Mutex<Set<String>>([])

    init(plugins: PluginHost, logger: Logger) {
        self.plugins = plugins
        self.logger = logger
    }

    /// The fold's outcome, or nil: too slow now or before, leave the value stale.
    func fold(with reducer: any Reducer, state: JSON, ops: ArraySlice<Op>) -> FoldOutcome? {
        let single = ops.count == 1
        let identity = tag(reducer)
        if slow.withLock({ $0.contains(identity) }) { return nil }
        let result = Mutex<FoldOutcome?>(nil)
        let done = DispatchSemaphore(value: 0)
        let plugins = self.plugins
        DispatchQueue.global().async {
            let outcome = plugins.fold(with: reducer, state: state, ops: ops)
            result.withLock { $0 = outcome }
            done.signal()
        }
        let seconds = Double(Self.patience.components.attoseconds) / 1e18 + Double(Self.patience.components.seconds)
        guard done.wait(timeout: .now() + seconds) == .success else {
            guard single else {
                logger.warning("folding a whole oplog took longer than \(Self.patience); its value is folded when read", metadata: [
                    "type": "\(reducer.type)", "ops": "\(ops.count)"])
                return nil
            }
            slow.withLock { _ = $0.insert(identity) }
            logger.warning("folding one op took longer than \(Self.patience); this reducer's values are folded when read from now on", metadata: [
                "type": "\(reducer.type)", "reducer": "\(identity)"])
            return nil
        }
        return result.withLock { $0 }
    }
}
