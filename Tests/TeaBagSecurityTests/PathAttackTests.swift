/// `..`, `%2e%2e`, NUL, backslashes and control characters in `path` and
/// `type` — in the store's query strings, in the agent's URL paths, in
/// batch items and in the table's channel names: each refused, nothing
/// stored and nothing fetched.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Attacks: paths and types")
struct PathAttackTests {
    /// Query values of `path` (already percent-encoded where they must be).
    static let badPaths = [
        "..", "/..", "/../x", "/a/../../x", "/a/b/../../../etc/passwd", "%2e%2e", "/%2e%2e/x", "%2E%2E%2Fx", "/a/%2e%2e/%2e%2e/x",
        "%00", "/a%00b", "/a/%00/..", "%5C..%5Cx", "/a%5Cb", "..%5C..%5Cwindows", "/a%0D%0Ab", "/a%0Ab", "/a%09b", "/a%7Fb", "",
    ]
    /// Query values of `type`.
    static let badTypes = [
        "..", "%2e%2e", "../counter", "counter%2F..", "a%00", "counter%00", "a%5Cb", "%5C", "coun%20ter", "counter%0D%0A", "",
        String(repeating: "a", count: 65), "%C3%A9t%C3%A9",
    ]

    @Test("the store refuses bad paths (UserError:InvalidPath) and types (UserError:InvalidType) on push, batch, oplog and value")
    func store() async throws {
        try await withDeployment { d in
            let tally = AttackTally(.paths, test: "store paths and types")
            let c = d.user.client()
            let base = d.storeUserURL, token = d.user.token
            try await d.expectUnchanged(tally, "bad paths and types at the store") {
                for path in Self.badPaths {
                    let query = "type=counter&path=\(path)&store_token=\(token)"
                    tally.expectError(try await HTTP.request(.POST, base + "oplog?" + query, json: payloadOp(nowMs(), "p", 1)),
                                      status: 400, name: "UserError:InvalidPath", "push path \(path)")
                    tally.expectError(try await HTTP.get(base + "oplog?" + query), status: 400, name: "UserError:InvalidPath", "oplog path \(path)")
                    tally.expectError(try await HTTP.get(base + "value?" + query), status: 400, name: "UserError:InvalidPath", "value path \(path)")
                }
                for type in Self.badTypes {
                    let query = "type=\(type)&path=/a&store_token=\(token)"
                    tally.expectError(try await HTTP.request(.POST, base + "oplog?" + query, json: payloadOp(nowMs(), "t", 1)),
                                      status: 400, name: "UserError:InvalidType", "push type \(type)")
                    tally.expectError(try await HTTP.get(base + "oplog?" + query), status: 400, name: "UserError:InvalidType", "oplog type \(type)")
                }
                // In a batch, each bad item is refused alone (200 with one error per item) and nothing of the batch is stored.
                let items: [JSON] = Self.badPaths.compactMap { $0.removingPercentEncoding }.map {
                    ["type": "counter", "path": .string($0), "op": payloadOp(nowMs(), "b", 1)]
                } + Self.badTypes.compactMap { $0.removingPercentEncoding }.map {
                    ["type": .string($0), "path": "/a", "op": payloadOp(nowMs(), "b", 1)]
                }
                let batch = try await c.batch(items)
                #expect(batch.status == 200, "\(batch.text)")
                let results = batch.json?["results"]?.arrayValue ?? []
                #expect(results.count == items.count)
                for (item, result) in zip(items, results) {
                    let name = result["error"]?["name"]?.stringValue
                    let ok = name == "UserError:InvalidPath" || name == "UserError:InvalidType"
                    #expect(ok, "batch item \(item): \(result)")
                    tally.record(refused: ok)
                }
            }
            tally.save()
        }
    }

