/// The local API's hot routes answered on the event loop
/// (`EventLoopResponder`): `GET /v1/value/…` and `POST /v1/push/…`.
///
/// A read of a path the client holds is answered from `HeldValues` right
/// here, with no task and no hop to the client actor. A push is handed to
/// the client's write inbox (pushes that arrive together share one actor
/// turn and one commit) and answered when its op is on disk and applied.
/// Only plain requests are taken: a target without escapes or empty, `.`
/// or `..` segments, a channel the client knows, a body that parses. Any
/// other request returns false and the router answers it, with its exact
/// errors; so does a read the client cannot answer from memory (a path not
/// loaded yet, a slow type's pending fold, a closed client).
import Foundation
import HTTPTypes
import NIOCore
import TeaBag
import TeaBagCore
import TeaBagServerKit

struct AgentFastRoutes: EventLoopResponder {
    let client: TeaBagClient
    let reducers: ReducerRegistry
    let limits: BodyLimits
    let value: FastRouteMetrics.Route
    let push: FastRouteMetrics.Route

    var maxBodyBytes: Int { limits.maxBytes }

    static let valuePrefix = "/v1/value/"
    static let pushPrefix = "/v1/push/"

    func claims(_ head: HTTPRequest) -> Bool {
        guard let path = head.path else { return false }
        switch head.method {
        case .get: return path.hasPrefix(Self.valuePrefix)
        case .post: return path.hasPrefix(Self.pushPrefix)
        default: return false
        }
    }

    func respond(to head: HTTPRequest, body: ByteBuffer, on connection: any EventLoopConnection) -> Bool {
        guard let path = head.path else { return false }
        switch head.method {
        case .get:
            guard let (channel, key) = Self.target(path, after: Self.valuePrefix) else { return false }
            return read(channel, key, connection)
        case .post:
            guard let (channel, key) = Self.target(path, after: Self.pushPrefix) else { return false }
            return write(channel, key, head, body, connection)
        default:
            return false
        }
    }

    private func read(_ channel: String, _ key: PathKey, _ connection: any EventLoopConnection) -> Bool {
        // A type whose plugin went away is the router's to refuse.
        guard reducers.reducer(for: key.type) != nil, let held = client.held.value(channel, key) else { return false }
        let started = ContinuousClock.now
        connection.respond(.ok, headers: Self.jsonHeaders, body: ByteBuffer(bytes: held.json.canonicalBytes))
        value.record(status: 200, since: started)
        return true
    }

    private func write(_ channel: String, _ key: PathKey, _ head: HTTPRequest, _ body: ByteBuffer,
                       _ connection: any EventLoopConnection) -> Bool {
        guard client.held.knows(channel), let payload = parse(head, body) else { return false }
        let started = ContinuousClock.now
        let metrics = push
        let loop = connection.eventLoop
        let bound = NIOLoopBound(connection, eventLoop: loop)
        client.submitWrite(channel, key, payload) { result in
            loop.execute {
                let connection = bound.value
                switch result {
                case .success(let value):
                    let json: JSON = ["value": value.value, "sha": .string(value.sha)]
                    connection.respond(.ok, headers: Self.jsonHeaders, body: ByteBuffer(bytes: json.canonicalBytes))
                    metrics.record(status: 200, since: started)
                case .failure(let error):
                    // As the router's `answering` and `ObservedRequests` answer it.
                    let apiError = (error as? TeaBagError).map(APIError.init) ?? APIError.internal()
                    var headers = Self.jsonHeaders
                    headers.append(contentsOf: apiError.headers)
                    connection.respond(apiError.status, headers: headers, body: ByteBuffer(bytes: apiError.json.canonicalBytes))
                    metrics.record(status: apiError.status.code, since: started)
                }
            }
        }
        return true
    }

    /// The body as JSON, when the content type and the JSON are what the router accepts.
    private func parse(_ head: HTTPRequest, _ body: ByteBuffer) -> JSON? {
        if let type = head.headerFields[.contentType], !type.lowercased().hasPrefix("application/json") { return nil }
        return try? body.withUnsafeReadableBytes { raw in try JSON.parse(raw.bindMemory(to: UInt8.self), maxDepth: limits.maxDepth) }
    }

    /// `<prefix><channel>/<type>/<path…>` as the router reads it, for targets
    /// that need no decoding: no `%`, no empty, `.` or `..` segment (those
    /// the router's path handling and `PathKey` normalize; it has the last word).
    static func target(_ path: String, after prefix: String) -> (String, PathKey)? {
        let target = path.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)[0]
        guard target.count > prefix.utf8.count, !target.contains(UInt8(ascii: "%")) else { return nil }
        let segments = target.dropFirst(prefix.utf8.count).split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        guard segments.count >= 3 else { return nil }
        for segment in segments {
            if segment.isEmpty || segment.elementsEqual(".".utf8) || segment.elementsEqual("..".utf8) { return nil }
        }
        guard let channel = String(segments[0]), let type = String(segments[1]),
              let rest = String(target[segments[2].startIndex...]),
              let key = try? PathKey(type: type, path: "/" + rest), key.path == "/" + rest else { return nil }
        return (channel, key)
    }

    static let jsonHeaders: HTTPFields = [.contentType: "application/json; charset=utf-8"]
}
