/// A listener's sink for a stream answered by the router: its bytes go
/// through an `AsyncStream` to the response's task, which writes them as
/// the client reads. A client that stops reading is cut off once
/// `maxPending` bytes wait for it — the same bound as the event-loop path
/// (`EventLoopRoutesHandler.maxUnreadBytes`): the task's write never
/// returns then, so the connection itself is closed (issue 14 §4).
import NIOCore
import Synchronization

final class AsyncStreamSink: StreamSink, @unchecked Sendable {
    // Unsafe 5: an AsyncStream continuation and a Channel are thread-safe;
    // the byte count is atomic; nothing else is held.
    private let continuation: AsyncStream<ByteBuffer>.Continuation
    private let channel: any Channel
    /// Bytes handed to the response's task and not yet written by it.
    private let pending = Atomic<Int>(0)

    static let maxPending = 8 << 20

    init(_ continuation: AsyncStream<ByteBuffer>.Continuation, channel: any Channel) {
        self.continuation = continuation
        self.channel = channel
    }

    func send(_ buffers: [ByteBuffer]) {
        for buffer in buffers {
            let waiting = pending.add(buffer.readableBytes, ordering: .relaxed).newValue
            guard waiting <= Self.maxPending, case .enqueued = continuation.yield(buffer) else {
                // Too slow to keep up: cut off; the client resumes with Last-Event-ID.
                continuation.finish()
                channel.close(promise: nil)
                return
            }
        }
    }

    /// The response's task wrote `buffer`.
    func written(_ buffer: ByteBuffer) {
        pending.subtract(buffer.readableBytes, ordering: .relaxed)
    }

    func finish() { continuation.finish() }
}
