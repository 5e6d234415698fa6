/// Routes answered on the event loop, in front of Hummingbird's router.
///
/// A push through Hummingbird's router crosses from the event loop to a
/// task on Swift's cooperative pool and back, and pays for the router,
/// the middleware chain and the `Request`/`Response` bridging: about 40% of
/// a store's CPU per push. The few routes that carry the load (a store's
/// pushes and streams, the table's token checks) are answered by an
/// `EventLoopResponder` right here, on the connection's loop.
///
/// The responder only ever *succeeds*: a request it does not claim, or
/// that fails any of its checks, is handed to the router unchanged — head,
/// body and end, as they came — so every refusal keeps the router's code
/// and its exact error JSON. Requests on one connection are answered in
/// order: while one is being answered (here or by the router) the next
/// ones wait in this handler.
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// Answers some requests on the event loop. Called on the connection's loop only.
public protocol EventLoopResponder: Sendable {
    /// Whether to collect this request for `respond` (else it goes to the router at once).
    func claims(_ head: HTTPRequest) -> Bool
    /// The whole request. Returns false, having done nothing, to hand it to the router.
    func respond(to head: HTTPRequest, body: ByteBuffer, on connection: EventLoopConnection) -> Bool
    /// A claimed request whose body grows past this goes to the router (which refuses it).
    var maxBodyBytes: Int { get }
}

/// The connection a claimed request is answered on. Loop-confined: call it
/// on `eventLoop` only (a writer's completion hops there first).
public protocol EventLoopConnection: AnyObject {
    var eventLoop: any EventLoop { get }
    var remoteAddress: SocketAddress? { get }
    /// A whole response; ends the request.
    func respond(_ status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer)
    /// Starts a streamed response (SSE); `streamWrite` and `streamEnd` follow.
    func startStream(_ headers: HTTPFields, onClose: @escaping () -> Void)
    /// Writes and flushes; a client that stops reading is cut off once
    /// `maxUnreadBytes` wait for it (it resumes later, e.g. with Last-Event-ID).
    func streamWrite(_ buffers: [ByteBuffer])
    func streamEnd()
}

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1.1 server with TeaBag's guards (see `teabag(idleTimeout:)`)
    /// and `responder` answering its routes on the event loop.
    public static func teabag(idleTimeout: Duration, fastRoutes responder: any EventLoopResponder, serverName: String) -> HTTPServerBuilder {
        HTTPServerBuilder { routerResponder in
            TeaBagHTTP1Channel(responder: routerResponder, idleTimeout: TimeAmount(idleTimeout), fastRoutes: responder,
                               serverName: serverName)
        }
    }
}

/// `HTTP1Channel`'s pipeline with the event-loop routes after Hummingbird's
/// connection-state handler, so that its idle timeout and graceful
/// shutdown see every request, answered here or by the router.
struct TeaBagHTTP1Channel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>
    let responder: HTTPChannelHandler.Responder
    let idleTimeout: TimeAmount
    let fastRoutes: any EventLoopResponder
    let serverName: String

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Hummingbird's own decoder limits (HTTP1Channel.Configuration.DecoderConfiguration).
            var limits = NIOHTTPDecoderLimitConfiguration()
            limits.maxHeaderFieldSize = 80 * 1024
            limits.maxHeaderListSize = 80 * 1024
            limits.maxHeaderFieldCount = 1000
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(), withDecoderLimitConfiguration: limits)
            try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            try channel.pipeline.syncOperations.addHandlers([ParseErrorAnswer(), UnreadBodyGuard()])
            let routes = EventLoopRoutesHandler(responder: fastRoutes, serverName: serverName)
            try channel.pipeline.syncOperations.addHandler(QuiesceTap(routes: routes))
            try channel.pipeline.syncOperations.addHandler(
                HTTPConnectionStateHandler(idleTimeout: Duration(idleTimeout), logger: logger))
            try channel.pipeline.syncOperations.addHandler(routes)
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}

extension Duration {
    init(_ amount: TimeAmount) { self = .nanoseconds(amount.nanoseconds) }
}

/// Graceful shutdown reaches each connection as `ChannelShouldQuiesceEvent`,
/// which Hummingbird's state handler consumes: this tap, in front of it,
/// first ends a stream answered here, so that the connection can close
/// (a stream would otherwise hold the exit; docs/cli.md: within 5 s).
final class QuiesceTap: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    private let routes: EventLoopRoutesHandler
    init(routes: EventLoopRoutesHandler) { self.routes = routes }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent { routes.quiesce() }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The per-connection handler: claims, collects, answers or hands over.
final class EventLoopRoutesHandler: ChannelDuplexHandler, RemovableChannelHandler, EventLoopConnection {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Bytes a streamed response may have waiting for a client that does not read.
    static let maxUnreadBytes = BoundedByteStream.defaultMaxPending
    /// Pipelined request bytes held while an earlier request is answered.
    static let maxQueuedBytes = 1 << 20

    private enum State {
        case idle
        /// A claimed request, its body so far.
        case collecting(HTTPRequest, ByteBuffer)
        /// The router has this request: its body is still coming while
        /// `requestOpen`, and its response has ended once `responded` (a
        /// refusal may go out before the body has come in).
        case forwarding(requestOpen: Bool, responded: Bool)
        /// Answered here; the response has not ended (or is a stream).
        case responding
    }

    private let responder: any EventLoopResponder
    private let serverName: String
    private var state: State = .idle
    /// Parts of pipelined requests, waiting for the response in progress.
    private var queued: [HTTPRequestPart] = []
    private var queuedBytes = 0
    private var draining = false
    private var context: ChannelHandlerContext?
    private var streaming = false
    private var unreadBytes = 0
    private var onStreamClose: (() -> Void)?

