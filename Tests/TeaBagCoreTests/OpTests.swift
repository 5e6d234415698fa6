import Testing
@testable import TeaBagCore

@Suite("Op shape and creation")
struct OpTests {
    @Test("an op comes back in exactly the shape it was accepted in")
    func roundTrip() throws {
        let wire: JSON = ["date": 17, "sha": "abc", "payload": false, "node": "n1", "seq": 3, "client": ["v": 1]]
        let op = try Op(json: wire)
        #expect(op.json == wire)
        #expect(op.extra == ["client": ["v": 1]])
        let value: JSON = ["date": 20, "sha": "v", "value": 0, "covers": ["n1": 3]]
        #expect(try Op(json: value).json == value)
    }

    @Test("falsy payloads and values are payloads and values", arguments: [JSON.null, 0, false, "", [], [:]])
    func falsy(payload: JSON) throws {
        #expect(try Op(json: ["date": 1, "sha": "s", "payload": payload]).payload == payload)
        #expect(try Op(json: ["date": 1, "sha": "s", "value": payload]).value == payload)
    }

    @Test("bad shapes are refused with a message naming the field", arguments: [
        (JSON.array([]), "object"),
        (["sha": "s", "payload": 1], "op.date is missing"),
        (["date": 1.5, "sha": "s", "payload": 1], "op.date"),
        (["date": -1, "sha": "s", "payload": 1], "op.date"),
        (["date": 0, "sha": "s", "payload": 1], "0 is only for the empty base"),
        (["date": 1, "payload": 1], "op.sha is missing"),
        (["date": 1, "sha": "", "payload": 1], "op.sha"),
        (["date": 1, "sha": .string(String(repeating: "x", count: 129)), "payload": 1], "op.sha"),
        (["date": 1, "sha": "s"], "one of payload and value"),
        (["date": 1, "sha": "s", "payload": 1, "value": 1], "not both"),
        (["date": 1, "sha": "s", "payload": 1, "node": "n"], "go together"),
        (["date": 1, "sha": "s", "payload": 1, "node": "n", "seq": 0], "op.seq"),
        (["date": 1, "sha": "s", "payload": 1, "covers": [:]], "value-ops only"),
        (["date": 1, "sha": "s", "value": 1, "covers": ["n": -1]], "op.covers"),
        (["date": 1, "sha": "s", "value": 1, "node": "n", "seq": 1], "payload ops only"),
    ] as [(JSON, String)])
    func refusals(wire: JSON, fragment: String) {
        do {
            _ = try Op(json: wire)
            Issue.record("accepted \(wire)")
        } catch {
            #expect(error.message.contains(fragment), "\(error.message)")
        }
    }

    @Test("new ops never date behind the local oplog, and equal writes stay two ops")
    func creation() {
        #expect(OpFactory.date(correctedNow: 1_000, newestLocalDate: 5_000) == 5_001)
        #expect(OpFactory.date(correctedNow: 9_000, newestLocalDate: 5_000) == 9_000)
        let a = OpFactory.payloadOp(payload: 1, node: "n", seq: 1, date: 10)
        let b = OpFactory.payloadOp(payload: 1, node: "n", seq: 2, date: 10)
        #expect(a.sha != b.sha)
        #expect(a.sha.count == 64)
        // Canonical: key order in the payload does not change the sha.
        let c = OpFactory.payloadOp(payload: try! JSON.parse(#"{"b":1,"a":2}"#), node: "n", seq: 3, date: 10)
        let d = OpFactory.payloadOp(payload: try! JSON.parse(#"{"a":2,"b":1}"#), node: "n", seq: 3, date: 10)
        #expect(c.sha == d.sha)
        #expect(String(decoding: a.reducerEntry, as: UTF8.self) == #"{"date":10,"payload":1,"sha":"\#(a.sha)"}"#)
    }

    @Test("types and paths are validated and normalized")
    func keys() {
        #expect(OplogKey.isValidType("counter"))
        #expect(OplogKey.isValidType("a-b_C9"))
        #expect(!OplogKey.isValidType(""))
        #expect(!OplogKey.isValidType("a.b"))
        #expect(!OplogKey.isValidType(String(repeating: "a", count: 65)))
        #expect(OplogKey.normalizePath("foo//bar/./") == "/foo/bar")
        #expect(OplogKey.normalizePath("/a/../b") == "/b")
        #expect(OplogKey.normalizePath("/") == "/")
        #expect(OplogKey.normalizePath("/../x") == nil)
        #expect(OplogKey.normalizePath("") == nil)
        #expect(OplogKey.normalizePath("a\u{0}b") == nil)
    }
}
