/// The reducers of Plugins/ (built by `make plugins`), loaded as a store or
/// agent loads them, folding known histories to known values.
import Foundation
import Testing
import TeaBagCore
@testable import TeaBagPlugins

let shipped = PluginHost(directories: [Repo.plugins])

func fold(_ type: String, _ payloads: [JSON]) throws -> JSON {
    try fold(type, state: .null, payloads)
}

func fold(_ type: String, state: JSON, _ payloads: [JSON]) throws -> JSON {
    let reducer = try #require(shipped.reducer(for: type), "no \(type) reducer: run `make plugins`")
    let history = ops(payloads)
    let whole = Fold.fold(reducer, state: state, ops: history[...])
    #expect(whole.skipped.isEmpty, "\(whole.skipped)")
    // Incremental folds (one op at a time) agree with the replay.
    var incremental = state
    for index in history.indices { incremental = Fold.fold(reducer, state: incremental, ops: history[index...index]).value }
    #expect(incremental == whole.value)
    return whole.value
}

func parsed(_ text: String) -> JSON { try! JSON.parse(text) }

func refusal(_ type: String, payload: JSON) -> String? {
    do { try shipped.reducer(for: type)!.validate(payload: payload); return nil } catch { return error.message }
}

@Suite("Shipped reducers")
struct ShippedReducersTests {
    @Test("every shipped type is served")
    func served() {
        #expect(Set(shipped.types).isSuperset(of: ["counter", "register", "set", "merge", "log", "stats"]), "run `make plugins`")
        #expect(shipped.refusals.isEmpty, "\(shipped.refusals)")
    }

    @Test("counter adds numbers and refuses anything else")
    func counter() throws {
        #expect(try fold("counter", [1, 2, 3, -1, 0.5]) == 5.5)
        #expect(try fold("counter", [0.1, 0.2]) == 0.30000000000000004)
        #expect(try fold("counter", state: 10, [5]) == 15)
        #expect(refusal("counter", payload: "1") == #"counter: payload must be a number, got "string""#)
        #expect(refusal("counter", payload: true) == #"counter: payload must be a number, got "boolean""#)
        #expect(refusal("counter", payload: 3) == nil)
        // A bad op in a replay is skipped, not a reason to stall the value.
        let history = ops([1, "x", 2])
        let outcome = Fold.fold(shipped.reducer(for: "counter")!, state: .null, ops: history[...])
        #expect(outcome.value == 3)
        #expect(outcome.skipped.map(\.sha) == [history[1].sha])
    }

    @Test("register keeps the last payload in oplog order, falsy ones included")
    func register() throws {
        #expect(try fold("register", [1, parsed(#"{"b":1,"a":[true,null]}"#)]) == parsed(#"{"a":[true,null],"b":1}"#))
        #expect(try fold("register", ["x", 0]) == 0)
        #expect(try fold("register", [1, false]) == false)
        #expect(try fold("register", [1, .null]) == .null)
        #expect(try fold("register", state: "kept", []) == "kept")
    }

    @Test("set adds and removes distinct elements, sorted by canonical text")
    func set() throws {
        #expect(try fold("set", [["add": 3], ["add": 1], ["add": "a"], ["remove": 3], ["add": ["b": 1, "a": 2]]])
                == parsed(#"["a",1,{"a":2,"b":1}]"#))
        #expect(try fold("set", [1, 2].map { ["add": $0] } + [["remove": 1], ["add": 1], ["remove": 2]]) == [1])
        #expect(try fold("set", [["add": ["x": [1, 2]]], ["add": parsed(#"{ "x" : [1, 2] }"#)]]) == parsed(#"[{"x":[1,2]}]"#))
        #expect(refusal("set", payload: ["put": 1]) != nil)
        #expect(refusal("set", payload: ["add": 1, "remove": 2])?.hasPrefix(#"set: payload must be {"add": x} or {"remove": x}"#) == true)
        #expect(refusal("set", payload: ["add": .null]) == nil)
    }

    @Test("merge applies RFC 7386 merge patches")
    func merge() throws {
        #expect(try fold("merge", [parsed(#"{"a":1,"b":{"c":2}}"#), parsed(#"{"b":{"c":null,"d":3}}"#)]) == parsed(#"{"a":1,"b":{"d":3}}"#))
        #expect(try fold("merge", [[1, 2]]) == [1, 2])
        #expect(try fold("merge", [[1, 2], parsed(#"{"x":null,"y":{"z":null,"w":1}}"#)]) == parsed(#"{"y":{"w":1}}"#))
        #expect(try fold("merge", state: ["a": 1], [.null]) == .null)
        #expect(try fold("merge", [JSON]()) == .null)  // no op: the base value itself, unfolded
    }

    @Test("log appends, and a {\"cap\": n} base keeps the last n across prunes")
    func log() throws {
        #expect(try fold("log", [1, ["b": 1, "a": 2], .null]) == parsed(#"[1,{"a":2,"b":1},null]"#))
        #expect(try fold("log", state: ["cap": 2], [1, 2, 3]) == parsed(#"{"cap":2,"items":[2,3]}"#))
        #expect(try fold("log", state: parsed(#"{"items":[1,2,3],"cap":3}"#), [4]) == parsed(#"{"cap":3,"items":[2,3,4]}"#))
        let refused = Fold.fold(shipped.reducer(for: "log")!, state: 7, ops: ops([1])[...])
        #expect(refused.skipped.first?.message.hasPrefix("log: state must be null, an array, or") == true)
    }

    @Test("stats, the Swift reducer, keeps count, sum, min, max and mean")
    func stats() throws {
        #expect(try fold("stats", [4, 1, 7]) == ["count": 3, "max": 7, "mean": 4, "min": 1, "sum": 12])
        #expect(try fold("stats", [4, 1, 7]) == (try fold("stats", state: try fold("stats", [4, 1]), [7])))
        #expect(refusal("stats", payload: "4") == "stats: payload must be a number")
        #expect(refusal("stats", payload: true) == "stats: payload must be a number")
    }

    @Test("an oplog folded through a plugin gives the value the rules say")
    func oplogThroughPlugin() throws {
        var log = Oplog()
        for op in ops([5, 6, 7]) { log.merge(op) }
        log.merge(OpFactory.valueOp(value: 100, covers: ["test": 2], date: 2_000))
        let outcome = try #require(shipped.fold(type: "counter", state: log.base.value!, ops: log.ops[...]))
        #expect(outcome.value == 107)
    }
}
