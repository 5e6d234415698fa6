/// Wrong admin keys at the table and the store, and the limit on repeated
/// credential failures: past `auth_failures` 401s in a window, an address
/// gets 429 with `Retry-After` until the window ends.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Attacks: admin keys and repeated failures")
struct AdminKeyAttackTests {
    /// Authorization headers that are not `admin:<key>`.
    static func wrongCredentials(key: String, otherKey: String) -> [(String, [(String, String)])] {
        [
            ("no credentials", []),
            ("wrong key", [HTTP.basic("admin", "not-the-key-0123456789")]),
            ("empty key", [HTTP.basic("admin", "")]),
            ("the other server's key", [HTTP.basic("admin", otherKey)]),
            ("key with a suffix", [HTTP.basic("admin", key + "x")]),
            ("key truncated", [HTTP.basic("admin", String(key.dropLast()))]),
            ("key in upper case", [HTTP.basic("admin", key.uppercased())]),
            ("another user name", [HTTP.basic("root", key)]),
            ("user name in upper case", [HTTP.basic("ADMIN", key)]),
            ("no colon", [("Authorization", "Basic " + Data("admin\(key)".utf8).base64EncodedString())]),
            ("not base64", [("Authorization", "Basic %%%not-base64%%%")]),
            ("key as Bearer", [HTTP.bearer(key)]),
            ("raw key", [("Authorization", key)]),
            ("invalid UTF-8 in Basic", [("Authorization", "Basic " + Data([0x61, 0x64, 0x6D, 0x69, 0x6E, 0x3A, 0xFF, 0xFE]).base64EncodedString())]),
        ]
    }

