/// A user enrolled the way docs/protocol.md#enrollment does it, against a real table and real
/// stores, and a small client of a store's user routes (docs/protocol.md#store).
import Foundation
import Logging
import NIOCore
import Synchronization
import TeaBag
import TeaBagCore
import TeaBagStore
import TeaBagTable

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The steps of docs/protocol.md#enrollment, through the library's `TableAdminAPI` and
/// `StoreAdminAPI`, on whatever table and store URLs are given (in-process
/// servers or `teabag` processes alike).
public enum Enrollment {
    /// Step 1: `PUT /admin/user/:user/master/:master` on the table.
    public static func createUser(tableURL: String, tableKey: String = testTableKey, user: Int = 1, master: String = "secret") async throws {
        try await TableAdminAPI(tableURL: tableURL).createUser(Int64(user), master: master, adminKey: tableKey)
    }

    /// Step 2: `PUT /admin/user/:user` then `GET /admin/user/:user/code` on the store; the code.
    public static func code(storeURL: String, storeKey: String = testStoreKey, user: Int = 1) async throws -> String {
        let store = StoreAdminAPI(storeURL: storeURL)
        try await store.createUser(Int64(user), adminKey: storeKey)
        return try await store.enrollmentCode(Int64(user), adminKey: storeKey)
    }

    /// Step 3: `POST /user/:user/table/:channel/store?master=` on the table; the table's answer.
    public static func post(tableURL: String, storeUserURL: String, code: String, channel: String = "main",
                            user: Int = 1, master: String = "secret") async throws -> HTTPAnswer {
        try await HTTP.request(.POST, tableURL + "user/\(user)/table/\(channel)/store?master=\(HTTP.q(master))",
                               json: ["store_url": .string(storeUserURL), "code": .string(code)])
    }

    /// Steps 2 and 3 for one store; throws unless the table recorded it.
    public static func enroll(tableURL: String, storeURL: String, storeKey: String = testStoreKey, channel: String = "main",
                              user: Int = 1, master: String = "secret") async throws {
        try await TableAdminAPI(tableURL: tableURL).enroll(StoreAdminAPI(storeURL: storeURL), storeKey: storeKey, user: Int64(user),
                                                           master: master, channel: channel)
    }

    /// Step 4: a session, then the store token of each store URL from the mount table.
    public static func session(tableURL: String, user: Int = 1, master: String = "secret",
                               timeout: Int = 3_600_000) async throws -> String {
        try await TableAPI(timeout: .seconds(30)).newSession(tableURL: tableURL, user: Int64(user), master: master, timeoutMs: Int64(timeout), description: "tests")
    }

    public static func storeToken(tableURL: String, session: String, storeUserURL: String, channel: String = "main",
                                  user: Int = 1) async throws -> String {
        let table = try await TableAPI(timeout: .seconds(30)).mountTable(tableURL: tableURL, user: Int64(user), sessionToken: session)
        let id = storeID(storeUserURL)
        guard let token = table[channel]?.first(where: { $0.storeID == id || $0.userURL == storeUserURL })?.token else {
            throw TestFailure("table: no store token for \(storeUserURL) in channel \(channel): \(table)")
        }
        return token
    }

    /// `store_id`: the hex SHA-256 of the store URL (docs/protocol.md#table).
    public static func storeID(_ storeUserURL: String) -> String { Digest.sha256Hex(Array(storeUserURL.utf8)) }
}

/// A real table and `count` real stores, user 1 (master `secret`) enrolled on
/// every store under channel `main` through the steps of docs/protocol.md#enrollment, a session,
/// and each store's token.
public struct EnrolledUser: Sendable {
    public let table: RunningTable
    public let tableData: String
    public let stores: [RunningStore]
    public let session: String
    /// The store token of each store, in the order of `stores`.
    public let tokens: [String]

    public var store: RunningStore { stores[0] }
    public var token: String { tokens[0] }
    /// A client of store `index` with its own token.
    public func client(_ index: Int = 0) -> StoreClient { StoreClient(userURL: stores[index].userURL(1), token: tokens[index]) }

    public static func start(stores count: Int = 1, tableClock: (@Sendable () -> Int64)? = nil,
                             storeClock: (@Sendable () -> Int64)? = nil,
                             configureStore: (inout StoreConfiguration) -> Void = { _ in },
                             configureTable: (inout TableConfiguration) -> Void = { _ in }) async throws -> EnrolledUser {
        let tableData = try temporaryDirectory("table")
        let table = try await startTable(data: tableData, clock: tableClock, configure: configureTable)
        try await Enrollment.createUser(tableURL: table.url)
        var stores: [RunningStore] = []
        for _ in 0..<count {
            let store = try await startStore(data: try temporaryDirectory("store"), clock: storeClock, configure: configureStore)
            stores.append(store)
            try await Enrollment.enroll(tableURL: table.url, storeURL: store.url)
        }
        let session = try await Enrollment.session(tableURL: table.url)
        var tokens: [String] = []
        for store in stores {
            tokens.append(try await Enrollment.storeToken(tableURL: table.url, session: session, storeUserURL: store.userURL(1)))
        }
        return EnrolledUser(table: table, tableData: tableData, stores: stores, session: session, tokens: tokens)
    }

