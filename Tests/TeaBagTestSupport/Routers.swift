/// The router tier: a table or a store built exactly as `teabag table|store`
/// builds it, driven through Hummingbird's router with `HummingbirdTesting`'s
/// `.router` setup — no socket, no HTTP client, only the SQLite file in a
/// temporary directory (removed afterwards). For validation, credentials and
/// error shapes; streams, durability and faults need the live tiers.
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdTesting
import Logging
import NIOCore
import NIOHTTP1
import TeaBagCore
import TeaBagStore
import TeaBagTable

/// Requests to a router, answered as `HTTPAnswer`s like the live tiers' `HTTP`.
public struct RouterClient: Sendable {
    let client: any TestClientProtocol

    /// `path` without a leading slash, as the live tests write it (`user/1/table`).
    public func request(_ method: HTTPRequest.Method, _ path: String, headers: [(String, String)] = [],
                        body: [UInt8]? = nil, json: JSON? = nil) async throws -> HTTPAnswer {
        var fields = HTTPFields()
        for (name, value) in headers { fields.append(HTTPField(name: HTTPField.Name(name)!, value: value)) }
        var bytes = body
        if let json {
            fields[.contentType] = "application/json"
            bytes = json.canonicalBytes
        }
        let response = try await client.executeRequest(uri: "/" + path, method: method, headers: fields,
                                                       body: bytes.map { ByteBuffer(bytes: $0) })
        var headers = HTTPHeaders()
        for field in response.headers { headers.add(name: field.name.rawName, value: field.value) }
        return HTTPAnswer(status: Int(response.status.code), headers: headers, body: Array(buffer: response.body))
    }

    public func get(_ path: String, headers: [(String, String)] = []) async throws -> HTTPAnswer {
        try await request(.get, path, headers: headers)
    }
}

private let quiet = Logger(label: "router-tier", factory: { _ in SwiftLogNoOpLogHandler() })

/// A table's router over a fresh SQLite file; user 1 (master `secret`) exists when `withUser`.
public func withTableRouter<R: Sendable>(withUser: Bool = true, configure: (inout TableConfiguration) -> Void = { _ in },
                                         _ body: @Sendable (RouterClient) async throws -> R) async throws -> R {
    try await withTemporaryData("table-router") { data in
        let server = try TableServer.build(configuration: testTableConfiguration(data: data, configure: configure), logger: quiet)
        return try await server.application.test(.router) { client in
            let router = RouterClient(client: client)
            if withUser {
                let created = try await router.request(.put, "admin/user/1/master/secret", headers: [HTTP.basic("admin", testTableKey)])
                guard created.isOK else { throw TestFailure("table router: could not create user 1: \(created.status) \(created.text)") }
            }
            return try await body(router)
        }
    }
}

/// A store's router over a fresh SQLite file, with the shipped plugins.
public func withStoreRouter<R: Sendable>(configure: (inout StoreConfiguration) -> Void = { _ in },
                                         _ body: @Sendable (RouterClient) async throws -> R) async throws -> R {
    try await withTemporaryData("store-router") { data in
        let server = try StoreServer.build(configuration: testStoreConfiguration(data: data, configure: configure), logger: quiet)
        return try await server.application.test(.router) { client in try await body(RouterClient(client: client)) }
    }
}

/// A temporary directory, removed when `body` ends.
func withTemporaryData<R>(_ name: String, _ body: (String) async throws -> R) async throws -> R {
    let data = try temporaryDirectory(name)
    defer { try? FileManager.default.removeItem(atPath: data) }
    return try await body(data)
}

extension HTTPAnswer {
    /// Whether this is the protocol's error: `status`, a JSON body that is
    /// `{"error":{"name":name,"message":…}}` and nothing else, a message.
    public func isProtocolError(_ status: Int, _ name: String) -> Bool {
        self.status == status && errorName == name
            && json?.objectValue?.keys.sorted() == ["error"]
            && json?["error"]?["message"]?.stringValue?.isEmpty == false
            && headers["Content-Type"].first?.hasPrefix("application/json") == true
    }
}
