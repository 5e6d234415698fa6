/// A listener's sink for a stream answered by the router: its bytes go
/// through a `BoundedByteStream` to the response's task, which writes them
/// as the client reads; a client that stops reading is cut off at the same
/// bound as the event-loop path (`EventLoopRoutesHandler.maxUnreadBytes`).
import NIOCore
import TeaBagServerKit

final class AsyncStreamSink: StreamSink, Sendable {
    let stream: BoundedByteStream

    init(_ stream: BoundedByteStream) { self.stream = stream }

    func send(_ buffers: [ByteBuffer]) {
        for buffer in buffers where !stream.yield(buffer) { return }
    }

    func finish() { stream.finish() }
}
