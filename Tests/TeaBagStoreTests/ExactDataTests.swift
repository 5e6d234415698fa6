/// Data returned exactly as given, through a real store (issue 14 item 6):
/// big integers digit for digit in the oplog and the value, identifiers as
/// bytes, a `+` in the query a space, a value-op dated 0 refused.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Store: data returned exactly as given")
struct ExactDataTests {
    @Test("integers past 2^53 come back digit for digit from the oplog, the value and the stream of a batch")
    func bigIntegers() async throws {
        try await withEnrolledUser { u in
            let c = u.client()
            let body = #"{"date":1700000000000,"sha":"big","payload":{"id":9007199254740993,"list":[18446744073709551617,-9007199254740995]}}"#
            #expect(try await c.push("register", "/big", body: Array(body.utf8)).isAccepted)
            let oplog = try await c.oplog("register", "/big")
            #expect(oplog.text.contains(#"{"id":9007199254740993,"list":[18446744073709551617,-9007199254740995]}"#), "\(oplog.text)")
            let value = try await c.value("register", "/big")
            #expect(value.text.contains(#""value":{"id":9007199254740993,"list":[18446744073709551617,-9007199254740995]}"#), "\(value.text)")
            // Through the note type (no reducer) and a value-op too.
            let base = #"{"date":1700000000001,"sha":"base","value":123456789012345678901}"#
            #expect(try await c.push("note", "/big", body: Array(base.utf8)).isAccepted)
            #expect(try await c.oplog("note", "/big").text.contains(#""value":123456789012345678901"#))
            // The same number spelled one digit lower is another payload: another sha, another op.
            let other = #"{"date":1700000000002,"sha":"big2","payload":9007199254740992}"#
            #expect(try await c.push("register", "/big", body: Array(other.utf8)).isAccepted)
            #expect(try await c.value("register", "/big").text.contains(#""value":9007199254740992"#))
        }
    }

    @Test("a sha in another Unicode form is a new op, not a noop; shas fold in code-point order")
    func shaBytes() async throws {
        try await withEnrolledUser { u in
            let c = u.client()
            #expect(try await c.push("log", "/forms", payloadOp(1_000, "\u{E4}v", "composed")).isAccepted)
            let second = try await c.push("log", "/forms", payloadOp(1_000, "a\u{308}v", "decomposed"))
            #expect(second.isAccepted, "\(second.text)")
            #expect(try await c.push("log", "/forms", payloadOp(1_000, "\u{E4}v", "again")).isNoop)
            let ops = try await c.ops("log", "/forms")
            #expect(ops.count == 3)
            // Code-point order: "a…" (U+0061) before "ä" (U+00E4).
            #expect(ops.dropFirst().map { Array(($0["sha"]?.stringValue ?? "").utf8) } == [Array("a\u{308}v".utf8), Array("\u{E4}v".utf8)])
            // Held as the base: a payload op whose sha is another form of the base's is kept.
            #expect(try await c.push("log", "/base-form", valueOp(10, "\u{E4}v", ["x"])).isAccepted)
            let afterBase = try await c.push("log", "/base-form", payloadOp(20, "a\u{308}v", "y"))
            #expect(afterBase.isAccepted, "\(afterBase.text)")
            #expect(try await c.ops("log", "/base-form").count == 2)
            // A base whose sha is another form of a held payload op's sha is a new base.
            #expect(try await c.push("note", "/forms", payloadOp(5, "\u{E4}", 1)).isAccepted)
            #expect(try await c.push("note", "/forms", valueOp(6, "a\u{308}", 2)).isAccepted)
            #expect(try await c.ops("note", "/forms").first?["sha"]?.stringValue.map { Array($0.utf8) } == Array("a\u{308}".utf8))
        }
    }

    @Test("a + in the query string is a space, %2B a plus, as in the original server")
    func plusInQuery() async throws {
        try await withEnrolledUser { u in
            let url = u.store.userURL(1) + "oplog?type=note&store_token=\(u.token)"
            #expect(try await HTTP.request(.POST, url + "&path=/laptop+of+ada", json: payloadOp(1, "p1", 1)).isAccepted)
            #expect(try await HTTP.request(.POST, url + "&path=/c%2B%2B", json: payloadOp(1, "p2", 2)).isAccepted)
            let c = u.client()
            #expect(try await c.ops("note", "/laptop of ada") == [emptyBase, payloadOp(1, "p1", 1)])
            #expect(try await c.ops("note", "/c++") == [emptyBase, payloadOp(1, "p2", 2)])
            // The table's session description: laptop+of+ada is "laptop of ada".
            let created = try await HTTP.get(u.table.url + "user/1/session/new?master=secret&timeout=60000&description=laptop+of+ada")
            #expect(created.json?["description"] == "laptop of ada", "\(created.text)")
        }
    }

    @Test("a value-op dated 0 is 400 UserError:InvalidOpBody unless it is the empty base, which is a noop")
    func zeroDatedValueOps() async throws {
        try await withEnrolledUser { u in
            let c = u.client()
            for op in [valueOp(0, "zero", 1), valueOp(0, "zzzz", nil)] {
                let answer = try await c.push("note", "/zero", op)
                #expect(answer.status == 400, "\(op): \(answer.text)")
                #expect(answer.errorName == "UserError:InvalidOpBody")
            }
            // The empty base's sha is held by a path never written: a noop before any other check.
            #expect(try await c.push("note", "/zero", emptyBase).isNoop)
            #expect(try await c.push("note", "/zero", valueOp(0, Op.emptySHA, 5)).isNoop)
            // Once another base holds the path, a date-0 value-op with the empty sha but a value is refused.
            #expect(try await c.push("note", "/based", valueOp(3, "b3", 3)).isAccepted)
            #expect(try await c.push("note", "/based", valueOp(0, Op.emptySHA, 5)).errorName == "UserError:InvalidOpBody")
            #expect(try await c.ops("note", "/based") == [valueOp(3, "b3", 3)])
            #expect(try await c.ops("note", "/zero") == [emptyBase])
        }
    }
}
