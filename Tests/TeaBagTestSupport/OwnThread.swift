/// CPU-bound test work on a thread of its own.
import Foundation

/// Runs `work` on a new thread and awaits its result.
///
/// swift-testing runs every test at once on Swift's cooperative pool, which
/// has one thread per core: two here. A synchronous test that computes for
/// tens of seconds (property tests, the simulation) holds one of them the
/// whole time, and the suites that start servers and wait on streams starve
/// until their waits run out. Issues must be recorded back in the test's own
/// task (`Issue.record` needs its context), so `work` returns what it found.
public func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        Thread.detachNewThread { continuation.resume(returning: work()) }
    }
}
