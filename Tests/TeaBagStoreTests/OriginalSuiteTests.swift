import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Store: the original store suite through HTTP (store-token routes)")
struct OriginalSuiteTests {
    @Test("an unwritten path holds only the empty base")
    func unwrittenPath() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let answer = try await u.client().oplog("note", "/never/written")
        #expect(answer.status == 200)
        #expect(answer.json == [emptyBase])
        #expect(answer.json?.arrayValue?.first?["sha"]?.stringValue == "f86af73e2defec331e24eb9675a73a03a4013756")
    }

    @Test("push answers ok, a repeated sha answers ok+noop, and the oplog returns ops exactly as pushed")
    func pushDuplicateAndShape() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let first = payloadOp(1_000, "sha-1", ["text": "hello", "tags": ["a", "b"]],
                              extra: ["author": "ann", "nested": ["x": [1, 2.5, nil, false]], "z": ""])
        let second = payloadOp(2_000, "sha-2", 7, node: "node-a", seq: 1)
        let pushed = try await c.push("note", "/a", first)
        #expect(pushed.status == 200)
        #expect(pushed.text == #"{"ok":true}"#)
        #expect(try await c.push("note", "/a", second).isAccepted)

        // The same sha again, even with another body: a noop, nothing changes.
        let again = try await c.push("note", "/a", first)
        #expect(again.status == 200)
        #expect(again.json == ["ok": true, "noop": true])
        #expect(try await c.push("note", "/a", payloadOp(5_000, "sha-1", "different")).isNoop)
        // The original client re-pushes the empty base it read: already held.
        #expect(try await c.push("note", "/a", emptyBase).isNoop)
        #expect(try await c.push("note", "/unwritten", emptyBase).isNoop)
        // "Before any other check of the op": a held sha is a noop whatever the rest of the body says.
        #expect(try await c.push("note", "/a", ["sha": "sha-2"]).isNoop)
        #expect(try await c.push("note", "/a", payloadOp(nowMs() + 86_400_000, "sha-2", 1)).isNoop)
        #expect(try await c.push("counter", "/c", payloadOp(1, "c1", 1)).isAccepted)
        #expect(try await c.push("counter", "/c", payloadOp(1, "c1", "not a number")).isNoop)

        let ops = try await c.ops("note", "/a")
        #expect(ops == [emptyBase, first, second])
        #expect(try await c.ops("note", "/unwritten") == [emptyBase])
    }

    @Test("tokens work as ?store_token= and as Authorization: Bearer")
    func tokenPlaces() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        var bearer = u.client()
        bearer.bearer = true
        #expect(try await bearer.push("note", "/b", payloadOp(1, "s", 1)).isAccepted)
        #expect(try await u.client().ops("note", "/b") == [emptyBase, payloadOp(1, "s", 1)])
        #expect(try await bearer.ops("note", "/b").count == 2)
    }

    @Test("healthz and metrics answer; metrics count accepted, noop and refused ops")
    func operational() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        #expect(try await HTTP.get(u.store.url + "healthz").isOK)
        let c = u.client()
        _ = try await c.push("counter", "/m", payloadOp(1, "m1", 1))
        _ = try await c.push("counter", "/m", payloadOp(1, "m1", 1))
        _ = try await c.push("counter", "/m", payloadOp(2, "m2", "x"))
        let metrics = try await HTTP.get(u.store.url + "metrics")
        #expect(metrics.status == 200)
        func count(_ outcome: String) -> Double? {
            metrics.text.split(separator: "\n").first { $0.hasPrefix("teabag_store_ops_total") && $0.contains("outcome=\"\(outcome)\"") }
                .flatMap { $0.split(separator: " ").last }.flatMap { Double($0) }
        }
        #expect(count("accepted") == 1)
        #expect(count("noop") == 1)
        #expect(count("refused") == 1)
    }
}