    init(responder: any EventLoopResponder, serverName: String) {
        self.responder = responder
        self.serverName = serverName
    }

    var eventLoop: any EventLoop { context!.eventLoop }
    var remoteAddress: SocketAddress? { context?.channel.remoteAddress }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        closeStream()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeStream()
        context.fireChannelInactive()
    }

    private func closeStream() {
        let close = onStreamClose
        onStreamClose = nil
        streaming = false
        close?()
    }

    // MARK: inbound

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if queued.isEmpty && process(part, context: context) { return }
        if case .body(let bytes) = part { queuedBytes += bytes.readableBytes }
        queued.append(part)
        if queuedBytes > Self.maxQueuedBytes { context.close(promise: nil) }
    }

    /// Handles one part now; false when it must wait for the response in progress.
    private func process(_ part: HTTPRequestPart, context: ChannelHandlerContext) -> Bool {
        switch state {
        case .idle:
            guard case .head(let head) = part else {
                context.fireChannelRead(wrapInboundOut(part))
                return true
            }
            if head.headerFields[.connection] == nil, Self.declaredLengthFits(head, responder.maxBodyBytes), responder.claims(head) {
                state = .collecting(head, context.channel.allocator.buffer(capacity: 0))
            } else {
                state = .forwarding(requestOpen: true, responded: false)
                context.fireChannelRead(wrapInboundOut(part))
            }
        case .collecting(let head, var body):
            switch part {
            case .head:
                break  // cannot happen: the parser ends a request before the next head
            case .body(var bytes):
                if body.readableBytes + bytes.readableBytes > responder.maxBodyBytes {
                    // Too big for us: the router refuses it with its own answer.
                    handOver(head, body, context: context)
                    context.fireChannelRead(wrapInboundOut(part))
                    return true
                }
                if body.readableBytes == 0 { body = bytes } else { body.writeBuffer(&bytes) }
                state = .collecting(head, body)
            case .end:
                state = .responding
                if !responder.respond(to: head, body: body, on: self) {
                    handOver(head, body, context: context)
                    state = .forwarding(requestOpen: false, responded: false)
                    context.fireChannelRead(wrapInboundOut(part))
                }
            }
        case .forwarding(requestOpen: true, let responded):
            guard case .end = part else {
                context.fireChannelRead(wrapInboundOut(part))
                return true
            }
            state = .forwarding(requestOpen: false, responded: responded)
            context.fireChannelRead(wrapInboundOut(part))
            if responded { responseEnded() }
        case .forwarding(requestOpen: false, _), .responding:
            return false
        }
        return true
    }

    /// A declared `Content-Length` over the limit is the router's to refuse, at once.
    private static func declaredLengthFits(_ head: HTTPRequest, _ limit: Int) -> Bool {
        guard let declared = head.headerFields[.contentLength] else { return true }
        guard let length = Int(declared) else { return false }
        return length <= limit
    }

    private func handOver(_ head: HTTPRequest, _ body: ByteBuffer, context: ChannelHandlerContext) {
        state = .forwarding(requestOpen: true, responded: false)
        context.fireChannelRead(wrapInboundOut(.head(head)))
        if body.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(.body(body))) }
    }

    /// The response in progress ended: the queued requests go on.
    private func responseEnded() {
        state = .idle
        guard !draining, let context else { return }
        draining = true
        defer { draining = false }
        while !queued.isEmpty {
            let part = queued.removeFirst()
            if case .body(let bytes) = part { queuedBytes -= bytes.readableBytes }
            if !process(part, context: context) {
                queued.insert(part, at: 0)
                if case .body(let bytes) = part { queuedBytes += bytes.readableBytes }
                return
            }
        }
    }

    // MARK: outbound (the router's writes pass here)

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(data, promise: promise)
        guard case .end = unwrapOutboundIn(data), case .forwarding(let requestOpen, _) = state else { return }
        if requestOpen {
            state = .forwarding(requestOpen: true, responded: true)
        } else {
            responseEnded()
        }
    }

    // MARK: answering here

    func respond(_ status: HTTPResponse.Status, headers: HTTPFields, body: ByteBuffer) {
        guard let context, case .responding = state else { return }
        var fields = headers
        fields[.contentLength] = String(body.readableBytes)
        fields[.server] = serverName
        context.write(wrapOutboundOut(.head(HTTPResponse(status: status, headerFields: fields))), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        responseEnded()
    }

    func startStream(_ headers: HTTPFields, onClose: @escaping () -> Void) {
        guard let context, case .responding = state else { return }
        var fields = headers
        fields[.server] = serverName
        streaming = true
        onStreamClose = onClose
        context.write(wrapOutboundOut(.head(HTTPResponse(status: .ok, headerFields: fields))), promise: nil)
    }

    func streamWrite(_ buffers: [ByteBuffer]) {
        guard let context, streaming else { return }
        if context.channel.isWritable {
            unreadBytes = 0
        } else {
            for buffer in buffers { unreadBytes += buffer.readableBytes }
            if unreadBytes > Self.maxUnreadBytes {
                // Too slow to keep up: cut off; it resumes with Last-Event-ID.
                context.close(promise: nil)
                return
            }
        }
        for buffer in buffers { context.write(wrapOutboundOut(.body(buffer)), promise: nil) }
        context.flush()
    }

    /// Graceful shutdown: a stream answered here ends now.
    func quiesce() { endStream(tellingListener: true) }

    func streamEnd() { endStream(tellingListener: false) }

    /// Ends a stream answered here; `tellingListener` when the end is ours
    /// (shutdown), not the listener's.
    private func endStream(tellingListener: Bool) {
        guard let context, streaming else { return }
        let close = onStreamClose
        streaming = false
        onStreamClose = nil
        if tellingListener { close?() }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        responseEnded()
    }
}
