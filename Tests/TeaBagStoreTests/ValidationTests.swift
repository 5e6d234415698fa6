import AsyncHTTPClient
import Foundation
import NIOCore
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Store: what an op must be before it is stored")
struct ValidationTests {
    @Test("type: 1–64 of [A-Za-z0-9_-], else 400 UserError:InvalidType on every route")
    func types() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        for bad in ["", "a b", "a.b", "a/b", "é", String(repeating: "t", count: 65)] {
            let pushed = try await c.push(bad, "/p", payloadOp(1, "s", 1))
            #expect(pushed.status == 400, "\(bad)")
            #expect(pushed.errorName == "UserError:InvalidType", "\(bad)")
            #expect(try await c.oplog(bad, "/p").errorName == "UserError:InvalidType")
            #expect(try await c.value(bad, "/p").errorName == "UserError:InvalidType")
        }
        let missing = try await HTTP.request(.POST, u.store.userURL(1) + "oplog?path=/p&store_token=\(u.token)", json: payloadOp(1, "s", 1))
        #expect(missing.errorName == "UserError:InvalidType")
        let longest = String(repeating: "t", count: 64)
        for good in ["A-z_0-9", longest] {
            #expect(try await c.push(good, "/p", payloadOp(1, "s", 1)).isAccepted)
            #expect(try await c.ops(good, "/p").count == 2)
        }
    }

    @Test("path: normalized as a POSIX absolute path, so both spellings reach one oplog; a .. leaving / is UserError:InvalidPath")
    func paths() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let op = payloadOp(1, "n1", 1)
        #expect(try await c.push("note", "foo//bar/./", op).isAccepted)
        for spelling in ["/foo/bar", "foo/bar", "//foo///bar//", "/foo/./bar/.", "/foo/baz/../bar", "foo//bar/./"] {
            #expect(try await c.ops("note", spelling) == [emptyBase, op], "\(spelling)")
        }
        // Pushing under another spelling of the same path is the same oplog: the sha is held.
        #expect(try await c.push("note", "/foo/x/../bar", op).isNoop)
        #expect(try await c.push("note", "/", payloadOp(2, "root", 1)).isAccepted)
        #expect(try await c.ops("note", "/./") == [emptyBase, payloadOp(2, "root", 1)])
        // Unicode and spaces are part of a path.
        #expect(try await c.push("note", "/ä b/c", op).isAccepted)
        #expect(try await c.ops("note", "ä b//c").count == 2)

        for bad in ["", "..", "/..", "/a/../..", "a/../../b", "/a/b/../../../c"] {
            let pushed = try await c.push("note", bad, payloadOp(3, "bad", 1))
            #expect(pushed.status == 400, "\(bad)")
            #expect(pushed.errorName == "UserError:InvalidPath", "\(bad)")
            #expect(try await c.oplog("note", bad).errorName == "UserError:InvalidPath", "\(bad)")
        }
        let missing = try await HTTP.get(u.store.userURL(1) + "oplog?type=note&store_token=\(u.token)")
        #expect(missing.status == 400)
        #expect(missing.errorName == "UserError:InvalidPath")
        // /a/.. is /, not a refusal: it stays under the root.
        #expect(try await c.ops("note", "/a/..") == [emptyBase, payloadOp(2, "root", 1)])
    }

    @Test("bad op shapes are 400 UserError:InvalidOpBody and nothing is stored")
    func shapes() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let bad: [JSON] = [
            [], 5, "op", nil,
            ["sha": "s", "payload": 1],                                        // no date
            ["date": "1", "sha": "s", "payload": 1],                           // date a string
            ["date": -1, "sha": "s", "payload": 1],                            // negative
            ["date": 1.5, "sha": "s", "payload": 1],                           // not an integer
            ["date": 0, "sha": "s", "payload": 1],                             // 0 is for the empty base only
            ["date": 1, "payload": 1],                                         // no sha
            ["date": 1, "sha": "", "payload": 1],                              // empty sha
            ["date": 1, "sha": 5, "payload": 1],                               // sha a number
            ["date": 1, "sha": .string(String(repeating: "s", count: 129)), "payload": 1],
            ["date": 1, "sha": "s"],                                           // neither payload nor value
            ["date": 1, "sha": "s", "payload": 1, "value": 1],                 // both
            ["date": 1, "sha": "s", "payload": 1, "node": "n"],                // node without seq
            ["date": 1, "sha": "s", "payload": 1, "seq": 1],                   // seq without node
            ["date": 1, "sha": "s", "payload": 1, "node": "n", "seq": 0],      // seq not positive
            ["date": 1, "sha": "s", "payload": 1, "node": "", "seq": 1],       // empty node
            ["date": 1, "sha": "s", "payload": 1, "covers": ["n": 1]],         // covers on a payload op
            ["date": 1, "sha": "s", "value": 1, "covers": ["n": -1]],          // negative covers
            ["date": 1, "sha": "s", "value": 1, "covers": [1]],                // covers not an object
            ["date": 1, "sha": "s", "value": 1, "node": "n", "seq": 1],        // node on a value-op
        ]
        for body in bad {
            let answer = try await c.push("note", "/shape", body)
            #expect(answer.status == 400, "\(body): \(answer.text)")
            #expect(answer.errorName == "UserError:InvalidOpBody", "\(body): \(answer.text)")
            #expect(answer.errorMessage?.isEmpty == false)
        }
        let malformed = try await c.push("note", "/shape", body: Array(#"{"date":1,"sha":"#.utf8))
        #expect(malformed.status == 400)
        #expect(malformed.errorName == "UserError:InvalidJSON")
        #expect(try await c.ops("note", "/shape") == [emptyBase])
        // At the limits: a 128-character sha, seq 1, covers {} are fine.
        let longest = payloadOp(1, String(repeating: "s", count: 128), 1, node: "n", seq: 1)
        #expect(try await c.push("note", "/shape", longest).isAccepted)
        #expect(try await c.push("note", "/shape", valueOp(5, "v", 1, covers: [:])).isAccepted)
        #expect(try await c.ops("note", "/shape") == [valueOp(5, "v", 1, covers: [:]), longest])
    }

    @Test("a date beyond store.max_skew is 503 StoreError:FutureDate with Retry-After, and nothing is stored")
    func futureDates() async throws {
        let clock = ManualClock()
        let u = try await EnrolledUser.start(storeClock: clock.read, configureStore: { $0.maxSkewMs = 600_000 })
        defer { Task { await u.stop() } }
        let c = u.client()
        let now = clock.read()
        for (date, retry) in [(now + 600_001, "1"), (now + 630_000, "30"), (now + 3_600_000, "3000")] {
            let answer = try await c.push("note", "/future", payloadOp(date, "f\(date)", 1))
            #expect(answer.status == 503)
            #expect(answer.errorName == "StoreError:FutureDate")
            #expect(answer.headers.first(name: "Retry-After") == retry)
        }
        let value = try await c.push("note", "/future", valueOp(now + 700_000, "fv", 1))
        #expect(value.status == 503)
        #expect(value.errorName == "StoreError:FutureDate")
        let batch = try await c.batch([["type": "note", "path": "/future", "op": payloadOp(now + 700_000, "fb", 1)]])
        #expect(batch.json?["results"]?.arrayValue?.first?["error"]?["name"] == "StoreError:FutureDate")
        #expect(try await c.ops("note", "/future") == [emptyBase])

        // Within the skew: accepted. Once the store's clock has caught up, the refused op goes in.
        let edge = payloadOp(now + 600_000, "edge", 1)
        #expect(try await c.push("note", "/future", edge).isAccepted)
        clock.advance(ms: 30_000)
        let retried = payloadOp(now + 630_000, "f\(now + 630_000)", 1)
        #expect(try await c.push("note", "/future", retried).isAccepted)
        #expect(try await c.ops("note", "/future") == [emptyBase, edge, retried])
    }

    @Test("store.unknown_types: accept stores ops of types with no plugin; reject refuses them with 400 StoreError:NoReducer")
    func unknownTypes() async throws {
        let accepting = try await EnrolledUser.start()
        let rejecting = try await EnrolledUser.start(configureStore: { $0.unknownTypes = .reject })
        defer { Task { await accepting.stop(); await rejecting.stop() } }
        #expect(try await accepting.client().push("no-such-type", "/u", payloadOp(1, "u", 1)).isAccepted)
        #expect(try await accepting.client().ops("no-such-type", "/u").count == 2)

        let refused = try await rejecting.client().push("no-such-type", "/u", payloadOp(1, "u", 1))
        #expect(refused.status == 400)
        #expect(refused.errorName == "StoreError:NoReducer")
        #expect(try await rejecting.client().ops("no-such-type", "/u") == [emptyBase])
        // Types with a plugin are served as usual.
        #expect(try await rejecting.client().push("counter", "/u", payloadOp(1, "u", 1)).isAccepted)
    }
}