@Suite("Store: enrollment of docs/protocol.md#enrollment with a real table and a real store")
struct EnrollmentTests {
    @Test("the four steps end to end: user, code, confirm through the table, session, store token that works")
    func endToEnd() async throws {
        let tableData = try temporaryDirectory("table")
        let table = try await startTable(data: tableData)
        let store = try await startStore(data: try temporaryDirectory("store"))
        defer { Task { await store.stop(); await table.stop() } }
        try await Enrollment.createUser(tableURL: table.url)

        let admin = [HTTP.basic("admin", testStoreKey)]
        #expect(try await HTTP.request(.PUT, store.url + "admin/user/1", headers: admin).isOK)
        // Without the admin key: refused.
        let noAdmin = try await HTTP.request(.PUT, store.url + "admin/user/1", headers: [HTTP.basic("admin", "wrong-key-0123456789")])
        #expect(noAdmin.status == 401)
        #expect(noAdmin.errorName == "AdminError:InvalidKey")
        #expect(try await HTTP.get(store.url + "admin/user/1/code").status == 401)

        let before = nowMs()
        let answer = try await HTTP.get(store.url + "admin/user/1/code", headers: admin)
        #expect(answer.status == 200)
        let code = try #require(answer.json?["code"]?.stringValue)
        let expiry = try #require(answer.json?["expiry"]?.int64Value)
        let parts = code.split(separator: "_")
        #expect(parts.count == 3)
        let created = try #require(Int64(parts[0]))
        #expect(created >= before && created <= nowMs())
        #expect(Int64(parts[1]) == expiry)
        #expect(expiry - created == 120_000)
        #expect(parts[2].count == 64 && parts[2].allSatisfy(\.isHexDigit))

        let storeURL = store.userURL(1)
        let enrolled = try await Enrollment.post(tableURL: table.url, storeUserURL: storeURL, code: code)
        #expect(enrolled.status == 200, "\(enrolled.text)")
        let storeID = Enrollment.storeID(storeURL)
        #expect(enrolled.json?["store_id"]?.stringValue == storeID)
        #expect(enrolled.json?["url"]?.stringValue == storeURL)
        #expect(enrolled.json?["code"]?.stringValue == code)

        let session = try await Enrollment.session(tableURL: table.url)
        let token = try await Enrollment.storeToken(tableURL: table.url, session: session, storeUserURL: storeURL)
        #expect(token.hasPrefix("store_1_") && token.contains("_\(storeID)_"))
        let client = StoreClient(userURL: storeURL, token: token)
        #expect(try await client.push("note", "/x", payloadOp(10, "x1", "hi")).isAccepted)
        #expect(try await client.ops("note", "/x") == [emptyBase, payloadOp(10, "x1", "hi")])
    }

    @Test("codes are single use: the second confirm with one code is UserError:InvalidCode, through the table and directly")
    func singleUse() async throws {
        let table = try await startTable(data: try temporaryDirectory("table"))
        let store = try await startStore(data: try temporaryDirectory("store"))
        defer { Task { await store.stop(); await table.stop() } }
        try await Enrollment.createUser(tableURL: table.url)
        let code = try await Enrollment.code(storeURL: store.url)
        #expect(try await Enrollment.post(tableURL: table.url, storeUserURL: store.userURL(1), code: code).status == 200)

        let again = try await Enrollment.post(tableURL: table.url, storeUserURL: store.userURL(1), code: code, channel: "other")
        #expect(again.status == 400)
        #expect(again.errorName == "UserError:InvalidCode")
        #expect(try await HTTP.get(table.url + "user/1/table?master=secret").json?.objectValue?.keys.sorted() == ["main"])

        let direct = try await HTTP.request(.POST, store.userURL(1) + "confirm",
                                            json: ["code": .string(code), "table_url": .string(table.url + "user/1/")])
        #expect(direct.status == 400)
        #expect(direct.errorName == "UserError:InvalidCode")

        // A fresh code works again.
        let fresh = try await Enrollment.code(storeURL: store.url)
        #expect(try await Enrollment.post(tableURL: table.url, storeUserURL: store.userURL(1), code: fresh, channel: "other").status == 200)
    }

