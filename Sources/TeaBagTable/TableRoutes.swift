/// The table's HTTP routes (docs/protocol.md#table), each a thin adapter over `TableService`.
import Crypto
import Hummingbird
import TeaBagCore
import TeaBagServerKit

struct TableRoutes: Sendable {
    let service: TableService
    let enroller: StoreEnroller
    let adminKey: String
    let limits: BodyLimits
    /// The table's public base, for the `table_url` it sends to stores.
    let publicURL: @Sendable () -> String

    func register(on router: Router<ServerContext>) {
        router.put("/admin/user/:user_id/master/:master") { request, context in
            try requireAdmin(request)
            let user = try context.userID(kind: "AdminError")
            // Decoded: `teabag admin` percent-encodes the master in the URL, and `?master=` arrives decoded.
            guard let master = context.decodedParameter("master"), !master.isEmpty else {
                throw APIError(.adminInvalidMaster, "the master must be non-empty UTF-8 text, percent-encoded in the URL")
            }
            try await service.setMaster(user: user, master: master)
            return Response.ok
        }

        router.get("/user/:user_id/session/new") { request, context in
            let user = try context.userID(kind: "SessionError")
            try await service.authenticate(user: user, master: Credentials(request).master(for: user))
            let query = request.uri.queryParameters
            guard let timeout = query["timeout"].flatMap({ Int64($0) }) else {
                throw APIError(.sessionInvalidTimeout, "give timeout= in ms, from 1000 to 2678400000 (31 days)")
            }
            let session = try await service.newSession(user: user, timeout: timeout, description: try request.query("description", invalid: invalidDescription) ?? "")
            return Response.json(session.json)
        }

        router.get("/user/:user_id/session/all") { request, context in
            let user = try context.userID(kind: "SessionError")
            try await service.authenticate(user: user, master: Credentials(request).master(for: user))
            return Response.json(.array(try await service.sessions(user: user).map(\.json)))
        }

        router.delete("/user/:user_id/session/:session_token") { _, context in
            let user = try context.userID(kind: "SessionError")
            try await service.revoke(user: user, token: try context.parameters.require("session_token"))
            return Response.ok
        }

        router.get("/user/:user_id/session/check/:session_token") { _, context in
            let user = try context.userID(kind: "SessionError")
            try await service.checkSession(user: user, token: try context.parameters.require("session_token"))
            return Response.ok
        }

        router.post("/user/:user_id/table/:channel/store") { request, context in
            let user = try context.userID(kind: "TableError")
            let channel = try channelName(context)
            try await service.authenticate(user: user, master: Credentials(request).master(for: user))
            let body = try await request.jsonBody(limits, errorKind: "TableError")
            guard let storeURL = body["store_url"]?.stringValue, let code = body["code"]?.stringValue else {
                throw APIError(.tableInvalidPostBody, "the body must be {\"store_url\": \"http://…/user/N/\", \"code\": \"…\"}")
            }
            let url = try StoreEnroller.validate(storeURL: storeURL)
            try await service.checkChannelSpelling(user: user, channel: channel)
            let storeID = Digest.sha256Hex(Array(url.utf8))
            try await enroller.confirm(storeURL: url, code: code, tableURL: "\(publicURL())user/\(user)/", storeID: storeID)
            let record = StoreRecord(channel: channel, storeID: storeID, url: url, code: code, created: service.clock())
            try await service.record(user: user, store: record)
            return Response.json(service.storeJSON(record, session: nil))
        }

        router.delete("/user/:user_id/table/:channel/store/:store_id") { request, context in
            let user = try context.userID(kind: "TableError")
            let channel = try channelName(context)
            try await service.authenticate(user: user, master: Credentials(request).master(for: user))
            try await service.removeStore(user: user, channel: channel, storeID: try context.parameters.require("store_id"))
            return Response.ok
        }

        router.delete("/user/:user_id/table/:channel") { request, context in
            let user = try context.userID(kind: "TableError")
            let channel = try channelName(context)
            try await service.authenticate(user: user, master: Credentials(request).master(for: user))
            try await service.removeChannel(user: user, channel: channel)
            return Response.ok
        }

        router.get("/user/:user_id/table") { request, context in
            let user = try context.userID(kind: "TableError")
            let session = try await authenticateMasterOrSession(request, user: user)
            return Response.json(try await service.table(user: user, session: session))
        }

        router.get("/user/:user_id/table/:channel") { request, context in
            let user = try context.userID(kind: "TableError")
            let channel = try channelName(context)
            let session = try await authenticateMasterOrSession(request, user: user)
            return Response.json(try await service.channel(user: user, name: channel, session: session))
        }

        router.get("/user/:user_id/table/check/:store_token") { _, context in
            let user = try context.userID(kind: "SessionError")
            try await service.checkStoreToken(user: user, token: try context.parameters.require("store_token"))
            return Response.ok
        }
    }

    /// A session token when one was used (store tokens then go into the answer), nil for the master.
    func authenticateMasterOrSession(_ request: Request, user: Int64) async throws -> SessionToken? {
        let credentials = Credentials(request)
        if let master = credentials.master(for: user) {
            try await service.authenticate(user: user, master: master)
            return nil
        }
        if let token = credentials.session {
            return try await service.checkSession(user: user, token: token)
        }
        throw APIError(.tableMissingCredentials, "give the master or a session token (?session_token= or Authorization: Bearer)")
    }

    func requireAdmin(_ request: Request) throws {
        guard Credentials(request).isAdmin(key: adminKey) else {
            throw APIError(.adminInvalidKey, "admin routes need HTTP Basic admin:<table key>")
        }
    }
}


let invalidDescription = APIError(.sessionInvalidDescription, "the description must be UTF-8 text (percent-encoded)")

/// A channel name: 1–128 characters (the path segment, percent-decoded as
/// UTF-8), no `/`, not `.` or `..` (no URL could address it: clients resolve
/// dot segments), and no control characters — a name reaches the agent's
/// SSE lines and terminals, where a CR or LF could forge a line.
func channelName(_ context: ServerContext) throws -> String {
    guard let name = context.decodedParameter("channel"), (1...128).contains(name.count), !name.contains("/"),
          name != ".", name != "..", !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
        throw APIError(.tableInvalidChannel, "a channel name has 1 to 128 characters of UTF-8, without /, control characters, and is not . or ..")
    }
    return name
}
