/// The store routes a client uses (docs/protocol.md#store), with the store token as
/// `Authorization: Bearer` so that it never lands in a URL (and a log).
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import TeaBagCore

public struct StoreAPI: Sendable {
    public let http: HTTPClient
    /// Of each request, answer included.
    public var timeout: Duration

    public init(http: HTTPClient = ClientHTTP.shared, timeout: Duration = .seconds(10)) {
        self.http = http
        self.timeout = timeout
    }

    /// `GET oplog`: the path's oplog, its base first.
    public func oplog(_ store: StoreEndpoint, _ key: PathKey) async throws(TeaBagError) -> (ops: [Op], serverDate: Int64?) {
        let what = "store \(store.userURL) (GET oplog \(key))"
        let request = Self.request(.GET, store, "oplog", key: key)
        let reply = try await ClientHTTP.send(request, http: http, timeout: timeout, what: what)
        guard let items = reply.json.arrayValue else { throw Self.badAnswer(what, "an array of ops", reply.json) }
        var ops: [Op] = []
        ops.reserveCapacity(items.count)
        for item in items {
            do { ops.append(try Op(json: item)) } catch {
                throw Self.badAnswer(what, "valid ops (\(error.message))", item)
            }
        }
        // The sync engine relies on ops[0] being the base (docs/sync.md#oplog-rules).
        guard let base = ops.first, base.isValueOp else { throw Self.badAnswer(what, "an oplog whose first op is its base value-op", reply.json) }
        return (ops, reply.serverDate)
    }

    /// `POST oplog/batch` (ext): one answer per item, in order. A refusal of
    /// the whole request (401, 403, 413, 503, or 404 from an original store
    /// without the route) is thrown.
    public func batch(_ store: StoreEndpoint, _ items: [(key: PathKey, op: Op)]) async throws(TeaBagError) -> (answers: [StoreAnswer], serverDate: Int64?) {
        let what = "store \(store.userURL) (POST oplog/batch of \(items.count))"
        var request = Self.request(.POST, store, "oplog/batch")
        let ops: [JSON] = items.map { ["type": .string($0.key.type), "path": .string($0.key.path), "op": $0.op.json] }
        ClientHTTP.jsonBody(["ops": .array(ops)], into: &request)
        let reply = try await ClientHTTP.send(request, http: http, timeout: timeout, what: what)
        guard let results = reply.json["results"]?.arrayValue else { throw Self.badAnswer(what, "{\"results\": [...]}", reply.json) }
        guard results.count == items.count else {
            throw TeaBagError(.protocolBadAnswer, "\(what) answered \(results.count) results for \(items.count) ops", status: reply.status)
        }
        var answers: [StoreAnswer] = []
        answers.reserveCapacity(results.count)
        for result in results {
            if result["ok"] == true {
                answers.append(.accepted(noop: result["noop"] == true))
            } else if let error = result["error"], let name = error["name"]?.stringValue {
                let message = error["message"]?.stringValue ?? ""
                // The batch carries no per-op status; these are the ones the single push would have had.
                answers.append(name == ProtocolError.storeFutureDate.name
                    ? .retryLater(TeaBagError(name, message, status: 503))
                    : .refused(TeaBagError(name, message, status: 400)))
            } else {
                throw Self.badAnswer(what, "{\"ok\": true} or {\"error\": {...}} per op", result)
            }
        }
        return (answers, reply.serverDate)
    }

    /// `POST oplog` of one op, for stores without the batch route (the
    /// original 0.1.3). Op-local refusals (400, and 413: this op alone is too
    /// large) are `.refused`; 503 is `.retryLater`; anything else is thrown.
    public func push(_ store: StoreEndpoint, _ key: PathKey, _ op: Op) async throws(TeaBagError) -> StoreAnswer {
        let what = "store \(store.userURL) (POST oplog \(key))"
        var request = Self.request(.POST, store, "oplog", key: key)
        ClientHTTP.jsonBody(op.json, into: &request)
        let reply: HTTPReply
        do {
            reply = try await ClientHTTP.send(request, http: http, timeout: timeout, what: what)
        } catch {
            switch error.status {
            case 400, 413: return .refused(error)
            case 503: return .retryLater(error)
            default: throw error
            }
        }
        guard reply.json["ok"] == true else { throw Self.badAnswer(what, "{\"ok\": true}", reply.json) }
        return .accepted(noop: reply.json["noop"] == true)
    }

    static func request(_ method: HTTPMethod, _ store: StoreEndpoint, _ route: String, key: PathKey? = nil) -> HTTPClientRequest {
        let query = key.map { ClientHTTP.query([("type", $0.type), ("path", $0.path)]) } ?? ""
        var request = HTTPClientRequest(url: store.userURL + route + query)
        request.method = method
        request.headers.add(name: "Authorization", value: ClientHTTP.bearer(store.token))
        return request
    }

    static func badAnswer(_ what: String, _ expected: String, _ got: JSON) -> TeaBagError {
        TeaBagError(.protocolBadAnswer, "\(what): expected \(expected), got \(ClientHTTP.excerpt(got.canonicalBytes)); is this a TeaBag store?", status: 200)
    }
}