    @Test("the agent refuses bad paths and types in its URLs (400) and unknown channels (404); nothing is fetched or written")
    func agent() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.paths, test: "agent paths and types")
            let port = d.agent!.port
            let payload = Array("1".utf8)
            func request(_ method: String, _ target: String) -> [UInt8] {
                requestHead(method, target, headers: [("Content-Type", "application/json"), ("Content-Length", method == "POST" ? "1" : "0"),
                                                     ("Connection", "close")]) + (method == "POST" ? payload : [])
            }
            // Sent raw, so that no client library resolves the dots first.
            let paths = ["..", "../..", "../../etc/passwd", "a/../../x", "%2e%2e", "%2e%2e/%2e%2e/x", "%2E%2E%2Fx", "a/%2e%2e/%2e%2e",
                         "%00", "a%00b", "%5C..%5Cx", "a%5Cb", "..%5C..%5Cwindows", "a%0D%0Ab", "a%0Ab", "a%7Fb"]
            let types = ["%2e%2e", "a%00", "a%5Cb", "%5C", "coun%20ter", "counter%0D%0A", String(repeating: "a", count: 65)]
            try await d.expectUnchanged(tally, "bad paths and types at the agent") {
                for path in paths {
                    for method in ["GET", "POST"] {
                        let route = method == "GET" ? "value" : "push"
                        tally.expectError(try await rawExchange(port: port, request(method, "/v1/\(route)/main/counter/\(path)")),
                                          status: 400, name: "UserError:InvalidPath", "\(route) path \(path)")
                    }
                }
                for type in types {
                    for method in ["GET", "POST"] {
                        let route = method == "GET" ? "value" : "push"
                        tally.expectError(try await rawExchange(port: port, request(method, "/v1/\(route)/main/\(type)/a")),
                                          status: 400, name: "UserError:InvalidType", "\(route) type \(type)")
                    }
                }
                for channel in ["..", "%2e%2e", "%00", "a%5Cb"] {
                    tally.expectError(try await rawExchange(port: port, request("GET", "/v1/value/\(channel)/counter/a")),
                                      status: 404, name: "TableError:UnknownChannel", "value channel \(channel)")
                }
                // Dots that climb out of /v1 are not resolved: they reach no route, or land in a
                // parameter and are refused there.
                for target in ["/v1/value/../../v1/status", "/../v1/value/main/counter/a", "/v1/%2e%2e/v1/status", "/v1/push/../../healthz"] {
                    tally.expectError(try await rawExchange(port: port, request(target.hasPrefix("/v1/push") ? "POST" : "GET", target)),
                                      statuses: [400, 404], target)
                }
            }
            tally.save()
        }
    }

    @Test("the table refuses channel names with NUL, CR, LF or a slash (TableError:InvalidChannel) and never enrolls them")
    func tableChannels() async throws {
        try await withDeployment { d in
            let tally = AttackTally(.paths, test: "table channel names")
            try await d.expectUnchanged(tally, "bad channel names at the table") {
                for channel in ["%00", "a%00b", "a%0D%0Adata:%20x", "%0A", "a%2Fb", "%7F", "%2e%2e", "%2E", String(repeating: "c", count: 129)] {
                    let code = try await Enrollment.code(storeURL: d.store.url)
                    let answer = try await Enrollment.post(tableURL: d.table.url, storeUserURL: d.storeUserURL, code: code, channel: channel)
                    tally.expectError(answer, status: 400, name: "TableError:InvalidChannel", "enroll channel \(channel)")
                    tally.expectError(try await HTTP.get(d.table.url + "user/1/table/\(channel)?master=secret"), status: 400,
                                      name: "TableError:InvalidChannel", "read channel \(channel)")
                }
                // Not UTF-8: Hummingbird's router matches no route (404) before the name is looked at.
                for channel in ["%FF", "a%C0%AFb"] {
                    let code = try await Enrollment.code(storeURL: d.store.url)
                    let answer = try await Enrollment.post(tableURL: d.table.url, storeUserURL: d.storeUserURL, code: code, channel: channel)
                    tally.expectError(answer, statuses: [400, 404], "enroll channel \(channel)")
                }
            }
            tally.save()
        }
    }
}