@Suite("Store: request bodies (docs/protocol.md#common-rules)")
struct BodyTests {
    @Test("a body over store.body_limit is 413 UserError:BodyTooLarge, with or without Content-Length")
    func tooLarge() async throws {
        let u = try await EnrolledUser.start(configureStore: { $0.bodyLimit = 4_096 })
        defer { Task { await u.stop() } }
        let c = u.client()
        let big = payloadOp(1, "big", .string(String(repeating: "x", count: 5_000)))
        let answer = try await c.push("note", "/big", big)
        #expect(answer.status == 413)
        #expect(answer.errorName == "UserError:BodyTooLarge")
        let fits = payloadOp(1, "fits", .string(String(repeating: "x", count: 3_000)))
        #expect(try await c.push("note", "/big", fits).isAccepted)
        #expect(try await c.batch([["type": "note", "path": "/big", "op": big]]).status == 413)

        // Chunked, without Content-Length: refused as the bytes come in.
        var request = HTTPClientRequest(url: u.store.userURL(1) + "oplog?type=note&path=/big&store_token=\(u.token)")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        let bytes = big.canonicalBytes
        request.body = .stream(AsyncStreamOfChunks(bytes: bytes, chunk: 1_000), length: .unknown)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        #expect(response.status.code == 413)
        #expect((try? JSON.parse(Array(buffer: body)))?["error"]?["name"] == "UserError:BodyTooLarge")
        #expect(try await c.ops("note", "/big") == [emptyBase, fits])
    }