    @Test("wrong admin keys are 401 AdminError:InvalidKey on every admin route; no user is created and no master changes")
    func wrongAdminKeys() async throws {
        try await withDeployment(configureStore: {
            $0.authFailures.maxFailures = 10_000
        }, configureTable: {
            $0.authFailures.maxFailures = 10_000
        }) { d in
            let tally = AttackTally(.adminKeys, test: "wrong admin keys")
            try await d.expectUnchanged(tally, "wrong admin keys") {
                for (what, headers) in Self.wrongCredentials(key: testTableKey, otherKey: testStoreKey) {
                    tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/hijacked", headers: headers),
                                      status: 401, name: "AdminError:InvalidKey", "table, \(what)")
                    tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/7/master/new", headers: headers),
                                      status: 401, name: "AdminError:InvalidKey", "table new user, \(what)")
                    // The key in the query string is no credential either.
                    tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/7/master/new?key=\(testTableKey)", headers: headers),
                                      status: 401, name: "AdminError:InvalidKey", "table, key in the query, \(what)")
                }
                for (what, headers) in Self.wrongCredentials(key: testStoreKey, otherKey: testTableKey) {
                    tally.expectError(try await HTTP.request(.PUT, d.store.url + "admin/user/7", headers: headers),
                                      status: 401, name: "AdminError:InvalidKey", "store, \(what)")
                    tally.expectError(try await HTTP.get(d.store.url + "admin/user/1/code", headers: headers),
                                      status: 401, name: "AdminError:InvalidKey", "store code, \(what)")
                }
            }
            // The master is still "secret".
            #expect(try await HTTP.get(d.table.url + "user/1/session/all?master=secret").status == 200)
            tally.save()
        }
    }

    @Test("after auth_failures 401s an address gets 429 ServerError:TooManyFailures with Retry-After until the window ends; 403s do not count")
    func repeatedFailures() async throws {
        try await withDeployment(configureStore: {
            $0.authFailures = .init(maxFailures: 5, windowMs: 60_000)
        }, configureTable: {
            $0.authFailures = .init(maxFailures: 5, windowMs: 60_000)
        }) { d in
            let tally = AttackTally(.adminKeys, test: "repeated failures")
            let wrong = [HTTP.basic("admin", "guess-0123456789abcdef")]
            try await d.expectUnchanged(tally, "repeated failures") {
                // 403s (refused tokens) are not guesses: they never lead to 429.
                for index in 0..<8 {
                    tally.expectError(try await HTTP.get(d.table.url + "user/1/session/check/session_1_1_1_\(index)"), status: 403, "forged session \(index)")
                }
                for index in 0..<5 {
                    tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/g\(index)", headers: wrong),
                                      status: 401, name: "AdminError:InvalidKey", "table guess \(index)")
                }
                let limited = try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/g5", headers: wrong)
                tally.expectError(limited, status: 429, name: "ServerError:TooManyFailures", "table, 6th guess")
                let retryAfter = limited.headers.first(name: "Retry-After").flatMap(Int.init)
                #expect(retryAfter.map { (1...60).contains($0) } == true, "Retry-After: \(String(describing: retryAfter))")
                // Even the right key waits from the guessing address: the secret being guessed is what is limited.
                tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/secret", headers: [HTTP.basic("admin", testTableKey)]),
                                  status: 429, name: "ServerError:TooManyFailures", "table, right key while limited")
                // The store keeps its own count.
                for index in 0..<5 {
                    tally.expectError(try await HTTP.request(.PUT, d.store.url + "admin/user/9", headers: wrong),
                                      status: 401, name: "AdminError:InvalidKey", "store guess \(index)")
                }
                tally.expectError(try await HTTP.request(.PUT, d.store.url + "admin/user/9", headers: wrong),
                                  status: 429, name: "ServerError:TooManyFailures", "store, 6th guess")
                tally.expectError(try await HTTP.get(d.store.url + "admin/user/1/code", headers: [HTTP.basic("admin", testStoreKey)]),
                                  status: 429, name: "ServerError:TooManyFailures", "store, right key while limited")
            }
            // Health and metrics stay open to the limited address.
            #expect(try await HTTP.get(d.table.url + "healthz").isOK)
            #expect(try await HTTP.get(d.store.url + "metrics").status == 200)
            tally.save()
        }
    }

    @Test("the limit is per secret and address: valid tokens, other users' masters and other addresses pass while a secret is limited")
    func limitLocksOutOnlyTheGuessedSecret() async throws {
        try await withDeployment(configureStore: {
            $0.authFailures = .init(maxFailures: 3, windowMs: 60_000)
        }, configureTable: {
            $0.authFailures = .init(maxFailures: 3, windowMs: 60_000)
        }) { d in
            let tally = AttackTally(.adminKeys, test: "limit per secret")
            #expect(try await HTTP.request(.PUT, d.table.url + "admin/user/2/master/second", headers: [HTTP.basic("admin", testTableKey)]).status == 200)
            let token = d.user.session
            try await d.expectUnchanged(tally, "limit per secret") {
                // One client behind the shared address guesses the admin key until limited …
                let wrong = [HTTP.basic("admin", "guess-0123456789abcdef")]
                for index in 0..<3 {
                    tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/g\(index)", headers: wrong),
                                      status: 401, name: "AdminError:InvalidKey", "admin guess \(index)")
                }
                tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/g3", headers: wrong),
                                  status: 429, name: "ServerError:TooManyFailures", "4th admin guess")
                // … and then guesses user 1's master until that is limited too.
                for guess in ["1234", "password", "Secret"] {
                    tally.expectError(try await HTTP.get(d.table.url + "user/1/session/all?master=\(guess)"),
                                      status: 401, name: "UtilityError:UserNotFound", "master \(guess)")
                }
                tally.expectError(try await HTTP.get(d.table.url + "user/1/session/all?master=guess4"),
                                  status: 429, name: "ServerError:TooManyFailures", "4th master guess")
                tally.expectError(try await HTTP.get(d.table.url + "user/1/session/all", headers: [HTTP.basic("1", "guess5")]),
                                  status: 429, name: "ServerError:TooManyFailures", "master guess by HTTP Basic")
            }
            // Everyone else at that address is served: a valid session token of the guessed user …
            #expect(try await HTTP.get(d.table.url + "user/1/table?session_token=\(token)").status == 200)
            #expect(try await HTTP.get(d.table.url + "user/1/table", headers: [HTTP.bearer(token)]).status == 200)
            // … another user's master, a store token at the store, and a request with no credentials at all.
            #expect(try await HTTP.get(d.table.url + "user/2/session/all?master=second").status == 200)
            #expect(try await HTTP.get(d.table.url + "user/2/session/all", headers: [HTTP.basic("2", "second")]).status == 200)
            #expect(try await HTTP.get(d.store.url + "user/1/oplog?type=note&path=/a&store_token=\(d.user.token)").status == 200)
            #expect(try await HTTP.get(d.table.url + "healthz").isOK)
            // The same master from another client behind a proxy is its own count.
            #expect(try await HTTP.get(d.table.url + "user/1/session/all?master=secret", headers: [("X-Forwarded-For", "203.0.113.10")]).status == 200)
            // Wrong store tokens are 403s, never counted: the store still serves the valid one after many.
            for index in 0..<6 {
                #expect(try await HTTP.get(d.store.url + "user/1/oplog?type=note&path=/a&store_token=store_1_1_1_x_\(index)").status != 200)
            }
            #expect(try await HTTP.get(d.store.url + "user/1/oplog?type=note&path=/a&store_token=\(d.user.token)").status == 200)
            tally.save()
        }
    }

    @Test("behind a proxy on loopback the limit is per X-Forwarded-For client: one client's guesses do not lock out another")
    func behindAProxy() async throws {
        try await withDeployment(configureTable: { $0.authFailures = .init(maxFailures: 3, windowMs: 60_000) }) { d in
            let tally = AttackTally(.adminKeys, test: "guesses behind a proxy")
            let wrong = HTTP.basic("admin", "guess-0123456789abcdef")
            let attacker = ("X-Forwarded-For", "198.51.100.7, 203.0.113.9")  // the proxy appended the last one
            try await d.expectUnchanged(tally, "guesses behind a proxy") {
                for index in 0..<3 {
                    tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/g\(index)", headers: [wrong, attacker]),
                                      status: 401, name: "AdminError:InvalidKey", "proxied guess \(index)")
                }
                tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/g3", headers: [wrong, attacker]),
                                  status: 429, name: "ServerError:TooManyFailures", "proxied 4th guess")
                // The attacker cannot escape by forging an earlier entry: the proxy's is the last.
                tally.expectError(try await HTTP.request(.PUT, d.table.url + "admin/user/1/master/g4",
                                                         headers: [wrong, ("X-Forwarded-For", "192.0.2.1, 203.0.113.9")]),
                                  status: 429, name: "ServerError:TooManyFailures", "forged first entry")
            }
            // Another client behind the same proxy, and the proxy's own address, are not limited.
            #expect(try await HTTP.get(d.table.url + "user/1/session/all?master=secret", headers: [("X-Forwarded-For", "203.0.113.10")]).status == 200)
            #expect(try await HTTP.get(d.table.url + "user/1/session/all?master=secret").status == 200)
            tally.save()
        }
    }

    @Test("guessing masters is limited too, and the window ends: the right master works again after it")
    func masterGuessesAndWindowEnd() async throws {
        let clock = ManualClock(WallClock.milliseconds())
        try await withEnrolledUser(tableClock: clock.read, configureTable: {
            $0.authFailures = .init(maxFailures: 3, windowMs: 30_000)
        }) { user in
            let d = Deployment(user: user, agent: nil)
            let tally = AttackTally(.adminKeys, test: "master guesses")
            try await d.expectUnchanged(tally, "master guesses") {
                for guess in ["1234", "password", "Secret"] {
                    tally.expectError(try await HTTP.get(d.table.url + "user/1/session/new?master=\(guess)&timeout=60000"),
                                      status: 401, name: "UtilityError:UserNotFound", "master \(guess)")
                }
                tally.expectError(try await HTTP.get(d.table.url + "user/1/session/all?master=secret"),
                                  status: 429, name: "ServerError:TooManyFailures", "the right master while limited")
            }
            clock.advance(ms: 30_001)
            #expect(try await HTTP.get(d.table.url + "user/1/session/all?master=secret").status == 200)
            tally.save()
        }
    }
}
