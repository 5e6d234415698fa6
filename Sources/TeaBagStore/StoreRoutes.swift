/// The store's HTTP routes (docs/protocol.md#store), each a thin adapter over `StoreService`.
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOPosix
import ServiceLifecycle
import TeaBagCore
import TeaBagServerKit

struct StoreRoutes: Sendable {
    let service: StoreService
    let hub: StreamHub
    let adminKey: String
    let limits: BodyLimits
    let longPollDelay: Duration

    func register(on router: Router<ServerContext>) {
        router.put("/admin/user/:user_id") { request, context in
            try requireAdmin(request)
            try service.createUser(try context.userID(kind: "UserError"))
            return Response.ok
        }

        router.get("/admin/user/:user_id/code") { request, context in
            try requireAdmin(request)
            let (code, expiry) = try service.newCode(user: try context.userID(kind: "UserError"))
            return Response.json(["code": .string(code), "expiry": .number(Double(expiry))])
        }

        router.post("/user/:user_id/confirm") { request, context in
            let user = try context.userID(kind: "UserError")
            let body = try await request.jsonBody(limits, errorKind: "UserError")
            guard let tableURL = body["table_url"]?.stringValue, let code = body["code"]?.stringValue else {
                throw APIError(.userInvalidPostBody, "the body must be {\"table_url\": \"…/user/N/\", \"code\": \"…\"[, \"store_id\": \"…\"]}")
            }
            try service.confirm(user: user, tableURL: tableURL, code: code, storeID: body["store_id"]?.stringValue)
            return Response.ok
        }

        router.delete("/user/:user_id/session/:store_token") { _, context in
            _ = try context.userID(kind: "UserError")
            service.tokens.forget(try context.parameters.require("store_token"))
            return Response.ok
        }

        router.post("/user/:user_id/oplog") { request, context in
            let user = try await authorize(request, context)
            let key = try oplogKey(request)
            let body = try await request.jsonBody(limits, errorKind: "UserError")
            let outcome = try await service.push(user: user.id, type: key.type, path: key.path, body: body)
            return outcome == .noop ? Response.json(["ok": true, "noop": true]) : Response.ok
        }

        router.post("/user/:user_id/oplog/batch") { request, context in
            let user = try await authorize(request, context)
            let body = try await request.jsonBody(limits, errorKind: "UserError")
            guard let items = body["ops"]?.arrayValue else {
                throw APIError(.userInvalidPostBody, "the body must be {\"ops\": [{\"type\", \"path\", \"op\"}, …]}")
            }
            return Response.json(["results": .array(try await service.pushBatch(user: user.id, items: items))])
        }

        router.get("/user/:user_id/oplog") { request, context in
            let user = try await authorize(request, context)
            let key = try oplogKey(request)
            return Response.json(.array(try service.oplog(user: user.id, type: key.type, path: key.path)))
        }

        router.get("/user/:user_id/value") { request, context in
            let user = try await authorize(request, context)
            let key = try oplogKey(request)
            return Response.json(try await service.value(user: user.id, type: key.type, path: key.path))
        }

        router.get("/user/:user_id/oplog/stream") { request, context in
            let user = try await authorize(request, context)
            if request.headers[.accept]?.contains("text/event-stream") == true {
                return sse(user: user.id, lastEventID: request.headers[.lastEventID].flatMap { Int64($0) }, channel: context.channel)
            }
            let regID = request.uri.queryParameters["reg_id"].map(String.init).flatMap { $0.isEmpty ? nil : $0 }
            let answer = await hub.poll(user: user.id, regID: regID, delay: longPollDelay)
            var json: [String: JSON] = ["reg_id": .string(answer.regID), "stream": .array(answer.stream)]
            if answer.resync { json["resync"] = true }
            return Response.json(.object(json))
        }
    }

    /// Server-Sent Events: history after Last-Event-ID (or one resync), then
    /// live ops — for a request the event-loop path did not take (a token
    /// seen for the first time). The same hub and frames, through a task.
    func sse(user: Int64, lastEventID: Int64?, channel: any Channel) -> Response {
        let stream = BoundedByteStream(channel: channel)
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let listener = hub.subscribe(user: user, lastEventID: lastEventID, loop: loop, sink: AsyncStreamSink(stream))
        let hub = self.hub
        stream.onTermination { hub.remove(listener) }
        return Response(status: .ok, headers: StoreFastRoutes.streamHeaders, body: ResponseBody { writer in
            // Ends on graceful shutdown, so that an open stream does not hold the exit (docs/cli.md: within 5 s).
            for await buffer in stream.buffers.cancelOnGracefulShutdown() {
                try await writer.write(buffer)
                stream.written(buffer)
            }
            try await writer.finish(nil)
        })
    }

    /// `?type=&path=`, decoded strictly: bytes that are not UTF-8 are refused,
    /// never turned into U+FFFD (which would alias different paths).
    func oplogKey(_ request: Request) throws -> (type: String, path: String) {
        try StoreService.key(type: try request.query("type", invalid: StoreService.invalidType),
                             path: try request.query("path", invalid: StoreService.invalidPath))
    }

    func authorize(_ request: Request, _ context: ServerContext) async throws -> StoreUser {
        try await service.authorize(user: try context.userID(kind: "UserError"), token: Credentials(request).store)
    }

    func requireAdmin(_ request: Request) throws {
        guard Credentials(request).isAdmin(key: adminKey) else {
            throw APIError(.adminInvalidKey, "admin routes need HTTP Basic admin:<store key>")
        }
    }
}


extension HTTPField.Name {
    static let lastEventID = HTTPField.Name("Last-Event-ID")!
}
