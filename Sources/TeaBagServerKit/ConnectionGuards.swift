/// The HTTP/1.1 server every TeaBag listener runs: Hummingbird's, with an
/// idle timeout and two connection-level guards below the router, for what
/// the router never sees.
///
/// - `ParseErrorAnswer`: a request NIO's parser refuses (thousands of
///   headers, a broken request line or chunk) is answered with the
///   protocol's JSON error (431/400) instead of Hummingbird's empty 400.
/// - `UnreadBodyGuard`: a response sent before its request's body has
///   ended (413, 401…) carries `Connection: close`, and the connection is
///   closed after a little more of that body instead of draining it to its
///   end — an endless chunked body is cut off, not read forever.
///
/// The idle timeout closes a connection that has not delivered a complete
/// request head or body part for that long (Hummingbird's
/// `HTTPConnectionStateHandler`): slowloris connections that trickle header
/// bytes, and bodies shorter than their `Content-Length`. A response in
/// progress (a long poll, an SSE stream) is never idle.
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTP1
import NIOHTTPTypes

extension HTTPServerBuilder {
    /// Hummingbird's HTTP/1.1 server with TeaBag's guards.
    /// - Parameter idleTimeout: see the file's summary.
    public static func teabag(idleTimeout: Duration) -> HTTPServerBuilder {
        .http1(configuration: .init(additionalChannelHandlers: [ParseErrorAnswer(), UnreadBodyGuard()],
                                    idleTimeout: TimeAmount(idleTimeout)))
    }
}

extension TimeAmount {
    init(_ duration: Duration) {
        let (seconds, attoseconds) = duration.components
        self = .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}

/// Answers a request the HTTP parser refused with the protocol's JSON error,
/// then closes the connection (the parser cannot go on after an error).
/// The error still travels up the pipeline, so that a route reading a body
/// the parser broke off sees a failure, never a clean (truncated) end.
final class ParseErrorAnswer: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Request heads received whose response has not ended.
    private var unanswered = 0
    /// The last request head received has not had its end yet.
    private var requestOpen = false
    /// A response head was written and its end not yet.
    private var responding = false
    /// The answer to a parse error, waiting for the response in flight.
    private var deferred: APIError?
    /// Our answer is written: whatever the layers above write is dropped.
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            unanswered += 1
            requestOpen = true
        case .body: break
        case .end: requestOpen = false
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if answered || deferred != nil {
            // The parser stays failed; what it says after its first error adds nothing.
            context.fireErrorCaught(error)
            return
        }
        guard let parseError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let answer = Self.answer(parseError)
        // Nothing is due, or only the request the parser broke off, whose
        // route cannot finish: answer now. Else after the response in flight.
        if unanswered == 0 || (unanswered == 1 && requestOpen && !responding) {
            send(answer, context: context)
        } else {
            deferred = answer
        }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if answered {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(let response): responding = response.status.kind != .informational  // a 100 has no end
        case .body: break
        case .end:
            responding = false
            unanswered = max(0, unanswered - 1)
            if let deferred, unanswered == 0 || (unanswered == 1 && requestOpen) {
                context.write(data, promise: promise)
                send(deferred, context: context)
                return
            }
        }
        context.write(data, promise: promise)
    }

    private func send(_ error: APIError, context: ChannelHandlerContext) {
        answered = true
        let body = ByteBuffer(bytes: error.json.canonicalBytes)
        let head = HTTPResponse(status: error.status, headerFields: [
            .contentType: "application/json; charset=utf-8", .contentLength: String(body.readableBytes), .connection: "close",
        ])
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(body)), promise: nil)
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in bound.value.close(promise: nil) }
    }

    static func answer(_ error: HTTPParserError) -> APIError {
        if case .headerOverflow = error {
            return APIError(.serverHeadersTooLarge, "the request's headers are too many or too large (at most 1,000 fields and 80 KiB)")
        }
        return APIError(.serverBadRequest, "the request is not valid HTTP/1.1 (\(error))")
    }
}

/// Closes a connection whose response went out before its request's body
/// ended, rather than draining that body for as long as the client sends.
final class UnreadBodyGuard: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    /// Bytes of an unread body accepted (and dropped) after the answer, so a
    /// client that sends its body in one go still reads the answer.
    static let drainLimit = 64 * 1024

    private var requestOpen = false
    /// The response in progress said `Connection: close`.
    private var closing = false
    /// The response has ended while the request body still comes.
    private var answeredEarly = false
    private var drained = 0

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head:
            requestOpen = true
        case .body(let buffer):
            if answeredEarly {
                drained += buffer.readableBytes
                if drained > Self.drainLimit { context.close(promise: nil) }
            }
        case .end:
            requestOpen = false
            if answeredEarly { context.close(promise: nil) }
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var response) where requestOpen && response.status.kind != .informational:
            closing = true
            response.headerFields[.connection] = "close"
            context.write(wrapOutboundOut(.head(response)), promise: promise)
        case .end where closing:
            closing = false
            if requestOpen {
                answeredEarly = true
                context.write(data, promise: promise)
            } else {
                // The body ended while the answer was being written: the
                // answer said close, so close once it is out.
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                context.writeAndFlush(data).whenComplete { result in
                    promise?.completeWith(result)
                    bound.value.close(promise: nil)
                }
            }
        default:
            context.write(data, promise: promise)
        }
    }
}
