/// A loop that runs an action at an interval until graceful shutdown, and
/// once more on the way out (e.g. to flush what is pending).
import ServiceLifecycle

public struct PeriodicTask: Service {
    let interval: Duration
    let action: @Sendable () async -> Void

    public init(every interval: Duration, _ action: @escaping @Sendable () async -> Void) {
        self.interval = interval
        self.action = action
    }

    public func run() async throws {
        while !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                break
            }
            await action()
        }
        await action()
    }
}
