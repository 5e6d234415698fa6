/// Forged, truncated, empty, expired, revoked and other-store tokens: store
/// tokens at a store, session tokens at the table. Each is refused with the
/// protocol's error, and no database changes.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Attacks: tokens")
struct TokenAttackTests {
    /// Variations of a valid token that must all fail its signature check.
    static func forgeries(of token: String) -> [(String, String)] {
        let parts = token.split(separator: "_", omittingEmptySubsequences: false).map(String.init)
        let signature = parts[parts.count - 1]
        let flipped = String(signature.dropLast()) + (signature.last == "0" ? "1" : "0")
        func replacing(_ index: Int, _ value: String) -> String {
            var copy = parts
            copy[index] = value
            return copy.joined(separator: "_")
        }
        return [
            ("signature changed", replacing(parts.count - 1, flipped)),
            ("signature truncated", String(token.dropLast(5))),
            ("signature cut off", String(token.dropLast(signature.count + 1))),
            ("cut into its fields", String(token.prefix(20))),
            ("longer timeout", replacing(3, String(Int64(parts[3])! * 10))),
            ("other creation time", replacing(2, String(Int64(parts[2])! + 1))),
            ("another user's id", replacing(1, "2")),
            ("signature in upper case", replacing(parts.count - 1, signature.uppercased())),
            ("signature of zeros", replacing(parts.count - 1, String(repeating: "0", count: signature.count))),
            ("twice as long", token + token),
            ("NUL inside", token.replacingOccurrences(of: "_", with: "\u{0}_")),
            ("garbage", "store_1_x_y_z_w"),
        ]
    }

    @Test("store tokens: forged, truncated, empty, expired, revoked, other-store and session tokens are refused on every token route; nothing changes")
    func storeTokens() async throws {
        try await withDeployment(stores: 2, configureStore: { $0.authFailures.maxFailures = 10_000 }) { d in
            let tally = AttackTally(.tokens, test: "store tokens")
            // Tokens that were good once: an expired session's and a revoked session's.
            let shortSession = try await Enrollment.session(tableURL: d.table.url, timeout: 4_000)
            let expired = try await Enrollment.storeToken(tableURL: d.table.url, session: shortSession, storeUserURL: d.storeUserURL)
            let (revokedSession, revoked) = try await d.user.newToken()
            #expect(try await HTTP.request(.DELETE, d.table.url + "user/1/session/\(revokedSession)").isOK)
            // Past the short session's 4 s (long enough to fetch its store token on a loaded machine).
            try await Task.sleep(for: .milliseconds(4_300))

            var refusedTokens = Self.forgeries(of: d.user.token).map { ($0.0, $0.1, 403) }
            refusedTokens += [
                ("expired session", expired, 403),
                ("revoked session", revoked, 403),
                ("another store's token", d.user.tokens[1], 403),
                ("a session token as store token", d.user.session, 403),
            ]
            let base = d.storeUserURL
            let routes: [(String, (String) async throws -> HTTPAnswer)] = [
                ("push", { try await HTTP.request(.POST, base + "oplog?type=counter&path=/a&store_token=\(HTTP.q($0))", json: payloadOp(nowMs(), "s1", 1)) }),
                ("batch", { try await HTTP.request(.POST, base + "oplog/batch?store_token=\(HTTP.q($0))",
                                                   json: ["ops": [["type": "counter", "path": "/a", "op": payloadOp(nowMs(), "s2", 1)]]]) }),
                ("oplog", { try await HTTP.get(base + "oplog?type=counter&path=/a&store_token=\(HTTP.q($0))") }),
                ("value", { try await HTTP.get(base + "value?type=counter&path=/a&store_token=\(HTTP.q($0))") }),
                ("long poll", { try await HTTP.get(base + "oplog/stream?store_token=\(HTTP.q($0))") }),
                ("SSE", { try await HTTP.get(base + "oplog/stream?store_token=\(HTTP.q($0))", headers: [("Accept", "text/event-stream")]) }),
            ]
            try await d.expectUnchanged(tally, "refused store tokens", strictSessions: true) {
                for (what, token, status) in refusedTokens {
                    for (route, call) in routes {
                        tally.expectError(try await call(token), status: status, "\(what) on \(route)")
                    }
                    // In a Bearer header too; one that does not start with store_ is no store token at all (401).
                    guard !token.contains("\u{0}") else { continue }  // no client sends a NUL in a header
                    tally.expectError(try await HTTP.get(base + "oplog?type=counter&path=/a", headers: [HTTP.bearer(token)]),
                                      status: token.hasPrefix("store_") ? status : 401, "\(what) as Bearer")
                }
                // Empty tokens: the query parameter, the header, and nothing at all.
                for (route, call) in routes {
                    tally.expectError(try await call(""), status: 401, name: "UserError:MissingStoreToken", "empty token on \(route)")
                }
                tally.expectError(try await HTTP.get(base + "oplog?type=counter&path=/a", headers: [("Authorization", "Bearer ")]),
                                  status: 401, name: "UserError:MissingStoreToken", "empty Bearer header")
                tally.expectError(try await HTTP.get(base + "oplog?type=counter&path=/a"),
                                  status: 401, name: "UserError:MissingStoreToken", "no token")
            }
            // The good token still works: the refusals cached nothing.
            #expect(try await d.user.client().oplog("counter", "/a").status == 200)
            tally.save()
        }
    }

