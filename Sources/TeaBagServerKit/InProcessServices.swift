/// Services run inside another program (tests, benchmarks), stopped the way
/// SIGTERM stops them in `teabag`: by a graceful shutdown, never by
/// cancelling the task that runs them.
///
/// Why not `task.cancel()`: a cancelled Hummingbird server can leave an
/// accepted connection in NIO's server channel that nobody reads out; its
/// `NIOAsyncWriter` is then deinited unfinished and the whole process traps
/// ("Deinited NIOAsyncWriter without calling finish()", swift-nio #3481). A
/// cancelled server can also wait forever on an SSE response that only ends
/// on graceful shutdown.
import Logging
import ServiceLifecycle

public struct InProcessServices: Sendable {
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    public init(_ services: [any Service], logger: Logger) {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: logger))
        self.group = group
        self.task = Task { try await group.run() }
    }

    /// Ends every service gracefully and waits until they have returned.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}
