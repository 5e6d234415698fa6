import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// The router tier of the table (Tests/README.md): validation, credentials
/// and error shapes through `HummingbirdTesting`'s `.router` — no socket.
/// The live tier (`SessionRoutesTests`, `MountTableTests`) covers the same
/// routes over HTTP, on SQLite and PostgreSQL, with stores.
@Suite("Router tier: table")
struct TableRouterTests {
    @Test("bad input gets the protocol's error name, a fitting status and a message", arguments: SessionRoutesTests.errorExamples + [
        ("user/1/session/new?master=secret&timeout=-1", 400, "SessionError:InvalidTimeout"),
        ("user/1/table", 401, "TableError:MissingCredentials"),
    ])
    func errorNames(example: (path: String, status: Int, name: String)) async throws {
        let answer = try await withTableRouter { try await $0.get(example.path) }
        #expect(answer.isProtocolError(example.status, example.name), "\(answer.status) \(answer.headers) \(answer.text)")
    }

    @Test("admin routes need admin:<table key>; nothing is created without it")
    func adminKey() async throws {
        try await withTableRouter { table in
            for headers in [[HTTP.basic("admin", "wrong-key-wrong-key")], [HTTP.basic("1", "secret")], [("Authorization", "Basic !!")], []] {
                let answer = try await table.request(.put, "admin/user/2/master/x", headers: headers)
                #expect(answer.status == 401)
                #expect(answer.errorName == "AdminError:InvalidKey")
            }
            #expect(try await table.get("user/2/session/all?master=x").status == 404)
            let created = try await table.request(.put, "admin/user/2/master/x", headers: [HTTP.basic("admin", testTableKey)])
            #expect(created.isOK)
            #expect(try await table.get("user/2/session/all?master=x").status == 200)
        }
    }

    @Test("credentials: query master, HTTP Basic, query session token, Bearer")
    func credentialForms() async throws {
        try await withTableRouter { table in
            #expect(try await table.get("user/1/session/new?timeout=5000", headers: [HTTP.basic("1", "secret")]).status == 200)
            #expect(try await table.get("user/1/session/new?timeout=5000", headers: [HTTP.basic("1", "nope")]).status == 401)
            #expect(try await table.get("user/1/session/new?timeout=5000", headers: [HTTP.basic("2", "secret")]).status == 401)
            let session = try await table.get("user/1/session/new?master=secret&timeout=60000")
            let token = try #require(session.json?["session_token"]?.stringValue)
            #expect(try await table.get("user/1/table?session_token=\(token)").json == [:])
            #expect(try await table.get("user/1/table", headers: [HTTP.bearer(token)]).status == 200)
            let forged = try await table.get("user/1/table", headers: [HTTP.bearer(token + "x")])
            #expect(forged.status == 403)
            #expect(forged.errorName == "UtilityError:InvalidSessionToken")
            #expect(try await table.request(.delete, "user/1/session/\(token)").isOK)
            #expect(try await table.get("user/1/table?session_token=\(token)").status == 403)
        }
    }

    @Test("store URLs must be http(s), end with /, and carry no query", arguments: [
        "ftp://store/user/1/", "http://store/user/1", "http://store/user/1/?a=b", "store/user/1/", "", "http:///user/1/",
    ])
    func badStoreURL(url: String) async throws {
        let answer = try await withTableRouter { table in
            try await table.request(.post, "user/1/table/main/store?master=secret", json: ["store_url": .string(url), "code": "c"])
        }
        #expect(answer.status == 400)
        #expect(answer.errorName == "TableError:InvalidStoreUrl")
    }

    @Test("bodies: 413 over the limit, 415 not JSON, 400 malformed or of the wrong shape")
    func bodies() async throws {
        try await withTableRouter(configure: { $0.bodyLimit = 4_096 }) { table in
            let route = "user/1/table/main/store?master=secret"
            let json = [("Content-Type", "application/json")]
            let big = try await table.request(.post, route, headers: json,
                                              body: Array(("{\"store_url\":\"" + String(repeating: "a", count: 8_192) + "\"}").utf8))
            #expect(big.status == 413)
            #expect(big.errorName == "TableError:BodyTooLarge")
            let text = try await table.request(.post, route, headers: [("Content-Type", "text/plain")], body: Array("{}".utf8))
            #expect(text.status == 415)
            let malformed = try await table.request(.post, route, headers: json, body: Array("{\"store_url\":".utf8))
            #expect(malformed.status == 400)
            #expect(malformed.errorName == "TableError:InvalidJSON")
            let shape = try await table.request(.post, route, json: ["store_url": 5])
            #expect(shape.status == 400)
            #expect(shape.errorName == "TableError:InvalidPostBody")
            #expect(try await table.get("user/1/table?master=secret").json == [:])  // nothing recorded
        }
    }
}