    @Test("session tokens at the table: forged, truncated, empty, expired, revoked and another user's are refused; nothing changes")
    func sessionTokens() async throws {
        try await withDeployment(configureStore: { $0.authFailures.maxFailures = 10_000 }) { d in
            let tally = AttackTally(.tokens, test: "session tokens")
            let table = d.table.url
            try await Enrollment.createUser(tableURL: table, user: 2, master: "two")
            let otherUsers = try await Enrollment.session(tableURL: table, user: 2, master: "two")
            let expired = try await Enrollment.session(tableURL: table, timeout: 4_000)
            let revoked = try await Enrollment.session(tableURL: table)
            #expect(try await HTTP.request(.DELETE, table + "user/1/session/\(revoked)").isOK)
            // Past the short session's 4 s (long enough to fetch its store token on a loaded machine).
            try await Task.sleep(for: .milliseconds(4_300))

            var tokens = Self.forgeries(of: d.user.session)
            tokens += [("expired session", expired), ("revoked session", revoked), ("user 2's session", otherUsers),
                       ("a store token as session token", d.user.token)]
            try await d.expectUnchanged(tally, "refused session tokens", strictSessions: true) {
                for (what, token) in tokens {
                    let q = HTTP.q(token)
                    tally.expectError(try await HTTP.get(table + "user/1/table?session_token=\(q)"), statuses: [401, 403], "\(what): table")
                    tally.expectError(try await HTTP.get(table + "user/1/table/main?session_token=\(q)"), statuses: [401, 403],
                                      "\(what): channel")
                    if !token.contains("\u{0}") {  // no client sends a NUL in a header
                        tally.expectError(try await HTTP.get(table + "user/1/table", headers: [HTTP.bearer(token)]), statuses: [401, 403],
                                          "\(what): table, as Bearer")
                    }
                    tally.expectError(try await HTTP.get(table + "user/1/session/check/\(q)"), status: 403,
                                      name: "UtilityError:InvalidSessionToken", "\(what): check")
                    // Revoking a session that is already dead is idempotent: 200, and nothing to delete.
                    let revoke = try await HTTP.request(.DELETE, table + "user/1/session/\(q)")
                    if what == "expired session" || what == "revoked session" {
                        let ok = revoke.isOK || AttackTally.isProtocolError(revoke, statuses: [403], name: "UtilityError:InvalidSessionToken")
                        #expect(ok, "\(what): revoke: \(revoke.status) \(revoke.text)")
                        tally.record(refused: ok)
                    } else {
                        tally.expectError(revoke, status: 403, name: "UtilityError:InvalidSessionToken", "\(what): revoke")
                    }
                    // (A valid store token at its own check route is no attack: it is what stores send.)
                    if what != "a store token as session token" {
                        tally.expectError(try await HTTP.get(table + "user/1/table/check/\(q)"), status: 403,
                                          name: "UtilityError:InvalidStoreToken", "\(what): store-token check")
                    }
                }
                tally.expectError(try await HTTP.get(table + "user/1/table?session_token="), statuses: [401, 403], "empty session token")
                tally.expectError(try await HTTP.get(table + "user/1/table", headers: [("Authorization", "Bearer ")]), status: 401,
                                  name: "TableError:MissingCredentials", "empty Bearer header")
                tally.expectError(try await HTTP.get(table + "user/1/session/check/%20"), status: 403, "blank token in the path")
            }
            // The real session still works, and the revoked one stays revoked.
            #expect(try await HTTP.get(table + "user/1/session/check/\(d.user.session)").isOK)
            tally.save()
        }
    }
}
