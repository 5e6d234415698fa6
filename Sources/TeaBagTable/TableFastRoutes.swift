/// The table's token checks answered on the event loop (`EventLoopResponder`):
/// `GET /user/:user_id/table/check/:store_token` — what every store asks on a
/// token it has not seen — and `GET /user/:user_id/session/check/:session_token`.
///
/// Only a yes known from memory is taken (a token verified before, its
/// session live in the SQLite storage's mirror, its store enrolled); the
/// sliding timeout moves on as the router's check would move it. Anything
/// else — a token seen for the first time, a refusal, PostgreSQL storage
/// (which keeps nothing in memory) — goes to the router unchanged.
import HTTPTypes
import Hummingbird
import NIOCore
import TeaBagCore
import TeaBagServerKit

struct TableFastRoutes: EventLoopResponder {
    let service: TableService
    let storeCheck: FastRouteMetrics.Route
    let sessionCheck: FastRouteMetrics.Route

    var maxBodyBytes: Int { 0 }

    private enum Route { case store, session }

    func claims(_ head: HTTPRequest) -> Bool {
        head.method == .get && Self.parse(head.path ?? "") != nil
    }

    func respond(to head: HTTPRequest, body: ByteBuffer, on connection: any EventLoopConnection) -> Bool {
        guard let (route, user, token) = Self.parse(head.path ?? "") else { return false }
        let started = ContinuousClock.now
        switch route {
        case .store:
            guard service.checkStoreTokenInMemory(user: user, token: token) else { return false }
            connection.respond(.ok, headers: Self.jsonHeaders, body: Self.okBody)
            storeCheck.record(status: 200, since: started)
        case .session:
            guard service.checkSessionInMemory(user: user, token: token) else { return false }
            connection.respond(.ok, headers: Self.jsonHeaders, body: Self.okBody)
            sessionCheck.record(status: 200, since: started)
        }
        return true
    }

    static let jsonHeaders: HTTPFields = [.contentType: "application/json; charset=utf-8"]
    static let okBody = ByteBuffer(string: #"{"ok":true}"#)

    /// `/user/<id>/table/check/<token>` or `/user/<id>/session/check/<token>`,
    /// with the id as `ServerContext.userID` accepts it and the token as the
    /// router hands it over (undecoded); nil for anything else.
    private static func parse(_ target: String) -> (Route, Int64, String)? {
        let path = target.utf8.split(separator: UInt8(ascii: "?"), maxSplits: 1, omittingEmptySubsequences: false)[0]
        let parts = path.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        // "", "user", id, "table"|"session", "check", token
        guard parts.count == 6, parts[0].isEmpty, parts[1].elementsEqual("user".utf8), parts[4].elementsEqual("check".utf8),
              !parts[5].isEmpty, !parts[2].isEmpty, parts[2].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
              let id = Int64(String(decoding: parts[2], as: UTF8.self)), id > 0 else { return nil }
        let route: Route
        if parts[3].elementsEqual("table".utf8) { route = .store } else if parts[3].elementsEqual("session".utf8) { route = .session } else { return nil }
        return (route, id, String(decoding: parts[5], as: UTF8.self))
    }
}
