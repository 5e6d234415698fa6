import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Table: sessions (docs/protocol.md#table)")
struct SessionRoutesTests {
    @Test("the original session suite: new, all, check, delete", arguments: TableBackend.allCases)
    func originalSuite(backend: TableBackend) async throws {
        let t = try await TableFixture.start(backend)
        defer { Task { await t.stop() } }
        let first = try await t.get("user/1/session/new?master=secret&timeout=60000&description=laptop")
        #expect(first.status == 200)
        let session = try #require(first.json)
        #expect(session["timeout"] == 60000)
        #expect(session["description"] == "laptop")
        #expect(session["created_time"] == session["last_check"])
        let token = try #require(session["session_token"]?.stringValue)
        #expect(token.hasPrefix("session_1_"))
        let second = try await t.newSession(description: "phone")

        let all = try await t.get("user/1/session/all?master=secret")
        #expect(all.json?.arrayValue?.compactMap { $0["session_token"]?.stringValue } == [token, second])

        #expect(try await t.get("user/1/session/check/\(token)").isOK)
        #expect(try await t.delete("user/1/session/\(token)").isOK)
        let revoked = try await t.get("user/1/session/check/\(token)")
        #expect(revoked.status == 403)
        #expect(revoked.errorName == "UtilityError:InvalidSessionToken")
        #expect(try await t.get("user/1/session/all?master=secret").json?.arrayValue?.count == 1)
    }

    @Test("timeout bounds: 1,000 ms to 31 days", arguments: TableBackend.allCases, [
        ("999", 400), ("1000", 200), ("2678400000", 200), ("2678400001", 400), ("abc", 400), ("", 400), ("-5", 400),
    ])
    func timeoutBounds(backend: TableBackend, example: (timeout: String, status: Int)) async throws {
        let (timeout, status) = example
        let t = try await TableFixture.start(backend)
        defer { Task { await t.stop() } }
        let answer = try await t.get("user/1/session/new?master=secret&timeout=\(timeout)")
        #expect(answer.status == status)
        if status == 400 { #expect(answer.errorName == "SessionError:InvalidTimeout") }
    }

    @Test("sessions slide: each use refreshes last_check, idleness past the timeout ends them", arguments: TableBackend.allCases)
    func slidingExpiry(backend: TableBackend) async throws {
        let clock = ManualClock()
        let t = try await TableFixture.start(backend, clock: clock)
        defer { Task { await t.stop() } }
        let token = try await t.newSession(timeout: 1_000)
        for _ in 0..<5 {
            clock.advance(ms: 900)
            #expect(try await t.get("user/1/session/check/\(token)").isOK)
        }
        clock.advance(ms: 1_000)
        #expect(try await t.get("user/1/session/check/\(token)").isOK)  // now ≤ last_check + timeout
        clock.advance(ms: 1_001)
        let expired = try await t.get("user/1/session/check/\(token)")
        #expect(expired.status == 403)
        #expect(expired.errorName == "UtilityError:InvalidSessionToken")
        #expect(try await t.get("user/1/session/all?master=secret").json == [])
    }

    @Test("a new master revokes every session at once", arguments: TableBackend.allCases)
    func newMasterRevokes(backend: TableBackend) async throws {
        let t = try await TableFixture.start(backend)
        defer { Task { await t.stop() } }
        let a = try await t.newSession()
        let b = try await t.newSession()
        #expect(try await t.admin(.PUT, "admin/user/1/master/other").isOK)
        for token in [a, b] { #expect(try await t.get("user/1/session/check/\(token)").status == 403) }
        #expect(try await t.get("user/1/session/all?master=secret").status == 401)
        #expect(try await t.get("user/1/session/all?master=other").json == [])
    }

    @Test("credentials: query master, HTTP Basic, query session token, Bearer", arguments: TableBackend.allCases)
    func credentialForms(backend: TableBackend) async throws {
        let t = try await TableFixture.start(backend)
        defer { Task { await t.stop() } }
        #expect(try await t.get("user/1/session/new?timeout=5000", headers: [HTTP.basic("1", "secret")]).status == 200)
        #expect(try await t.get("user/1/session/new?timeout=5000", headers: [HTTP.basic("1", "nope")]).status == 401)
        #expect(try await t.get("user/1/session/new?timeout=5000", headers: [HTTP.basic("2", "secret")]).status == 401)
        let token = try await t.newSession()
        #expect(try await t.get("user/1/table?session_token=\(token)").status == 200)
        #expect(try await t.get("user/1/table", headers: [HTTP.bearer(token)]).status == 200)
        #expect(try await t.get("user/1/table", headers: [HTTP.bearer(token + "x")]).status == 403)
        let none = try await t.get("user/1/table")
        #expect(none.status == 401)
        #expect(none.errorName == "TableError:MissingCredentials")
    }

    @Test("bad input gets the original's error names and fitting statuses", arguments: TableBackend.allCases, [
        ("user/0/session/new?master=secret&timeout=5000", 400, "SessionError:InvalidUserId"),
        ("user/abc/session/all?master=secret", 400, "SessionError:InvalidUserId"),
        ("user/-1/session/check/x", 400, "SessionError:InvalidUserId"),
        ("user/1.5/table?master=secret", 400, "TableError:InvalidUserId"),
        ("user/1/session/new?master=wrong&timeout=5000", 401, "UtilityError:UserNotFound"),
        ("user/7/session/new?master=secret&timeout=5000", 404, "UtilityError:UserNotFound"),
        ("user/1/session/check/session_1_2_3_4", 403, "UtilityError:InvalidSessionToken"),
        ("user/1/table/nochannel?master=secret", 404, "TableError:UnknownChannel"),
        ("user/1/table/check/store_1_2_3_x_y", 403, "UtilityError:InvalidStoreToken"),
        ("no/such/route", 404, "ServerError:UnknownRoute"),
    ])
    func errorNames(backend: TableBackend, example: (path: String, status: Int, name: String)) async throws {
        let (path, status, name) = example
        let t = try await TableFixture.start(backend)
        defer { Task { await t.stop() } }
        let answer = try await t.get(path)
        #expect(answer.status == status, "\(answer.text)")
        #expect(answer.errorName == name)
        #expect(answer.json?["error"]?["message"]?.stringValue?.isEmpty == false)
    }

    @Test("admin routes need admin:<table key>", arguments: TableBackend.allCases)
    func adminKey(backend: TableBackend) async throws {
        let t = try await TableFixture.start(backend)
        defer { Task { await t.stop() } }
        for headers in [[HTTP.basic("admin", "wrong-key-wrong-key")], [HTTP.basic("1", "secret")], []] {
            let answer = try await HTTP.request(.PUT, t.url + "admin/user/2/master/x", headers: headers)
            #expect(answer.status == 401)
            #expect(answer.errorName == "AdminError:InvalidKey")
        }
        #expect(try await t.get("user/2/session/all?master=x").status == 404)
    }
}
