/// A Server-Sent Events response of the agent (`/v1/watch`, the
/// dashboard's `/events`): an opening line, one frame per element as it
/// comes, a comment every 15 s so proxies and clients see it alive; it ends
/// on graceful shutdown so that an open stream does not hold the exit.
import Hummingbird
import NIOCore
import ServiceLifecycle

enum EventStreamResponse {
    static func make<Element: Sendable>(opening: String, source: @escaping @Sendable () async -> AsyncStream<Element>,
                                        frame: @escaping @Sendable (Element) -> String) -> Response {
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            let elements = await source()
            let (frames, continuation) = AsyncStream<ByteBuffer>.makeStream(bufferingPolicy: .bufferingNewest(10_000))
            let feed = Task {
                for await element in elements { continuation.yield(ByteBuffer(string: frame(element))) }
                continuation.finish()
            }
            let beat = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(15))
                    continuation.yield(ByteBuffer(string: ": keep-alive\n\n"))
                }
            }
            defer {
                feed.cancel()
                beat.cancel()
            }
            try await writer.write(ByteBuffer(string: opening))
            for await buffer in frames.cancelOnGracefulShutdown() { try await writer.write(buffer) }
            try await writer.finish(nil)
        })
    }
}
