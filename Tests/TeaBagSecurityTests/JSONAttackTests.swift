/// JSON nested 100, 1,000 and 100,000 deep, and invalid UTF-8 in bodies,
/// query strings, URLs and headers: each 400 (or 401/403 where the bytes
/// were a credential), and nothing stored.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Attacks: JSON nesting and invalid UTF-8")
struct JSONAttackTests {
    /// `[[[…1…]]]` `depth` deep.
    static func nestedArrays(_ depth: Int) -> String { String(repeating: "[", count: depth) + "1" + String(repeating: "]", count: depth) }
    /// `{"a":{"a":…1…}}` `depth` deep.
    static func nestedObjects(_ depth: Int) -> String { String(repeating: "{\"a\":", count: depth) + "1" + String(repeating: "}", count: depth) }

    /// A body for `target` carrying `json` where the route reads a value.
    static func body(for target: BodyAttackTests.Target, embedding json: String) -> String {
        switch target.name {
        case "store push": "{\"date\":\(nowMs()),\"sha\":\"deep\",\"payload\":\(json)}"
        case "store batch": "{\"ops\":[{\"type\":\"counter\",\"path\":\"/deep\",\"op\":{\"date\":\(nowMs()),\"sha\":\"deep\",\"payload\":\(json)}}]}"
        case "table enrollment": "{\"store_url\":\(json),\"code\":\"c\"}"
        default: json
        }
    }

    static func post(_ target: BodyAttackTests.Target, _ body: [UInt8]) async throws -> RawResponse? {
        try await rawExchange(port: target.port, requestHead("POST", target.path, headers: [
            ("Content-Type", "application/json"), ("Content-Length", String(body.count)), ("Connection", "close")]) + body)
    }

