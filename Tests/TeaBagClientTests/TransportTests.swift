import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport
@testable import TeaBag

/// The endpoint of store `index` of `u`, as the mount table would give it.
func endpoint(_ u: EnrolledUser, _ index: Int = 0) -> StoreEndpoint {
    let url = u.stores[index].userURL(1)
    return StoreEndpoint(storeID: Enrollment.storeID(url), userURL: url, token: u.tokens[index])
}

func counterOp(_ n: Int, date: Int64 = nowMs(), node: String = "node-a") -> Op {
    OpFactory.payloadOp(payload: .number(Double(n)), node: node, seq: Int64(n), date: date)
}

/// Throws unless `body` throws a TeaBagError, which it returns.
func teaBagError(_ body: () async throws -> Void) async throws -> TeaBagError {
    do {
        try await body()
    } catch let error as TeaBagError {
        return error
    }
    throw TestFailure("expected a TeaBagError, got no error")
}

@Suite("Client transport: table")
struct TableAPITests {
    @Test("a new session mounts channel main with both stores and their tokens; a revoked one is refused")
    func mountAndRevoke() async throws {
        try await withEnrolledUser(stores: 2) { u in
            let table = TableAPI()
            let session = try await table.newSession(tableURL: u.table.url, user: 1, master: "secret", timeoutMs: 60_000,
                                                     description: "transport tests / ü & more")
            #expect(session.hasPrefix("session_1_"))

            let mounted = try await table.mountTable(tableURL: u.table.url, user: 1, sessionToken: session)
            #expect(Array(mounted.keys) == ["main"])
            let stores = try #require(mounted["main"])
            let expected = u.stores.map { $0.userURL(1) }.map { (id: Enrollment.storeID($0), url: $0) }.sorted { $0.id < $1.id }
            #expect(stores.map(\.storeID) == expected.map(\.id))
            #expect(stores.map(\.userURL) == expected.map(\.url))
            #expect(stores.allSatisfy { $0.token.hasPrefix("store_1_") })
            // The tokens work on their stores.
            let key = try PathKey(type: "counter", path: "/t")
            for store in stores { #expect(try await StoreAPI().oplog(store, key).ops == [Op.empty]) }

            try await table.revokeSession(tableURL: u.table.url, user: 1, sessionToken: session)
            let revoked = try await teaBagError { _ = try await table.mountTable(tableURL: u.table.url, user: 1, sessionToken: session) }
            #expect(revoked.name == "UtilityError:InvalidSessionToken")
            #expect(revoked.status == 403)
            #expect(revoked.isCredentialFailure)

            let wrongMaster = try await teaBagError {
                _ = try await table.newSession(tableURL: u.table.url, user: 1, master: "wrong", timeoutMs: 60_000, description: "x")
            }
            #expect(wrongMaster.name == "UtilityError:UserNotFound")
            #expect(wrongMaster.status == 401)
        }
    }
}

@Suite("Client transport: store")
struct StoreAPITests {
    @Test("an unwritten path reads as the empty base, with the store's Date; a path with / & + # reaches the store as written")
    func emptyOplog() async throws {
        try await withEnrolledUser { u in
            let store = endpoint(u)
            let key = try PathKey(type: "counter", path: "/a b/c&d=e+f#g/ü")
            let (ops, serverDate) = try await StoreAPI().oplog(store, key)
            #expect(ops == [Op.empty])
            let date = try #require(serverDate)
            #expect(abs(date - nowMs()) < 5_000)

            let op = counterOp(1)
            #expect(try await StoreAPI().push(store, key, op) == .accepted(noop: false))
            // The store filed it under exactly that path.
            #expect(try await u.client().ops("counter", key.path) == [Op.empty.json, op.json])
            #expect(try await StoreAPI().oplog(store, key).ops == [Op.empty, op])
        }
    }

    @Test("batch: accepted, then noop on re-send; a future date is retry-later, a refused payload or bad sha is refused")
    func batch() async throws {
        try await withEnrolledUser { u in
            let store = endpoint(u)
            let api = StoreAPI()
            let key = try PathKey(type: "counter", path: "/b")
            let now = nowMs()
            let ops = [counterOp(1, date: now), counterOp(2, date: now + 1)]

            let first = try await api.batch(store, ops.map { (key, $0) })
            #expect(first.answers == [.accepted(noop: false), .accepted(noop: false)])
            #expect(first.serverDate != nil)
            #expect(try await api.oplog(store, key).ops == [Op.empty] + ops)
            #expect(try await api.batch(store, ops.map { (key, $0) }).answers == [.accepted(noop: true), .accepted(noop: true)])

            let future = counterOp(3, date: now + 3_600_000)
            let notANumber = OpFactory.payloadOp(payload: "three", node: "node-a", seq: 4, date: now)
            let longSHA = Op(date: now, sha: String(repeating: "a", count: 200), body: .payload(5), node: "node-a", seq: 5)
            let mixed = try await api.batch(store, [(key, future), (key, notANumber), (key, longSHA), (key, counterOp(6, date: now))])
            #expect(mixed.answers.count == 4)
            guard case .retryLater(let late) = mixed.answers[0] else { throw TestFailure("\(mixed.answers[0])") }
            #expect(late.name == "StoreError:FutureDate" && late.status == 503)
            guard case .refused(let invalid) = mixed.answers[1] else { throw TestFailure("\(mixed.answers[1])") }
            #expect(invalid.name == "StoreError:InvalidOp" && invalid.status == 400 && invalid.isRefusedForGood)
            guard case .refused(let shape) = mixed.answers[2] else { throw TestFailure("\(mixed.answers[2])") }
            #expect(shape.name == "UserError:InvalidOpBody")
            #expect(mixed.answers[3] == .accepted(noop: false))

            // The single push says the same, with the store's Retry-After.
            guard case .retryLater(let pushedLate) = try await api.push(store, key, future) else { throw TestFailure("future push") }
            #expect(pushedLate.name == "StoreError:FutureDate")
            #expect((pushedLate.retryAfterMs ?? 0) >= 1_000)
            guard case .refused(let pushedInvalid) = try await api.push(store, key, notANumber) else { throw TestFailure("invalid push") }
            #expect(pushedInvalid.name == "StoreError:InvalidOp")
            #expect(try await api.push(store, key, ops[0]) == .accepted(noop: true))
        }
    }