    @Test("JSON nested deeper than 64 is 400 UserError:TooDeep", arguments: [100, 1_000, 100_000])
    func tooDeep(depth: Int) async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let payload = String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        let body = #"{"date":1,"sha":"deep","payload":"# + payload + "}"
        let answer = try await c.push("note", "/deep", body: Array(body.utf8))
        #expect(answer.status == 400)
        #expect(answer.errorName == "UserError:TooDeep")
        let batch = try await HTTP.request(.POST, u.store.userURL(1) + "oplog/batch?store_token=\(u.token)",
                                           headers: [("Content-Type", "application/json")], body: Array(payload.utf8))
        #expect(batch.status == 400)
        #expect(batch.errorName == "UserError:TooDeep")
        #expect(try await c.ops("note", "/deep") == [emptyBase])
    }

    @Test("64 levels of nesting are accepted")
    func deepestAccepted() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        // The op object is level 1, so the payload may nest 63 deep.
        let payload = String(repeating: "[", count: 63) + String(repeating: "]", count: 63)
        let body = #"{"date":1,"sha":"deep","payload":"# + payload + "}"
        #expect(try await u.client().push("note", "/deep", body: Array(body.utf8)).isAccepted)
    }

    @Test("a body that is not JSON by its content type is 415 UserError:InvalidContentType")
    func wrongContentType() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let body = payloadOp(1, "t", 1).canonicalBytes
        for type in ["text/plain", "application/x-www-form-urlencoded", "text/json"] {
            let answer = try await c.push("note", "/ct", body: body, contentType: type)
            #expect(answer.status == 415, "\(type)")
            #expect(answer.errorName == "UserError:InvalidContentType", "\(type)")
        }
        #expect(try await c.ops("note", "/ct") == [emptyBase])
        #expect(try await c.push("note", "/ct", body: body, contentType: "application/json; charset=utf-8").isAccepted)
    }
}

/// A request body streamed in chunks, with no Content-Length.
struct AsyncStreamOfChunks: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let bytes: [UInt8]
    let chunk: Int

    struct AsyncIterator: AsyncIteratorProtocol {
        let bytes: [UInt8]
        let chunk: Int
        var offset = 0
        mutating func next() async -> ByteBuffer? {
            guard offset < bytes.count else { return nil }
            let end = Swift.min(bytes.count, offset + chunk)
            defer { offset = end }
            return ByteBuffer(bytes: bytes[offset..<end])
        }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(bytes: bytes, chunk: chunk) }
}