    @Test("forged codes, another user's code, and malformed codes are UserError:InvalidCode")
    func forged() async throws {
        let table = try await startTable(data: try temporaryDirectory("table"))
        let store = try await startStore(data: try temporaryDirectory("store"))
        defer { Task { await store.stop(); await table.stop() } }
        try await Enrollment.createUser(tableURL: table.url)
        let code = try await Enrollment.code(storeURL: store.url)
        let otherUser = try await Enrollment.code(storeURL: store.url, user: 2)
        let parts = code.split(separator: "_").map(String.init)
        let flipped = parts[2].last == "0" ? "1" : "0"
        let otherKey = try await startStore(data: try temporaryDirectory("store"), key: "another-store-key-0123")
        defer { Task { await otherKey.stop() } }
        let foreign = try await Enrollment.code(storeURL: otherKey.url, storeKey: "another-store-key-0123")
        let forgeries = [
            parts[0] + "_" + parts[1] + "_" + parts[2].dropLast() + flipped,        // signature changed
            parts[0] + "_" + String(Int64(parts[1])! + 60_000) + "_" + parts[2],     // expiry stretched
            String(Int64(parts[0])! - 1) + "_" + parts[1] + "_" + parts[2],          // created moved
            parts[0] + "_" + parts[1],                                               // truncated
            otherUser,                                                               // user 2's code
            foreign,                                                                 // another store's key
            "", "garbage", "1_2_3",
        ]
        for forged in forgeries {
            let answer = try await Enrollment.post(tableURL: table.url, storeUserURL: store.userURL(1), code: forged)
            #expect(answer.status == 400, "\(forged): \(answer.text)")
            #expect(answer.errorName == "UserError:InvalidCode", "\(forged): \(answer.text)")
        }
        #expect(try await HTTP.get(table.url + "user/1/table?master=secret").json == [:])
        // The genuine one still works: forgeries did not use it up.
        #expect(try await Enrollment.post(tableURL: table.url, storeUserURL: store.userURL(1), code: code).status == 200)
    }

    @Test("a code is valid for two minutes of the store's clock, then UserError:InvalidCode")
    func expiry() async throws {
        let clock = ManualClock()
        let table = try await startTable(data: try temporaryDirectory("table"))
        let store = try await startStore(data: try temporaryDirectory("store"), clock: clock.read)
        defer { Task { await store.stop(); await table.stop() } }
        try await Enrollment.createUser(tableURL: table.url)

        let late = try await Enrollment.code(storeURL: store.url)
        let answer = try await HTTP.get(store.url + "admin/user/1/code", headers: [HTTP.basic("admin", testStoreKey)])
        #expect(answer.json?["expiry"]?.int64Value == clock.read() + 120_000)
        let inTime = try #require(answer.json?["code"]?.stringValue)
        clock.advance(ms: 119_000)
        #expect(try await Enrollment.post(tableURL: table.url, storeUserURL: store.userURL(1), code: inTime).status == 200)
        clock.advance(ms: 1_001)
        let expired = try await Enrollment.post(tableURL: table.url, storeUserURL: store.userURL(1), code: late, channel: "other")
        #expect(expired.status == 400)
        #expect(expired.errorName == "UserError:InvalidCode")
    }

    @Test("codes and confirm: unknown users are 404, bad user ids 400, bad bodies 400")
    func badRequests() async throws {
        let store = try await startStore(data: try temporaryDirectory("store"))
        defer { Task { await store.stop() } }
        let admin = [HTTP.basic("admin", testStoreKey)]
        let unknown = try await HTTP.get(store.url + "admin/user/9/code", headers: admin)
        #expect(unknown.status == 404)
        #expect(unknown.errorName == "UserError:UserNotFound")
        for bad in ["0", "-1", "x", "1.5"] {
            let answer = try await HTTP.request(.PUT, store.url + "admin/user/\(bad)", headers: admin)
            #expect(answer.status == 400, "\(bad)")
            #expect(answer.errorName == "UserError:InvalidUserId", "\(bad)")
        }
        #expect(try await HTTP.request(.PUT, store.url + "admin/user/1", headers: admin).isOK)
        let noCode = try await HTTP.request(.POST, store.userURL(1) + "confirm", json: ["table_url": "http://t/user/1/"])
        #expect(noCode.status == 400)
        #expect(noCode.errorName == "UserError:InvalidPostBody")
        let code = try await Enrollment.code(storeURL: store.url)
        let badURL = try await HTTP.request(.POST, store.userURL(1) + "confirm", json: ["table_url": "ftp://t/user/1/", "code": .string(code)])
        #expect(badURL.status == 400)
        #expect(badURL.errorName == "UserError:InvalidTableUrl")
        // A user created on the store but not enrolled with a table: its tokens cannot be checked.
        let notConfirmed = try await HTTP.get(store.userURL(1) + "oplog?type=a&path=/a&store_token=store_1_1_60000_abc_def")
        #expect(notConfirmed.status == 403)
        #expect(notConfirmed.errorName == "UserError:NotConfirmed")
    }
}