    /// A new session and the token of store `index` under it.
    public func newToken(_ index: Int = 0) async throws -> (session: String, token: String) {
        let session = try await Enrollment.session(tableURL: table.url)
        return (session, try await Enrollment.storeToken(tableURL: table.url, session: session, storeUserURL: stores[index].userURL(1)))
    }

    public func stop() async {
        for store in stores {
            await store.stop()
            try? FileManager.default.removeItem(atPath: store.data)
        }
        await table.stop()
        try? FileManager.default.removeItem(atPath: tableData)
    }
}

/// The store-token routes of one user on one store (docs/protocol.md#store), token in the
/// original `?store_token=` query parameter unless `bearer` is set.
public struct StoreClient: Sendable {
    public let userURL: String
    public private(set) var token: String
    public var bearer = false
    /// Of each push. (A store that is gone is retried by the HTTP client until then.)
    public var timeout: TimeAmount = .seconds(30)

    public init(userURL: String, token: String, bearer: Bool = false) {
        self.userURL = userURL
        self.token = token
        self.bearer = bearer
    }

    public func with(token: String) -> StoreClient {
        var client = self
        client.token = token
        return client
    }

    private func url(_ route: String, _ query: [(String, String)] = []) -> String {
        var items = query
        if !bearer { items.append(("store_token", token)) }
        let text = items.map { "\($0.0)=\(HTTP.q($0.1))" }.joined(separator: "&")
        return userURL + route + (text.isEmpty ? "" : "?" + text)
    }

    private var headers: [(String, String)] { bearer ? [HTTP.bearer(token)] : [] }

    public func push(_ type: String, _ path: String, _ op: JSON) async throws -> HTTPAnswer {
        try await HTTP.request(.POST, url("oplog", [("type", type), ("path", path)]), headers: headers, json: op, timeout: timeout)
    }

    /// A push with a raw body and content type.
    public func push(_ type: String, _ path: String, body: [UInt8], contentType: String = "application/json") async throws -> HTTPAnswer {
        try await HTTP.request(.POST, url("oplog", [("type", type), ("path", path)]),
                               headers: headers + [("Content-Type", contentType)], body: body)
    }

    public func oplog(_ type: String, _ path: String) async throws -> HTTPAnswer {
        try await HTTP.get(url("oplog", [("type", type), ("path", path)]), headers: headers)
    }

    /// The oplog's JSON array; throws unless it was answered 200.
    public func ops(_ type: String, _ path: String) async throws -> [JSON] {
        let answer = try await oplog(type, path)
        guard answer.status == 200, let ops = answer.json?.arrayValue else {
            throw TestFailure("GET oplog \(type) \(path): \(answer.status) \(answer.text)")
        }
        return ops
    }

    public func value(_ type: String, _ path: String) async throws -> HTTPAnswer {
        try await HTTP.get(url("value", [("type", type), ("path", path)]), headers: headers)
    }

    public func batch(_ items: [JSON]) async throws -> HTTPAnswer {
        try await HTTP.request(.POST, url("oplog/batch"), headers: headers, json: ["ops": .array(items)])
    }

    /// One long poll (`GET oplog/stream[?reg_id=]`).
    public func poll(regID: String? = nil) async throws -> HTTPAnswer {
        try await HTTP.get(url("oplog/stream", regID.map { [("reg_id", $0)] } ?? []), headers: headers)
    }

    /// An SSE connection to `oplog/stream`.
    public func events(lastEventID: String? = nil) async throws -> SSEConnection {
        var extra = headers + [("Accept", "text/event-stream")]
        if let lastEventID { extra.append(("Last-Event-ID", lastEventID)) }
        return try await SSEConnection.open(url("oplog/stream"), headers: extra)
    }
}

/// An op's wire JSON, as a test writes it.
public func payloadOp(_ date: Int64, _ sha: String, _ payload: JSON, node: String? = nil, seq: Int64? = nil,
                      extra: [String: JSON] = [:]) -> JSON {
    var members = extra
    members["date"] = .number(Double(date))
    members["sha"] = .string(sha)
    members["payload"] = payload
    if let node { members["node"] = .string(node) }
    if let seq { members["seq"] = .number(Double(seq)) }
    return .object(members)
}

public func valueOp(_ date: Int64, _ sha: String, _ value: JSON, covers: [String: Int64]? = nil) -> JSON {
    var members: [String: JSON] = ["date": .number(Double(date)), "sha": .string(sha), "value": value]
    if let covers { members["covers"] = .object(covers.mapValues { .number(Double($0)) }) }
    return .object(members)
}

/// The shas of an oplog, base first.
public func shas(_ ops: [JSON]) -> [String] { ops.map { $0["sha"]?.stringValue ?? "?" } }

/// Milliseconds since 1970 by the real clock.
public func nowMs() -> Int64 { WallClock.milliseconds() }

/// A value shared by concurrent test tasks.
public final class Locked<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    public init(_ value: Value) { self.value = Mutex(value) }
    public func withLock<R>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
    public var current: Value { value.withLock { $0 } }
}
