import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// The router tier of the store (Tests/README.md): admin credentials, user
/// and token checks that need no table, and error shapes, through
/// `HummingbirdTesting`'s `.router` — no socket. Token checks against a
/// table, op validation, streams and durability are in the live tier.
@Suite("Router tier: store")
struct StoreRouterTests {
    static let admin = [HTTP.basic("admin", testStoreKey)]
    /// A token of the right shape for user 1 (the table would refuse it).
    static let shapedToken = "store_1_1800000000000_3600000_0000000000000000000000000000000000000000000000000000000000000000_00"

    @Test("admin routes need admin:<store key>; nothing is created without it")
    func adminKey() async throws {
        try await withStoreRouter { store in
            for headers in [[HTTP.basic("admin", "wrong-key-wrong-key")], [HTTP.basic("1", "secret")], []] {
                let created = try await store.request(.put, "admin/user/1", headers: headers)
                #expect(created.status == 401)
                #expect(created.errorName == "AdminError:InvalidKey")
                #expect(try await store.get("admin/user/1/code", headers: headers).errorName == "AdminError:InvalidKey")
            }
            let unknown = try await store.get("user/1/oplog?type=note&path=/a&store_token=\(Self.shapedToken)")
            #expect(unknown.status == 404)
            #expect(unknown.errorName == "UserError:UserNotFound")
            #expect(try await store.request(.put, "admin/user/1", headers: Self.admin).isOK)
            let code = try await store.get("admin/user/1/code", headers: Self.admin)
            #expect(code.status == 200)
            #expect(code.json?["code"]?.stringValue?.isEmpty == false)
        }
    }

    @Test("no token is 401 UserError:MissingStoreToken on every store-token route")
    func missingToken() async throws {
        try await withStoreRouter { store in
            #expect(try await store.request(.put, "admin/user/1", headers: Self.admin).isOK)
            let answers = [
                try await store.request(.post, "user/1/oplog?type=note&path=/a", json: payloadOp(1, "s", 1)),
                try await store.request(.post, "user/1/oplog/batch", json: ["ops": []]),
                try await store.get("user/1/oplog?type=note&path=/a"),
                try await store.get("user/1/value?type=counter&path=/a"),
                try await store.get("user/1/oplog/stream"),
                try await store.get("user/1/oplog?type=note&path=/a&store_token="),
            ]
            for answer in answers {
                #expect(answer.status == 401, "\(answer.text)")
                #expect(answer.errorName == "UserError:MissingStoreToken", "\(answer.text)")
            }
        }
    }

    @Test("a user created but not confirmed is 403 UserError:NotConfirmed")
    func notConfirmed() async throws {
        try await withStoreRouter { store in
            #expect(try await store.request(.put, "admin/user/1", headers: Self.admin).isOK)
            let answer = try await store.get("user/1/oplog?type=note&path=/a", headers: [HTTP.bearer(Self.shapedToken)])
            #expect(answer.status == 403, "\(answer.text)")
            #expect(answer.errorName == "UserError:NotConfirmed", "\(answer.text)")
        }
    }

    @Test("confirm: a bad code is 400 UserError:InvalidCode, a body of the wrong shape 400, and the user stays unconfirmed")
    func confirm() async throws {
        try await withStoreRouter { store in
            #expect(try await store.request(.put, "admin/user/1", headers: Self.admin).isOK)
            let bad = try await store.request(.post, "user/1/confirm", json: ["table_url": "http://127.0.0.1:9/", "code": "1_2_abc"])
            #expect(bad.status == 400)
            #expect(bad.errorName == "UserError:InvalidCode")
            let shape = try await store.request(.post, "user/1/confirm", json: ["table_url": 5])
            #expect(shape.status == 400)
            #expect(shape.errorName == "UserError:InvalidPostBody")
            let after = try await store.get("user/1/oplog?type=note&path=/a", headers: [HTTP.bearer(Self.shapedToken)])
            #expect(after.errorName == "UserError:NotConfirmed")
        }
    }

    @Test("user ids and routes: 400 UserError:InvalidUserId, 404 ServerError:UnknownRoute", arguments: [
        ("user/0/oplog?type=note&path=/a", 400, "UserError:InvalidUserId"),
        ("user/abc/oplog?type=note&path=/a", 400, "UserError:InvalidUserId"),
        ("user/-3/value?type=note&path=/a", 400, "UserError:InvalidUserId"),
        ("no/such/route", 404, "ServerError:UnknownRoute"),
    ])
    func errorNames(example: (path: String, status: Int, name: String)) async throws {
        let answer = try await withStoreRouter { try await $0.get(example.path) }
        #expect(answer.isProtocolError(example.status, example.name), "\(answer.status) \(answer.headers) \(answer.text)")
    }
}
