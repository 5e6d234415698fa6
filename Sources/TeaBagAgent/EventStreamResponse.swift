/// A Server-Sent Events response of the agent (`/v1/watch`, the
/// dashboard's `/events`): an opening line, one frame per element as it
/// comes, a comment every 15 s so proxies and clients see it alive; it ends
/// on graceful shutdown so that an open stream does not hold the exit.
///
/// A client that stops reading is cut off once 8 MiB wait for it
/// (`BoundedByteStream`): its connection is closed rather than frames
/// dropped in silence or held without bound (issue 14 §4). A watcher whose
/// stream ends reconnects and reads the values again.
import Hummingbird
import NIOCore
import ServiceLifecycle
import TeaBagServerKit

enum EventStreamResponse {
    static func make<Element: Sendable>(opening: String, channel: any Channel, maxPending: Int = BoundedByteStream.defaultMaxPending,
                                        source: @escaping @Sendable () async -> AsyncStream<Element>,
                                        frame: @escaping @Sendable (Element) -> String) -> Response {
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let elements = await source()
            let stream = BoundedByteStream(channel: channel, maxPending: maxPending)
            let feed = Task {
                for await element in elements where !stream.yield(ByteBuffer(string: frame(element))) { break }
                stream.finish()
            }
            let beat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    stream.yield(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            defer {
                feed.cancel()
                beat.cancel()
            }
            try await writer.write(ByteBuffer(string: opening))
            for await buffer in stream.buffers.cancelOnGracefulShutdown() {
                try await writer.write(buffer)
                stream.written(buffer)
            }
            try await writer.finish(nil)
        })
    }
}