    @Test("JSON nested 100, 1,000 and 100,000 deep (arrays, objects, unclosed) is 400 <Kind>:TooDeep on every JSON route")
    func deepNesting() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.nesting, test: "deep nesting")
            try await d.expectUnchanged(tally, "deep JSON") {
                for target in BodyAttackTests.targets(d) {
                    for depth in [100, 1_000, 100_000] {
                        let shapes = [("arrays", Self.nestedArrays(depth)), ("objects", Self.nestedObjects(depth)),
                                      ("unclosed", String(repeating: "[", count: depth))]
                        for (shape, json) in shapes {
                            let answer = try await Self.post(target, Array(Self.body(for: target, embedding: json).utf8))
                            tally.expectError(answer, status: 400, name: "\(target.kind):TooDeep", "\(target.name): \(shape) \(depth) deep")
                        }
                        // The whole body nested, not only a value in it.
                        let whole = try await Self.post(target, Array(Self.nestedArrays(depth).utf8))
                        tally.expectError(whole, status: 400, name: "\(target.kind):TooDeep", "\(target.name): whole body \(depth) deep")
                    }
                }
            }
            tally.save()
        }
    }

    /// Byte sequences that are not UTF-8, each inside a JSON string.
    static let invalidSequences: [(String, [UInt8])] = [
        ("0xFF", [0xFF]),
        ("overlong /", [0xC0, 0xAF]),
        ("surrogate half", [0xED, 0xA0, 0x80]),
        ("truncated sequence", [0xE2, 0x82]),
        ("five-byte form", [0xF8, 0x88, 0x80, 0x80, 0x80]),
        ("beyond U+10FFFF", [0xF4, 0x90, 0x80, 0x80]),
        ("lone continuation byte", [0x80]),
    ]

    @Test("invalid UTF-8 in a JSON body (and lone surrogate escapes) is 400 <Kind>:InvalidJSON on every JSON route")
    func invalidUTF8Bodies() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.utf8, test: "invalid utf-8 bodies")
            try await d.expectUnchanged(tally, "invalid UTF-8 bodies") {
                for target in BodyAttackTests.targets(d) {
                    for (what, bytes) in Self.invalidSequences {
                        let string = Array("\"x".utf8) + bytes + Array("y\"".utf8)
                        let text = Self.body(for: target, embedding: "@@")
                        let parts = text.components(separatedBy: "@@")
                        let body = Array(parts[0].utf8) + string + Array(parts[1].utf8)
                        tally.expectError(try await Self.post(target, body), status: 400, name: "\(target.kind):InvalidJSON", "\(target.name): \(what)")
                    }
                    for escape in ["\"\\ud800\"", "\"\\udc00x\"", "\"\\ud800\\u0041\""] {
                        let answer = try await Self.post(target, Array(Self.body(for: target, embedding: escape).utf8))
                        tally.expectError(answer, status: 400, name: "\(target.kind):InvalidJSON", "\(target.name): lone surrogate escape \(escape)")
                    }
                }
            }
            tally.save()
        }
    }

    @Test("invalid UTF-8 in the query, the URL path and headers is refused with 400 (401/403 for a credential), never stored or fetched")
    func invalidUTF8Elsewhere() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.utf8, test: "invalid utf-8 in urls and headers")
            let token = d.user.token
            let op = Array(payloadOp(nowMs(), "utf8", 1).canonicalString.utf8)
            func push(_ query: String) -> [UInt8] {
                requestHead("POST", "/user/1/oplog?\(query)&store_token=\(token)",
                            headers: [("Content-Type", "application/json"), ("Content-Length", String(op.count)), ("Connection", "close")]) + op
            }
            try await d.expectUnchanged(tally, "invalid UTF-8 in URLs and headers") {
                // Percent-encoded bytes that decode to no UTF-8.
                for encoded in ["%FF", "%C0%AF", "%ED%A0%80", "%E2%82", "a%FFb", "%2F%FF"] {
                    tally.expectError(try await rawExchange(port: d.storePort, push("type=counter&path=/\(encoded)")),
                                      status: 400, name: "UserError:InvalidPath", "store push, path \(encoded)")
                    tally.expectError(try await rawExchange(port: d.storePort, push("type=c\(encoded)&path=/a")),
                                      status: 400, name: "UserError:InvalidType", "store push, type \(encoded)")
                    tally.expectError(try await HTTP.get(d.storeUserURL + "oplog?type=counter&path=/\(encoded)&store_token=\(token)"),
                                      status: 400, name: "UserError:InvalidPath", "store oplog, path \(encoded)")
                    // Hummingbird's router matches no route for a path that does not decode (404); were one
                    // matched, the agent refuses the parameter (400).
                    tally.expectError(try await HTTP.get(d.agent!.url + "v1/value/main/counter/\(encoded)"),
                                      statuses: [400, 404], "agent value, path \(encoded)")
                    tally.expectError(try await HTTP.get(d.agent!.url + "v1/value/main/c\(encoded)/a"),
                                      statuses: [400, 404], "agent value, type \(encoded)")
                    tally.expectError(try await HTTP.get(d.table.url + "user/1/table/\(encoded)?master=secret"),
                                      statuses: [400, 404], "table channel \(encoded)")
                }
                // Raw bytes (not percent-encoded) in the request target.
                for raw in [[0xFF], [0xC0, 0xAF], [0xED, 0xA0, 0x80]] as [[UInt8]] {
                    let target = Array("/user/1/oplog?type=counter&path=/".utf8) + raw + Array("&store_token=\(token)".utf8)
                    let request = Array("POST ".utf8) + target + Array(" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(op.count)\r\nConnection: close\r\n\r\n".utf8) + op
                    tally.expectError(try await rawExchange(port: d.storePort, request), status: 400, "store push, raw bytes \(raw) in the URL")
                }
                // In a credential header.
                let header = Array("GET /user/1/oplog?type=counter&path=/a HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer store_1_".utf8)
                    + [0xFF, 0xFE] + Array("\r\nConnection: close\r\n\r\n".utf8)
                tally.expectError(try await rawExchange(port: d.storePort, header), statuses: [400, 401, 403], "store, invalid UTF-8 in Authorization")
            }
            tally.save()
        }
    }
}
