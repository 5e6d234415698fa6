/// Store tokens (SPEC §2.3): on first sight the store asks the user's table
/// and caches a yes for the token's timeout, sliding like the session.
/// Concurrent checks of one token share one request; a table that is down
/// fails new tokens with 503 while cached ones keep working.
import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization
import TeaBagCore
import TeaBagServerKit

final class TokenChecker: Sendable {
    private struct Cached {
        let timeout: Int64
        var lastUse: Int64
    }

    private let cache = Mutex<[String: Cached]>([:])
    private let inFlight = Mutex<[String: Task<Void, any Error>]>([:])
    private let client: HTTPClient
    private let clock: @Sendable () -> Int64
    private let timeout: TimeAmount

    init(client: HTTPClient, clock: @escaping @Sendable () -> Int64, timeout: TimeAmount = .seconds(5)) {
        self.client = client
        self.clock = clock
        self.timeout = timeout
    }

    static let invalid = APIError.forbidden("UtilityError:InvalidStoreToken", "the store token is not valid for this user and store")

    /// Checks `token` for `user`; throws the protocol's error when refused.
    func check(user: StoreUser, token: String?) async throws {
        guard let token, !token.isEmpty else {
            throw APIError.unauthorized("UserError:MissingStoreToken", "give a store token (?store_token= or Authorization: Bearer)")
        }
        guard let tableURL = user.tableURL else {
            throw APIError.forbidden("UserError:NotConfirmed", "user \(user.id) is not enrolled with a table on this store yet")
        }
        // Only the table can check the signature; the shape and the user are checked here.
        guard let parsed = StoreToken(parsing: token), parsed.user == user.id, parsed.timeout > 0 else { throw Self.invalid }
        let timeout = parsed.timeout
        // (ext) A token minted for another store is refused here, without asking the table.
        if !user.storeIDs.isEmpty && !user.storeIDs.contains(parsed.storeID) {
            throw APIError.forbidden("UtilityError:InvalidStoreToken", "this store token is for another store")
        }
        let now = clock()
        let hit = cache.withLock { cache -> Bool in
            guard var entry = cache[token], now <= entry.lastUse + entry.timeout else {
                cache[token] = nil
                return false
            }
            entry.lastUse = now
            cache[token] = entry
            return true
        }
        if hit { return }
        let task = inFlight.withLock { inFlight -> Task<Void, any Error> in
            if let running = inFlight[token] { return running }
            let task = Task { try await self.ask(tableURL: tableURL, token: token) }
            inFlight[token] = task
            return task
        }
        defer { inFlight.withLock { if $0[token] == task { $0[token] = nil } } }
        try await task.value
        let checked = clock()
        cache.withLock { $0[token] = Cached(timeout: timeout, lastUse: checked) }
    }

    /// Forgets a token (`DELETE …/session/:store_token`).
    func forget(_ token: String) {
        _ = cache.withLock { $0.removeValue(forKey: token) }
    }

    private func ask(tableURL: String, token: String) async throws {
        var request = HTTPClientRequest(url: tableURL + "table/check/" + token)
        request.method = .GET
        let status: UInt
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: timeout)
            status = response.status.code
            body = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw APIError.unavailable("StoreError:TableUnavailable", "the table could not be reached to check the token; retry later")
        }
        let json = try? JSON.parse(Array(buffer: body))
        if status == 200, json?["ok"] == true { return }
        if (400..<500).contains(status) {
            let name = json?["error"]?["name"]?.stringValue ?? "UtilityError:InvalidStoreToken"
            throw APIError.forbidden(name, "the table refused the store token")
        }
        throw APIError.unavailable("StoreError:TableUnavailable", "the table answered \(status) to a token check; retry later")
    }
}
