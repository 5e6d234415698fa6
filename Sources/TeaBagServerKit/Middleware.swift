/// Middleware shared by the servers: one thing each.
import Foundation
import Hummingbird
import NIOCore
import Logging

/// Logs each request once, with secrets redacted, and counts it by route and status.
public struct ObservedRequests<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    public init(metrics: ServerMetrics) {
        self.metrics = metrics
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let status: Int
        do {
            let response = try await next(request, context)
            status = Int(response.status.code)
            record(request, context, status: status, since: start)
            return response
        } catch let error as APIError {
            record(request, context, status: Int(error.status.code), since: start)
            throw error
        } catch let error as any HTTPResponseError {
            // Hummingbird's own refusals (no such route, a body over its
            // hard cap) get the protocol's JSON shape too.
            let translated = error.status == .notFound
                ? APIError.unknownRoute
                : APIError.serverRefusal(error.status, "\(error)")
            record(request, context, status: Int(translated.status.code), since: start)
            throw translated
        } catch {
            context.logger.error("unhandled error", metadata: ["path": "\(Redaction.path(request.uri.path))", "error": "\(error)"])
            record(request, context, status: 500, since: start)
            throw APIError.internal()
        }
    }

    private func record(_ request: Request, _ context: Context, status: Int, since start: ContinuousClock.Instant) {
        let route = context.endpointPath ?? "unmatched"
        let elapsed = ContinuousClock.now - start
        metrics.requests(route: route, method: request.method.rawValue, status: status).increment()
        metrics.latency(route: route).record(elapsed)
        context.logger.debug("request", metadata: [
            "method": "\(request.method)", "path": "\(Redaction.path(request.uri.path))", "status": "\(status)",
            "ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
        ])
    }
}

/// The request context of TeaBag's servers: Hummingbird's basic one with
/// the body limit of docs/protocol.md#common-rules, and the peer's address (for `FailureLimit`).
public struct ServerContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?
    /// The request's connection: a streamed response closes it to cut off
    /// a client that stopped reading (its writer would wait forever).
    public let channel: any Channel
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        remoteAddress = source.channel.remoteAddress
        channel = source.channel
    }
    /// Bodies are read through `Request.jsonBody`, which applies the configured limit.
    public var maxUploadSize: Int { 64 << 20 }
}

extension ServerContext {
    /// `:user_id`, a positive decimal integer (docs/protocol.md#common-rules), else 400
    /// `<kind>:InvalidUserId` — the original names the kind after the route family.
    public func userID(kind: String) throws -> Int64 {
        let text = parameters.get("user_id") ?? ""
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = Int64(text), id > 0 else {
            throw APIError(.invalidUserId.in(kind), "the user id must be a positive decimal integer, got \"\(text)\"")
        }
        return id
    }
}

extension Router where Context == ServerContext {
    /// `/healthz` and `/metrics` (docs/protocol.md#common-rules).
    public func addOperationalRoutes(metrics: ServerMetrics) {
        get("/healthz") { _, _ in Response.ok }
        get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(string: metrics.render())))
        }
    }
}
