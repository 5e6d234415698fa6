/// The administrator's routes of a table (docs/protocol.md#table): users,
/// enrollment (docs/protocol.md#enrollment), sessions and the mount table.
/// `teabag admin`, `teabag dev`, the benchmarks and the tests all enroll
/// through `TableAdminAPI` and `StoreAdminAPI`. Credentials go in headers
/// (HTTP Basic for the admin key and the master), never in a URL.
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import TeaBagCore

/// A table's administration: the admin key's route and the routes a user's
/// master opens.
public struct TableAdminAPI: Sendable {
    private let table: AdminEndpoint

    /// The table's base URL, ending with `/`.
    public var tableURL: String { table.base }

    /// - Parameter timeout: of each request, answer included.
    public init(tableURL: String, http: HTTPClient = ClientHTTP.shared, timeout: Duration = .seconds(30)) {
        table = AdminEndpoint(tableURL, http: http, timeout: timeout)
    }

    /// `PUT admin/user/:user/master/:master`: creates the user, or sets a new
    /// master and revokes every session (docs/protocol.md#enrollment step 1).
    public func createUser(_ user: Int64, master: String, adminKey: String) async throws(TeaBagError) {
        try await send(.PUT, "admin/user/\(user)/master/" + ClientHTTP.encode(master), basic: ("admin", adminKey),
                       what: "create user \(user)")
    }

    /// `POST user/:user/table/:channel/store`: the table confirms the code
    /// with the store and records it in the channel (step 3); the record.
    @discardableResult
    public func enrollStore(user: Int64, master: String, channel: String, storeUserURL: String,
                            code: String) async throws(TeaBagError) -> JSON {
        try await send(.POST, "user/\(user)/table/" + ClientHTTP.encode(channel) + "/store", basic: (String(user), master),
                       body: ["store_url": .string(storeUserURL), "code": .string(code)], what: "enroll a store of user \(user)")
    }

    /// The whole enrollment of one store into a channel: the user on the
    /// store, a one-time code, the code posted to the table (steps 2 and 3).
    @discardableResult
    public func enroll(_ store: StoreAdminAPI, storeKey: String, user: Int64, master: String,
                       channel: String) async throws(TeaBagError) -> JSON {
        try await store.createUser(user, adminKey: storeKey)
        let code = try await store.enrollmentCode(user, adminKey: storeKey)
        return try await enrollStore(user: user, master: master, channel: channel, storeUserURL: store.userURL(user), code: code)
    }

    /// `GET user/:user/session/all`: the live sessions, oldest first.
    public func sessions(user: Int64, master: String) async throws(TeaBagError) -> [JSON] {
        let answer = try await send(.GET, "user/\(user)/session/all", basic: (String(user), master), what: "sessions of user \(user)")
        return answer.arrayValue ?? []
    }

    /// `GET user/:user/table` with the master: the mount table as the table
    /// sends it.
    public func mountTable(user: Int64, master: String) async throws(TeaBagError) -> JSON {
        try await send(.GET, "user/\(user)/table", basic: (String(user), master), what: "mount table of user \(user)")
    }

    /// `DELETE user/:user/session/:token`.
    public func revokeSession(user: Int64, token: String) async throws(TeaBagError) {
        try await send(.DELETE, "user/\(user)/session/" + ClientHTTP.encode(token), what: "revoke a session of user \(user)")
    }

    /// `DELETE user/:user/table/:channel/store/:store_id`.
    public func removeStore(user: Int64, master: String, channel: String, storeID: String) async throws(TeaBagError) {
        try await send(.DELETE, "user/\(user)/table/" + ClientHTTP.encode(channel) + "/store/" + ClientHTTP.encode(storeID),
                       basic: (String(user), master), what: "remove a store of user \(user)")
    }

    /// `DELETE user/:user/table/:channel`.
    public func removeChannel(user: Int64, master: String, channel: String) async throws(TeaBagError) {
        try await send(.DELETE, "user/\(user)/table/" + ClientHTTP.encode(channel), basic: (String(user), master),
                       what: "remove a channel of user \(user)")
    }

    @discardableResult
    private func send(_ method: HTTPMethod, _ route: String, basic: (String, String)? = nil, body: JSON? = nil,
                      what: String) async throws(TeaBagError) -> JSON {
        try await table.send(method, route, basic: basic, body: body, what: "table \(tableURL) (\(what))")
    }
}

/// A server's base URL and how its administrative requests are sent.
struct AdminEndpoint: Sendable {
    let base: String
    let http: HTTPClient
    let timeout: Duration

    init(_ base: String, http: HTTPClient, timeout: Duration) {
        self.base = base.hasSuffix("/") ? base : base + "/"
        self.http = http
        self.timeout = timeout
    }

    /// One request: its JSON answer, or the server's error.
    @discardableResult
    func send(_ method: HTTPMethod, _ route: String, basic: (String, String)?, body: JSON? = nil,
              what: String) async throws(TeaBagError) -> JSON {
        var request = HTTPClientRequest(url: base + route)
        request.method = method
        if let basic { request.headers.add(name: "Authorization", value: ClientHTTP.basic(basic.0, basic.1)) }
        if let body { ClientHTTP.jsonBody(body, into: &request) }
        return try await ClientHTTP.send(request, http: http, timeout: timeout, what: what).json
    }
}
