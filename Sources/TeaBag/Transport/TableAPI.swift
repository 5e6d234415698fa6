/// The table routes a device uses (docs/protocol.md#table, docs/protocol.md#enrollment step 4). Credentials go in
/// headers (HTTP Basic for the master, Bearer for the session), never in a URL.
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import TeaBagCore

public struct TableAPI: Sendable {
    public let http: HTTPClient
    /// Of each request, answer included.
    public var timeout: Duration

    public init(http: HTTPClient = ClientHTTP.shared, timeout: Duration = .seconds(10)) {
        self.http = http
        self.timeout = timeout
    }

    /// `GET user/:user/session/new`: a new session's token.
    /// - Parameters:
    ///   - tableURL: the table's base, ending with `/`.
    ///   - timeoutMs: the session's sliding lifetime (1 s … 31 days).
    public func newSession(tableURL: String, user: Int64, master: String, timeoutMs: Int64,
                           description: String) async throws(TeaBagError) -> String {
        let what = "table \(tableURL) (new session for user \(user))"
        var request = HTTPClientRequest(url: tableURL + "user/\(user)/session/new"
            + ClientHTTP.query([("timeout", String(timeoutMs)), ("description", description)]))
        request.headers.add(name: "Authorization", value: ClientHTTP.basic(String(user), master))
        let reply = try await ClientHTTP.send(request, http: http, timeout: timeout, what: what)
        guard let token = reply.json["session_token"]?.stringValue, !token.isEmpty else {
            throw StoreAPI.badAnswer(what, "{\"session_token\": ...}", reply.json)
        }
        return token
    }

    /// `GET user/:user/table` with the session: each channel's stores, sorted
    /// by store id so that every device walks them in the same order.
    public func mountTable(tableURL: String, user: Int64, sessionToken: String) async throws(TeaBagError) -> [String: [StoreEndpoint]] {
        try await mountTableAndDate(tableURL: tableURL, user: user, sessionToken: sessionToken).table
    }

    /// `mountTable`, with the table's `Date` header: a first measure of this
    /// machine's clock against the servers, before any store has answered.
    public func mountTableAndDate(tableURL: String, user: Int64,
                                  sessionToken: String) async throws(TeaBagError) -> (table: [String: [StoreEndpoint]], serverDate: Int64?) {
        let what = "table \(tableURL) (mount table of user \(user))"
        var request = HTTPClientRequest(url: tableURL + "user/\(user)/table")
        request.headers.add(name: "Authorization", value: ClientHTTP.bearer(sessionToken))
        let reply = try await ClientHTTP.send(request, http: http, timeout: timeout, what: what)
        guard let channels = reply.json.objectValue else { throw StoreAPI.badAnswer(what, "{channel: {store_id: {...}}}", reply.json) }
        var table: [String: [StoreEndpoint]] = [:]
        for (channel, stores) in channels {
            guard let stores = stores.objectValue else { throw StoreAPI.badAnswer(what, "{store_id: {...}} under channel \(channel)", stores) }
            var endpoints: [StoreEndpoint] = []
            for (id, entry) in stores {
                guard let url = entry["url"]?.stringValue, let token = entry["store_token"]?.stringValue else {
                    throw StoreAPI.badAnswer(what, "{url, store_token} for store \(id) of channel \(channel)", entry)
                }
                endpoints.append(StoreEndpoint(storeID: entry["store_id"]?.stringValue ?? id, userURL: url, token: token))
            }
            table[channel] = endpoints.sorted { $0.storeID < $1.storeID }
        }
        return (table, reply.serverDate)
    }

    /// `DELETE user/:user/session/:token`: the session and every store token
    /// derived from it stop working.
    public func revokeSession(tableURL: String, user: Int64, sessionToken: String) async throws(TeaBagError) {
        let what = "table \(tableURL) (revoke a session of user \(user))"
        var request = HTTPClientRequest(url: tableURL + "user/\(user)/session/" + ClientHTTP.encode(sessionToken))
        request.method = .DELETE
        request.headers.add(name: "Authorization", value: ClientHTTP.bearer(sessionToken))
        _ = try await ClientHTTP.send(request, http: http, timeout: timeout, what: what)
    }
}
