import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Store: store tokens (docs/protocol.md#store)")
struct TokenTests {
    @Test("a missing token is 401 UserError:MissingStoreToken on every store-token route", arguments: TableBackend.allCases)
    func missing(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let base = u.store.userURL(1)
            let answers = [
                try await HTTP.request(.POST, base + "oplog?type=note&path=/a", json: payloadOp(1, "s", 1)),
                try await HTTP.request(.POST, base + "oplog/batch", json: ["ops": []]),
                try await HTTP.get(base + "oplog?type=note&path=/a"),
                try await HTTP.get(base + "value?type=counter&path=/a"),
                try await HTTP.get(base + "oplog/stream"),
                try await HTTP.get(base + "oplog/stream", headers: [("Accept", "text/event-stream")]),
                try await HTTP.get(base + "oplog?type=note&path=/a&store_token="),
                // A session token is not a store token.
                try await HTTP.get(base + "oplog?type=note&path=/a", headers: [HTTP.bearer(u.session)]),
            ]
            for answer in answers {
                #expect(answer.status == 401, "\(answer.text)")
                #expect(answer.errorName == "UserError:MissingStoreToken", "\(answer.text)")
            }
        }
    }

    @Test("forged and truncated tokens, and tokens of another user, are 403 UtilityError:InvalidStoreToken", arguments: TableBackend.allCases)
    func forgedAndTruncated(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let token = u.token
            let parts = token.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
            #expect(parts.count == 6)
            let signature = parts[5]
            let flipped = String(signature.dropLast()) + (signature.last == "0" ? "1" : "0")
            let head = parts[0...4].joined(separator: "_")
            let longer = String(Int64(parts[3])! * 10)
            let later = String(Int64(parts[2])! + 1)
            var forgeries: [String] = []
            forgeries.append(head + "_" + flipped)                                                    // signature changed
            forgeries.append(String(token.dropLast(5)))                                               // signature truncated
            forgeries.append(String(token.dropLast(signature.count + 1)))                             // signature cut off
            forgeries.append(String(token.prefix(20)))                                                // cut into the fields
            forgeries.append([parts[0], parts[1], parts[2], longer, parts[4], parts[5]].joined(separator: "_"))  // longer timeout
            forgeries.append([parts[0], parts[1], later, parts[3], parts[4], parts[5]].joined(separator: "_"))   // other creation time
            forgeries.append([parts[0], "2", parts[2], parts[3], parts[4], parts[5]].joined(separator: "_"))     // another user's id
            forgeries.append(contentsOf: ["store_1_x_y_z_w", "garbage"])
            for forged in forgeries {
                let answer = try await u.client().with(token: forged).oplog("note", "/a")
                #expect(answer.status == 403, "\(forged): \(answer.text)")
                #expect(answer.errorName == "UtilityError:InvalidStoreToken", "\(forged): \(answer.text)")
                let pushed = try await u.client().with(token: forged).push("note", "/a", payloadOp(1, "s", 1))
                #expect(pushed.status == 403)
            }
            #expect(try await u.client().ops("note", "/a") == [emptyBase])
            // User 1's valid token on user 2's routes: user 2 is unknown to this store (404); once created and
            // enrolled, the token (of user 1) is still refused.
            let other = try await HTTP.get(u.store.userURL(2) + "oplog?type=note&path=/a&store_token=\(token)")
            #expect(other.status == 404)
            #expect(other.errorName == "UserError:UserNotFound")
            try await Enrollment.createUser(tableURL: u.table.url, user: 2, master: "two")
            try await Enrollment.enroll(tableURL: u.table.url, storeURL: u.store.url, user: 2, master: "two")
            let crossed = try await HTTP.get(u.store.userURL(2) + "oplog?type=note&path=/a&store_token=\(token)")
            #expect(crossed.status == 403)
            #expect(crossed.errorName == "UtilityError:InvalidStoreToken")
        }
    }

    @Test("a revoked session: the cached token works until the store forgets it, then 403", arguments: TableBackend.allCases)
    func revoked(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let c = u.client()
            #expect(try await c.push("note", "/r", payloadOp(1, "r1", 1)).isAccepted)
            #expect(try await HTTP.request(.DELETE, u.table.url + "user/1/session/\(u.session)").isOK)
            #expect(try await HTTP.get(u.table.url + "user/1/table/check/\(u.token)").status == 403)
            // Cached as a yes by the store: still served (the cache is the point of docs/protocol.md#store).
            #expect(try await c.oplog("note", "/r").status == 200)

            let forget = try await HTTP.request(.DELETE, u.store.userURL(1) + "session/\(u.token)")
            #expect(forget.isOK)
            let refused = try await c.oplog("note", "/r")
            #expect(refused.status == 403)
            #expect(refused.errorName == "UtilityError:InvalidStoreToken")
            let push = try await c.push("note", "/r", payloadOp(2, "r2", 1))
            #expect(push.status == 403)
            // Another session's token is unaffected.
            let (_, fresh) = try await u.newToken()
            #expect(try await c.with(token: fresh).ops("note", "/r") == [emptyBase, payloadOp(1, "r1", 1)])
        }
    }

    @Test("a new master revokes every session: after the store forgets the token it is refused", arguments: TableBackend.allCases)
    func newMaster(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            #expect(try await u.client().oplog("note", "/m").status == 200)
            try await Enrollment.createUser(tableURL: u.table.url, master: "changed")
            #expect(try await HTTP.request(.DELETE, u.store.userURL(1) + "session/\(u.token)").isOK)
            #expect(try await u.client().oplog("note", "/m").status == 403)
        }
    }

    @Test("a token minted for another store is refused with 403, both ways", arguments: TableBackend.allCases)
    func otherStore(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend, stores: 2) { u in
            let a = u.client(0), b = u.client(1)
            #expect(u.tokens[0] != u.tokens[1])
            #expect(try await a.push("note", "/x", payloadOp(1, "x", 1)).isAccepted)
            #expect(try await b.push("note", "/x", payloadOp(1, "x", 1)).isAccepted)
            for (client, token) in [(a, u.tokens[1]), (b, u.tokens[0])] {
                let answer = try await client.with(token: token).oplog("note", "/x")
                #expect(answer.status == 403)
                #expect(answer.errorName == "UtilityError:InvalidStoreToken")
                #expect(try await client.with(token: token).push("note", "/x", payloadOp(2, "y", 1)).status == 403)
            }
            #expect(try await a.ops("note", "/x").count == 2)
            #expect(try await b.ops("note", "/x").count == 2)
        }
    }

    @Test("with the table down, a cached token keeps working and a new one is 503 StoreError:TableUnavailable", arguments: TableBackend.allCases)
    func tableDown(_ backend: TableBackend) async throws {
        // The table as a process, so that "down" is a killed process (connections refused), as in production.
        let directory = try temporaryDirectory("table-down")
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let table = try TeaBagProcess(["table", "--port", "0", "--data", directory + "/table", "--key", testTableKey], directory: directory)
        defer { table.kill9() }
        let tableURL = try #require(try await table.waitUntilListening("table"), "\(table.stderr)") + "/"
        let database = try await backend.freshDatabase()
        try await withStore(data: directory + "/store", configure: { $0.database = database }) { store in
            try await Enrollment.createUser(tableURL: tableURL)
            try await Enrollment.enroll(tableURL: tableURL, storeURL: store.url)
            var tokens: [String] = []
            for _ in 0..<2 {
                let session = try await Enrollment.session(tableURL: tableURL)
                tokens.append(try await Enrollment.storeToken(tableURL: tableURL, session: session, storeUserURL: store.userURL(1)))
            }
            let c = StoreClient(userURL: store.userURL(1), token: tokens[0])
            let unseen = tokens[1]
            // A store on a database just created may still be migrating on a busy machine (503): as a client, retry.
            #expect(try await eventually(30) {
                let answer = try await c.push("note", "/d", payloadOp(1, "d1", 1))
                return answer.isAccepted || answer.isNoop
            })
            table.kill9()

            // Cached: reads and writes go on.
            #expect(try await c.push("note", "/d", payloadOp(2, "d2", 1)).isAccepted)
            #expect(try await c.ops("note", "/d") == [emptyBase, payloadOp(1, "d1", 1), payloadOp(2, "d2", 1)])
            // Never seen: the store cannot check it, which is a retry-later, not a refusal.
            // (Both at once: the store's check of a new token waits up to its timeout, 5 s, for the table.)
            async let read = c.with(token: unseen).oplog("note", "/d")
            async let write = c.with(token: unseen).push("note", "/d", payloadOp(3, "d3", 1))
            let (answer, pushed) = try await (read, write)
            #expect(answer.status == 503)
            #expect(answer.errorName == "StoreError:TableUnavailable")
            #expect(pushed.status == 503)
            #expect(pushed.errorName == "StoreError:TableUnavailable")
            #expect(try await c.ops("note", "/d").count == 3)
        }
    }

    @Test("a checked token is cached for its timeout, sliding with each use, then checked with the table again", arguments: TableBackend.allCases)
    func cacheSlides(_ backend: TableBackend) async throws {
        let clock = ManualClock()
        try await withEnrolledUser(backend: backend, storeClock: clock.read) { u in
            let timeout = try #require(Int64(u.token.split(separator: "_")[3]))
            #expect(timeout == 3_600_000)
            let before = checkRequests(u.table)
            #expect(try await u.client().oplog("note", "/s").status == 200)
            #expect(checkRequests(u.table) - before == 1)
            for _ in 0..<3 {
                clock.advance(ms: timeout - 1_000)
                #expect(try await u.client().oplog("note", "/s").status == 200)
            }
            #expect(checkRequests(u.table) - before == 1, "a token used within its timeout is not checked again")
            clock.advance(ms: timeout + 1)
            #expect(try await u.client().oplog("note", "/s").status == 200)
            #expect(checkRequests(u.table) - before == 2, "an idle token past its timeout is checked again")
        }
    }

    @Test("concurrent first checks of one token all succeed, with one request to the table", arguments: TableBackend.allCases)
    func concurrentChecks(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let (_, token) = try await u.newToken()
            let before = checkRequests(u.table)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for i in 0..<24 {
                    group.addTask {
                        i.isMultiple(of: 2)
                            ? try await u.client().with(token: token).oplog("note", "/c").status
                            : try await u.client().with(token: token).push("note", "/c", payloadOp(Int64(i + 1), "c\(i)", 1)).status
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.count == 24)
            #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
            #expect(checkRequests(u.table) - before == 1)
            #expect(try await u.client().ops("note", "/c").count == 13)
        }
    }
}

/// Store-token checks the table has answered so far (its request counter for that route).
func checkRequests(_ table: RunningTable) -> Double {
    table.server.metrics.render().split(separator: "\n")
        .filter { $0.hasPrefix("teabag_http_requests_total") && $0.contains("table/check") }
        .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
        .reduce(0, +)
}
