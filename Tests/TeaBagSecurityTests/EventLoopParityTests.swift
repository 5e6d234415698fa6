import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// The store answers `POST …/oplog`, `…/oplog/batch` and the SSE stream on
/// the event loop when it can (`StoreFastRoutes`), and through the router
/// otherwise. A request with a `Connection` header always takes the router,
/// so the same requests, sent with and without one, must get the same bytes.
@Suite("Store: event-loop routes answer as the router does")
struct EventLoopParityTests {
    /// One exchange on a fresh connection; `viaRouter` adds a `Connection` header.
    static func exchange(_ port: Int, _ method: String, _ target: String, body: [UInt8]?, token: String, viaRouter: Bool,
                         contentType: String = "application/json") async throws -> RawResponse {
        var headers: [(String, String)] = [("Host", "127.0.0.1"), ("Authorization", "Bearer \(token)")]
        if viaRouter { headers.append(("Connection", "keep-alive")) }
        if let body {
            headers.append(("Content-Type", contentType))
            headers.append(("Content-Length", String(body.count)))
        }
        let request = requestHead(method, target, headers: headers) + (body ?? [])
        return try #require(try await rawExchange(port: port, request))
    }

    static func same(_ a: RawResponse, _ b: RawResponse, _ what: String) {
        #expect(a.status == b.status, "\(what): \(a) vs \(b)")
        #expect(a.text == b.text, "\(what)")
        let names = ["content-type", "content-length", "server", "retry-after", "transfer-encoding", "connection"]
        for name in names { #expect(a.header(name) == b.header(name), "\(what): header \(name)") }
    }

    @Test("pushes, noops, batches and refusals: the same status, headers and body either way")
    func sameAnswers() async throws {
        try await withEnrolledUser { u in
            let port = try #require(URL(string: u.store.url)?.port)
            let token = u.token
            // The first request of a token goes to the router (it asks the table); later ones may not.
            #expect(try await u.client().push("note", "/warm", payloadOp(1, "warm", 1)).status == 200)

            let cases: [(String, String, (String) -> [UInt8]?)] = [
                ("POST", "oplog?type=note&path=/P", { Array(payloadOp(5, "s-\($0)", ["x": 1]).canonicalString.utf8) }),
                ("POST", "oplog?type=note&path=/P", { Array(payloadOp(5, "s-\($0)", ["x": 1]).canonicalString.utf8) }),  // noop
                ("POST", "oplog?type=note&path=/P", { _ in Array(#"{"date":1,"sha":"x"}"#.utf8) }),  // refused
                ("POST", "oplog?type=counter&path=/C", { _ in Array(payloadOp(5, "bad", "text").canonicalString.utf8) }),
                ("POST", "oplog?type=note&path=/P", { _ in Array("{not json".utf8) }),
                ("POST", "oplog?type=bad%20type&path=/P", { _ in Array(payloadOp(5, "t", 1).canonicalString.utf8) }),
                ("POST", "oplog/batch", { suffix in Array(JSON.object(["ops": [
                    ["type": "note", "path": "/B", "op": payloadOp(7, "b1-\(suffix)", 1)],
                    ["type": "note", "path": "/B", "op": payloadOp(7, "b1-\(suffix)", 1)],
                    ["type": "counter", "path": "/B", "op": payloadOp(7, "b2", "nan")],
                    ["type": "no type!", "path": "/B", "op": payloadOp(7, "b3", 1)],
                ]]).canonicalString.utf8) }),
                ("POST", "oplog/batch", { _ in Array(#"{"nope":1}"#.utf8) }),
            ]
            for (index, (method, route, body)) in cases.enumerated() {
                // Paths differ per side only through the op shas, which the answers do not show.
                let fast = try await Self.exchange(port, method, "/user/1/\(route)", body: body("f"), token: token, viaRouter: false)
                let routed = try await Self.exchange(port, method, "/user/1/\(route)", body: body("r"), token: token, viaRouter: true)
                Self.same(fast, routed, "case \(index): \(method) \(route)")
            }
            // A wrong content type and a token the store does not know: the router's refusals either way.
            let typed = try await Self.exchange(port, "POST", "/user/1/oplog?type=note&path=/T", body: [0x31], token: token, viaRouter: false,
                                                contentType: "text/plain")
            #expect(typed.status == 415)
            let stranger = try await Self.exchange(port, "POST", "/user/1/oplog?type=note&path=/T",
                                                   body: Array(payloadOp(5, "t", 1).canonicalString.utf8), token: "store_nope", viaRouter: false)
            #expect(stranger.status == 403)
            // What the two sides pushed is held once each, in order.
            let held = try await u.client().ops("note", "/P")
            #expect(shas(held) == [Op.emptySHA, "s-f", "s-r"])
        }
    }
}

@Suite("Table: event-loop token checks answer as the router does")
struct TableCheckParityTests {
    static func check(_ port: Int, _ target: String, viaRouter: Bool) async throws -> RawResponse {
        var headers: [(String, String)] = [("Host", "127.0.0.1")]
        if viaRouter { headers.append(("Connection", "keep-alive")) }
        return try #require(try await rawExchange(port: port, requestHead("GET", target, headers: headers)))
    }

    @Test("table/check and session/check: a live token, then a revoked one, the same bytes either way")
    func sameAnswers() async throws {
        try await withEnrolledUser { u in
            let port = try #require(URL(string: u.table.url)?.port)
            let (session, token) = try await u.newToken()
            let targets = ["/user/1/table/check/\(token)", "/user/1/session/check/\(session)"]
            for target in targets {
                // The first check verifies the token (router); later ones may be answered from memory.
                let first = try await Self.check(port, target, viaRouter: true)
                #expect(first.status == 200, "\(first)")
                let fast = try await Self.check(port, target, viaRouter: false)
                let routed = try await Self.check(port, target, viaRouter: true)
                EventLoopParityTests.same(fast, routed, target)
                #expect(fast.status == 200)
            }
            #expect(try await HTTP.request(.DELETE, u.table.url + "user/1/session/\(session)").status == 200)
            for target in targets {
                let fast = try await Self.check(port, target, viaRouter: false)
                let routed = try await Self.check(port, target, viaRouter: true)
                EventLoopParityTests.same(fast, routed, "revoked: \(target)")
                #expect(fast.status == 403)
            }
            // Another user's id with this token, and a malformed one: the router's refusals.
            for target in ["/user/2/table/check/\(token)", "/user/1/table/check/store_nope", "/user/0/table/check/\(token)"] {
                let fast = try await Self.check(port, target, viaRouter: false)
                let routed = try await Self.check(port, target, viaRouter: true)
                EventLoopParityTests.same(fast, routed, target)
                #expect(fast.status >= 400)
            }
        }
    }
}
