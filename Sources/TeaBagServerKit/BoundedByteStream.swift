/// The bytes of a streamed response (SSE) on their way to a response
/// task's writer, bounded by what waits unread: a client that stops
/// reading is cut off — its connection closed — once `maxPending` bytes
/// wait for it, instead of the server holding them without end or dropping
/// some silently (issue 14 §4). The writer's `write` never returns for a
/// client that reads nothing, so closing the connection is the one way out;
/// the client sees its stream end and resumes (the store: `Last-Event-ID`;
/// the agent's watch: by reading the values again).
import NIOCore
import Synchronization

public final class BoundedByteStream: Sendable {
    private let continuation: AsyncStream<ByteBuffer>.Continuation
    private let channel: any Channel
    /// Bytes yielded and not yet written by the response's task.
    private let pending = Atomic<Int>(0)
    private let maxPending: Int
    /// What the response's task iterates.
    public let buffers: AsyncStream<ByteBuffer>

    /// The bound both servers use: a client 8 MiB behind is cut off.
    public static let defaultMaxPending = 8 << 20

    public init(channel: any Channel, maxPending: Int = BoundedByteStream.defaultMaxPending) {
        (buffers, continuation) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .unbounded)
        self.channel = channel
        self.maxPending = maxPending
    }

    /// Queues `buffer` for the writer; false when the client was cut off
    /// (now, or before).
    @discardableResult
    public func yield(_ buffer: ByteBuffer) -> Bool {
        let waiting = pending.add(buffer.readableBytes, ordering: .relaxed).newValue
        guard waiting <= maxPending, case .enqueued = continuation.yield(buffer) else {
            cutOff()
            return false
        }
        return true
    }

    /// The response's task wrote `buffer`.
    public func written(_ buffer: ByteBuffer) {
        pending.subtract(buffer.readableBytes, ordering: .relaxed)
    }

    /// Ends the stream normally: the writer drains what waits, then finishes.
    public func finish() { continuation.finish() }

    /// Ends the stream and closes the connection under a blocked writer.
    public func cutOff() {
        continuation.finish()
        channel.close(promise: nil)
    }

    public func onTermination(_ handler: @escaping @Sendable () -> Void) {
        continuation.onTermination = { _ in handler() }
    }
}
