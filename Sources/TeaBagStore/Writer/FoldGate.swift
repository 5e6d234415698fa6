/// The paths a fold is running on right now, so that one path is never
/// folded twice at once (the ABI header promises plugins that), even when
/// a slow fold was abandoned to another thread and a read folds the path.
import Dispatch
import Synchronization
import TeaBagCore

final class FoldGate: Sendable {
    private let running = Mutex<Set<PathKey>>([])

    /// Marks `path` as being folded; false when a fold of it is still running.
    func enter(_ path: PathKey) -> Bool { running.withLock { $0.insert(path).inserted } }

    func leave(_ path: PathKey) { _ = running.withLock { $0.remove(path) } }
}

extension FoldGate {
    /// Runs `body` on another thread while it holds `path`; nil when the
    /// path is being folded already or `body` outlasts `budget` (it then
    /// finishes on its own and frees the path when done).
    static func fold(_ path: PathKey, gate: FoldGate, within budget: Duration,
                     _ body: @escaping @Sendable () -> FoldOutcome) async -> FoldOutcome? {
        guard gate.enter(path) else { return nil }
        return await withCheckedContinuation { (continuation: CheckedContinuation<FoldOutcome?, Never>) in
            let answered = Mutex(false)
            let answer: @Sendable (FoldOutcome?) -> Void = { outcome in
                if answered.withLock({ was in defer { was = true }; return !was }) { continuation.resume(returning: outcome) }
            }
            DispatchQueue.global().async {
                let outcome = body()
                gate.leave(path)
                answer(outcome)
            }
            let (seconds, attoseconds) = budget.components
            DispatchQueue.global().asyncAfter(deadline: .now() + Double(seconds) + Double(attoseconds) / 1e18) { answer(nil) }
        }
    }
}