    @Test("a whole-request refusal is thrown with its status; a store that is down is NetworkError:Unreachable")
    func requestFailures() async throws {
        try await withEnrolledUser { u in
            let key = try PathKey(type: "counter", path: "/c")
            let good = endpoint(u)
            let forged = StoreEndpoint(storeID: good.storeID, userURL: good.userURL, token: good.token + "0")
            let refused = try await teaBagError { _ = try await StoreAPI().batch(forged, [(key, counterOp(1))]) }
            #expect(refused.isCredentialFailure)
            #expect(refused.name == "UtilityError:InvalidStoreToken")

            let mismatch = try await teaBagError { _ = try await StoreAPI().push(forged, key, counterOp(1)) }
            #expect(mismatch == refused)

            try await withStarted({ try await FixtureServer.start() }) { fixture in
                // An original store has no batch route: its 404 is not a protocol error body, but keeps its status.
                let noBatch = try await teaBagError { _ = try await StoreAPI().batch(fixture.endpoint("original"), [(key, counterOp(1))]) }
                #expect(noBatch.status == 404)

                await u.store.stop()
                let start = ContinuousClock.now
                let down = try await teaBagError { _ = try await StoreAPI().oplog(good, key) }
                #expect(down.name == "NetworkError:Unreachable")
                #expect(down.status == nil)
                #expect(down.message.contains(good.userURL))
                #expect(ContinuousClock.now - start < .seconds(4))
            }
        }
    }
}

@Suite("Client transport: parsing")
struct ParsingTests {
    @Test("HTTP dates and Retry-After")
    func dates() {
        #expect(ClientHTTP.parseHTTPDate("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777_000)
        #expect(ClientHTTP.parseHTTPDate("Thu, 01 Jan 1970 00:00:00 GMT") == 0)
        #expect(ClientHTTP.parseHTTPDate("Tue, 29 Feb 2028 23:59:59 GMT") == 1_835_481_599_000)
        #expect(ClientHTTP.parseHTTPDate("Sunday, 06-Nov-94 08:49:37 GMT") == nil)
        #expect(ClientHTTP.parseHTTPDate("Sun, 06 Nov 1994 25:49:37 GMT") == nil)
        #expect(ClientHTTP.parseHTTPDate("Sun, 06 Foo 1994 08:49:37 GMT") == nil)
        #expect(ClientHTTP.retryAfterMs("3", serverDate: nil) == 3_000)
        #expect(ClientHTTP.retryAfterMs("Sun, 06 Nov 1994 08:49:40 GMT", serverDate: 784_111_777_000) == 3_000)
        #expect(ClientHTTP.retryAfterMs("soon", serverDate: nil) == nil)
    }

    @Test("query values are percent-encoded down to the unreserved characters")
    func encoding() {
        #expect(ClientHTTP.encode("/a b/c&d=e+f#g?ü~._-") == "%2Fa%20b%2Fc%26d%3De%2Bf%23g%3F%C3%BC~._-")
    }

    @Test("SSE: events split anywhere, CR LF and lone CR line ends, comments, multi-line data")
    func sse() throws {
        let text = ": teabag\r\n\r\nid: 1\r\ndata: {\"a\":1}\r\n\r\nevent: resync\rdata: {}\r\r: keep-alive\n\nid: 2\ndata: x\ndata:y\nfield-we-do-not-know: z\n\n"
        let bytes = Array(text.utf8)
        let expected: [SSEParser.Event] = [.init(id: "1", data: #"{"a":1}"#), .init(event: "resync", data: "{}"), .init(id: "2", data: "x\ny")]
        for chunk in [1, 2, 3, 7, bytes.count] {
            var parser = SSEParser()
            var events: [SSEParser.Event] = []
            for start in stride(from: 0, to: bytes.count, by: chunk) {
                events += try parser.feed(bytes[start..<min(start + chunk, bytes.count)])
            }
            #expect(events == expected, "chunks of \(chunk)")
        }
        var small = SSEParser(maxLineBytes: 8)
        #expect(throws: SSEParser.LineTooLong.self) { _ = try small.feed(Array("data: 0123456789\n".utf8)) }
    }

    @Test("backoff: doubles from 100 ms within ±20%, stops at 5 s, starts over after reset")
    func backoff() {
        var backoff = Backoff()
        let delays = (0..<10).map { _ in Backoff.ms(backoff.next()) }
        for (i, delay) in delays.enumerated() {
            let base = min(100 * pow(2, Double(i)), 5_000)
            #expect(delay >= base * 0.8 - 0.001 && delay <= min(base * 1.2, 5_000) + 0.001, "attempt \(i): \(delay)")
        }
        backoff.reset()
        #expect((80...120).contains(Backoff.ms(backoff.next())))
    }
}
