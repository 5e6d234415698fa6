/// Store tokens (docs/protocol.md#store): on first sight the store asks the user's table
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

    static let invalid = APIError(.utilityInvalidStoreToken, "the store token is not valid for this user and store")

    /// Checks `token` for `user`; throws the protocol's error when refused.
    func check(user: StoreUser, token: String?) async throws {
        let timeout = try shape(user: user, token: token)
        let token = token!
        if cached(token) { return }
        let task = inFlight.withLock { inFlight -> Task<Void, any Error> in
            if let running = inFlight[token] { return running }
            let tableURL = user.tableURL!
            let task = Task { try await self.ask(tableURL: tableURL, token: token) }
            inFlight[token] = task
            return task
        }
        defer { inFlight.withLock { if $0[token] == task { $0[token] = nil } } }
        try await task.value
        remember(token, timeout: timeout)
    }

    /// Whether `token` is valid for `user` from what is known here, without
    /// asking the table: the event-loop path takes only these, and hands
    /// every other request to the router (which asks, or refuses).
    func isKnownValid(user: StoreUser, token: String?) -> Bool {
        guard let token, (try? shape(user: user, token: token)) != nil else { return false }
        return cached(token)
    }

    /// The checks made here (the table checks the signature); the token's timeout.
    private func shape(user: StoreUser, token: String?) throws -> Int64 {
        guard let token, !token.isEmpty else {
            throw APIError(.userMissingStoreToken, "give a store token (?store_token= or Authorization: Bearer)")
        }
        guard user.tableURL != nil else {
            throw APIError(.userNotConfirmed, "user \(user.id) is not enrolled with a table on this store yet")
        }
        guard let parsed = StoreToken(parsing: token), parsed.user == user.id, parsed.timeout > 0 else { throw Self.invalid }
        // (ext) A token minted for another store is refused here, without asking the table.
        if !user.storeIDs.isEmpty && !user.storeIDs.contains(parsed.storeID) {
            throw APIError(.utilityInvalidStoreToken, "this store token is for another store")
        }
        return parsed.timeout
    }

    /// A yes from the table, still within its sliding timeout (which this use extends).
    private func cached(_ token: String) -> Bool {
        let now = clock()
        return cache.withLock { cache -> Bool in
            guard var entry = cache[token], now <= entry.lastUse + entry.timeout else {
                cache[token] = nil
                return false
            }
            entry.lastUse = now
            cache[token] = entry
            return true
        }
    }

    /// Tokens remembered at most: past it the expired ones go, then the
    /// least recently used half, so memory stays bounded however many
    /// devices come and go (issue 14 §4).
    static let maxCached = 100_000

    private func remember(_ token: String, timeout: Int64) {
        let now = clock()
        cache.withLock { cache in
            if cache.count >= Self.maxCached {
                cache = cache.filter { now <= $0.value.lastUse + $0.value.timeout }
                if cache.count >= Self.maxCached {
                    let cutoff = cache.values.map(\.lastUse).sorted()[cache.count / 2]
                    cache = cache.filter { $0.value.lastUse > cutoff }
                }
            }
            cache[token] = Cached(timeout: timeout, lastUse: now)
        }
    }

    /// Forgets a token (`DELETE …/session/:store_token`).
    func forget(_ token: String) {
        _ = cache.withLock { $0.removeValue(forKey: token) }
    }

    static func pathSegment(_ text: String) -> String {
        let allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text
    }

    private func ask(tableURL: String, token: String) async throws {
        // Percent-encoded: a token is the client's text, and must stay one path segment.
        var request = HTTPClientRequest(url: tableURL + "table/check/" + Self.pathSegment(token))
        request.method = .GET
        let status: UInt
        let body: ByteBuffer
        do {
            let response = try await client.execute(request, timeout: timeout)
            status = response.status.code
            body = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw APIError(.storeTableUnavailable, "the table could not be reached to check the token; retry later")
        }
        let json = try? JSON.parse(Array(buffer: body))
        if status == 200, json?["ok"] == true { return }
        if (400..<500).contains(status) {
            let name = json?["error"]?["name"]?.stringValue ?? ProtocolError.utilityInvalidStoreToken.name
            throw APIError.forbidden(name, "the table refused the store token")
        }
        throw APIError(.storeTableUnavailable, "the table answered \(status) to a token check; retry later")
    }
}
