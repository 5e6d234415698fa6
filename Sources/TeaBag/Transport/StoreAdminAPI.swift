/// The administrator's routes of a store (docs/protocol.md#store): its users
/// and their one-time enrollment codes.
import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import TeaBagCore

/// A store's administration: its users and their enrollment codes.
public struct StoreAdminAPI: Sendable {
    private let store: AdminEndpoint

    /// The store's base URL, ending with `/`.
    public var storeURL: String { store.base }

    /// - Parameter timeout: of each request, answer included.
    public init(storeURL: String, http: HTTPClient = ClientHTTP.shared, timeout: Duration = .seconds(30)) {
        store = AdminEndpoint(storeURL, http: http, timeout: timeout)
    }

    /// The URL of a user's routes on this store, as the table records it.
    public func userURL(_ user: Int64) -> String { storeURL + "user/\(user)/" }

    /// `PUT admin/user/:user` (step 2a; again is harmless).
    public func createUser(_ user: Int64, adminKey: String) async throws(TeaBagError) {
        try await store.send(.PUT, "admin/user/\(user)", basic: ("admin", adminKey), what: "store \(storeURL) (create user \(user))")
    }

    /// `GET admin/user/:user/code`: a one-time enrollment code, valid two
    /// minutes (step 2b).
    public func enrollmentCode(_ user: Int64, adminKey: String) async throws(TeaBagError) -> String {
        let what = "store \(storeURL) (enrollment code of user \(user))"
        let answer = try await store.send(.GET, "admin/user/\(user)/code", basic: ("admin", adminKey), what: what)
        guard let code = answer["code"]?.stringValue, !code.isEmpty else { throw StoreAPI.badAnswer(what, "{\"code\": ...}", answer) }
        return code
    }
}
