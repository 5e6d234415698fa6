/// A listener's sink for a stream answered by the router: its bytes go
/// through an `AsyncStream` to the response's task.
import NIOCore

final class AsyncStreamSink: StreamSink, @unchecked Sendable {
    // Unsafe 5: an AsyncStream continuation is thread-safe; nothing else is held.
    private let continuation: AsyncStream<ByteBuffer>.Continuation
    init(_ continuation: AsyncStream<ByteBuffer>.Continuation) { self.continuation = continuation }

    func send(_ buffers: [ByteBuffer]) {
        for buffer in buffers {
            if case .dropped = continuation.yield(buffer) {
                // Too slow to keep up: end it; the client resumes with Last-Event-ID.
                continuation.finish()
                return
            }
        }
    }

    func finish() { continuation.finish() }
}
