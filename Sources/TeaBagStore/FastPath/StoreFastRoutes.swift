/// The store's hot routes answered on the event loop (`EventLoopResponder`):
/// `POST …/oplog`, `POST …/oplog/batch` and the SSE stream.
///
/// Only the successful case is taken: a user and a store token already
/// known here (`TokenChecker.isKnownValid`), a body that parses, an op
/// that passes its checks. Anything else returns false and the router
/// answers it, with its exact errors. A taken push goes to the writer with
/// this loop, and its answer is written when the writer hands the commit
/// back — no task, no continuation.
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import Prometheus
import TeaBagCore
import TeaBagServerKit

struct StoreFastRoutes: EventLoopResponder {
    let service: StoreService
    let hub: StreamHub
    let limits: BodyLimits
    let metrics: FastRouteMetrics

    var maxBodyBytes: Int { limits.maxBytes }

    private enum Route {
        case push, batch, stream
    }

    func claims(_ head: HTTPRequest) -> Bool {
        guard let route = Self.route(head) else { return false }
        if route == .stream {
            return head.headerFields[.accept]?.contains("text/event-stream") == true
        }
        return true
    }

    /// `/user/<id>/oplog`, `/oplog/batch` (POST) or `/oplog/stream` (GET).
    private static func route(_ head: HTTPRequest) -> Route? {
        guard let path = head.path, path.hasPrefix("/user/") else { return nil }
        let target = path.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)[0]
        switch head.method {
        case .post:
            if endsWith(target, "/oplog") { return .push }
            if endsWith(target, "/oplog/batch") { return .batch }
        case .get:
            if endsWith(target, "/oplog/stream") { return .stream }
        default: break
        }
        return nil
    }

    private static func endsWith(_ bytes: Substring.UTF8View.SubSequence, _ suffix: String) -> Bool {
        bytes.count > suffix.utf8.count && bytes.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
    }

    func respond(to head: HTTPRequest, body: ByteBuffer, on connection: any EventLoopConnection) -> Bool {
        guard let route = Self.route(head), let path = head.path else { return false }
        let target = RequestTarget(path)
        guard let userID = Self.userID(target.path, route: route), let user = service.cachedUser(userID),
              service.tokens.isKnownValid(user: user, token: Self.storeToken(head, target)) else { return false }
        switch route {
        case .push: return push(user: userID, head, target, body, connection)
        case .batch: return batch(user: userID, head, body, connection)
        case .stream: return stream(user: userID, head, connection)
        }
    }

    // MARK: pushes

    private func push(user: Int64, _ head: HTTPRequest, _ target: RequestTarget, _ body: ByteBuffer,
                      _ connection: any EventLoopConnection) -> Bool {
        guard case .value(let type) = target.value("type"), case .value(let path) = target.value("path"),
              let key = try? StoreService.key(type: type, path: path),
              let json = parse(head, body) else { return false }
        let entry = service.admit(type: key.type, path: key.path, body: json)
        guard case .merge = entry.item else { return false }  // the router answers refusals
        let started = ContinuousClock.now
        let service = self.service
        let metrics = self.metrics
        // The completion runs on this loop (the writer hands it back here).
        let bound = NIOLoopBound(connection, eventLoop: connection.eventLoop)
        service.storage.submit(WriteRequest(user: user, entries: [entry], loop: connection.eventLoop) { result in
            let connection = bound.value
            switch result {
            case .success(let outcomes):
                service.count(outcomes[0])
                connection.respond(.ok, headers: Self.jsonHeaders, body: outcomes[0] == .noop ? Self.noopBody : Self.okBody)
                metrics.push.record(status: 200, since: started)
            case .failure(let error):
                let status = Self.answer(error, connection)
                metrics.push.record(status: status, since: started)
            }
        })
        return true
    }

    private func batch(user: Int64, _ head: HTTPRequest, _ body: ByteBuffer, _ connection: any EventLoopConnection) -> Bool {
        guard let json = parse(head, body), let items = json["ops"]?.arrayValue else { return false }
        let prepared = service.prepareBatch(items)
        let started = ContinuousClock.now
        let service = self.service
        let metrics = self.metrics
        let bound = NIOLoopBound(connection, eventLoop: connection.eventLoop)
        let finish: @Sendable ([WriteOutcome]) -> Void = { outcomes in
            let connection = bound.value
            let results = service.finishBatch(prepared, outcomes: outcomes)
            connection.respond(.ok, headers: Self.jsonHeaders, body: ByteBuffer(bytes: JSON.object(["results": .array(results)]).canonicalBytes))
            metrics.batch.record(status: 200, since: started)
        }
        if prepared.entries.isEmpty {
            finish([])
            return true
        }
        service.storage.submit(WriteRequest(user: user, entries: prepared.entries.map(\.entry), loop: connection.eventLoop) { result in
            switch result {
            case .success(let outcomes): finish(outcomes)
            case .failure(let error): metrics.batch.record(status: Self.answer(error, bound.value), since: started)
            }
        })
        return true
    }

    /// The body as JSON, when the content type and the JSON are what the router accepts.
    private func parse(_ head: HTTPRequest, _ body: ByteBuffer) -> JSON? {
        if let type = head.headerFields[.contentType], !type.lowercased().hasPrefix("application/json") { return nil }
        return try? body.withUnsafeReadableBytes { raw in try JSON.parse(raw.bindMemory(to: UInt8.self), maxDepth: limits.maxDepth) }
    }

    /// A failed commit (a full disk, a stopping store): its JSON error, as the router sends it.
    private static func answer(_ error: any Error, _ connection: any EventLoopConnection) -> Int {
        let apiError = error as? APIError ?? APIError.internal()
        var headers = jsonHeaders
        headers.append(contentsOf: apiError.headers)
        connection.respond(apiError.status, headers: headers, body: ByteBuffer(bytes: apiError.json.canonicalBytes))
        return apiError.status.code
    }

    static let jsonHeaders: HTTPFields = [.contentType: "application/json; charset=utf-8"]
    static let okBody = ByteBuffer(string: #"{"ok":true}"#)
    static let noopBody = ByteBuffer(string: #"{"noop":true,"ok":true}"#)

    // MARK: streams

    private func stream(user: Int64, _ head: HTTPRequest, _ connection: any EventLoopConnection) -> Bool {
        let lastEventID = head.headerFields[.lastEventID].flatMap { Int64($0) }
        let sink = ConnectionSink(connection)
        let hub = self.hub
        var listener: StreamListener?
        connection.startStream(Self.streamHeaders) {
            if let listener { hub.remove(listener) }
        }
        listener = hub.subscribe(user: user, lastEventID: lastEventID, loop: connection.eventLoop, sink: sink)
        metrics.stream.record(status: 200, since: .now)
        return true
    }

    static let streamHeaders: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]

    // MARK: credentials, as the router reads them

    /// `:user_id` as `ServerContext.userID` accepts it.
    private static func userID(_ path: Substring, route: Route) -> Int64? {
        let suffix = route == .push ? "/oplog" : route == .batch ? "/oplog/batch" : "/oplog/stream"
        let digits = path.dropFirst("/user/".count).dropLast(suffix.count)
        guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = Int64(digits), id > 0 else { return nil }
        return id
    }

    /// `Credentials.store`: `?store_token=` first, else a Bearer token that looks like one.
    /// A token with escapes goes to the router (its decoding is the reference).
    private static func storeToken(_ head: HTTPRequest, _ target: RequestTarget) -> String? {
        if let raw = target.rawValue("store_token") {
            return raw.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) ? nil : String(raw)
        }
        guard let authorization = head.headerFields[.authorization] else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let value = String(parts[1]).trimmingCharacters(in: .whitespaces)
        return value.hasPrefix("store_") ? value : nil
    }
}

/// A listener's sink: the connection its stream runs on.
final class ConnectionSink: StreamSink {
    private weak var connection: (any EventLoopConnection)?
    init(_ connection: any EventLoopConnection) { self.connection = connection }
    func send(_ buffers: [ByteBuffer]) { connection?.streamWrite(buffers) }
    func finish() { connection?.streamEnd() }
}
