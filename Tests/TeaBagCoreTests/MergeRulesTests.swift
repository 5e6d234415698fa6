import Testing
@testable import TeaBagCore

/// A reducer whose value lists the shas it folded, in order: losing or
/// doubling an op shows in the value.
let shaLog = ClosureReducer(type: "shalog") { state, op in
    .array((state.arrayValue ?? []) + [.string(op.sha)])
}

let sum = ClosureReducer(type: "counter") { state, op in
    guard let x = op.payload?.doubleValue else { throw ReducerRefusal("counter: payload must be a number") }
    return .number((state.doubleValue ?? 0) + x)
}

func payload(_ sha: String, date: Int64, node: String? = nil, seq: Int64? = nil, _ value: JSON = 1) -> Op {
    Op(date: date, sha: sha, body: .payload(value), node: node, seq: seq)
}

func base(_ sha: String, date: Int64, covers: [String: Int64]? = nil, _ value: JSON) -> Op {
    Op(date: date, sha: sha, body: .value(value), covers: covers)
}

@Suite("Merge rules (docs/sync.md#oplog-rules)")
struct MergeRulesTests {
    @Test("rule 1: an op whose sha is held is a noop, the empty base included")
    func duplicates() {
        var log = Oplog()
        #expect(log.merge(payload("a", date: 5)) == .added)
        #expect(log.merge(payload("a", date: 5)) == .noop)
        #expect(log.merge(.empty) == .noop)
        #expect(log.merge(base(Op.emptySHA, date: 0, .null)) == .noop)
        #expect(log.payloadCount == 1)
    }

    @Test("rule 2: a payload op covered by the base is a noop (covers for noded ops, date otherwise)")
    func covered() {
        var log = Oplog()
        log.merge(base("B", date: 100, covers: ["n": 3], 10))
        #expect(log.merge(payload("x", date: 500, node: "n", seq: 3)) == .noop)
        #expect(log.merge(payload("y", date: 50, node: "n", seq: 4)) == .added)  // late but not covered
        #expect(log.merge(payload("z", date: 50, node: "m", seq: 1)) == .added)  // missing entry is 0
        #expect(log.merge(payload("o", date: 99)) == .noop)                      // original rule: date < base.date
        #expect(log.merge(payload("p", date: 100)) == .added)
    }

    @Test("late ops sort right after the base; the value folds base then ops")
    func lateOrder() {
        var log = Oplog()
        log.merge(base("B", date: 100, covers: [:], 10))
        log.merge(payload("c", date: 150, node: "n", seq: 2, 1))
        log.merge(payload("b", date: 20, node: "n", seq: 1, 2))   // late: sorts as date 100
        log.merge(payload("a", date: 100, node: "m", seq: 1, 4))
        #expect(log.ops.map(\.sha) == ["a", "b", "c"])
        #expect(log.value(using: sum).value == 17)
    }

    @Test("rule 4: a dominating value-op replaces the base and drops what it covers; others are noops")
    func baseReplacement() {
        var log = Oplog()
        log.merge(payload("n1", date: 10, node: "n", seq: 1))
        log.merge(payload("n2", date: 11, node: "n", seq: 2))
        log.merge(payload("m1", date: 12, node: "m", seq: 1))
        let v1 = base("V1", date: 20, covers: ["n": 1], 1)
        #expect(log.merge(v1) == .replacedBase(dropped: [payload("n1", date: 10, node: "n", seq: 1)]))
        #expect(log.ops.map(\.sha) == ["m1", "n2"])  // both late now: (20, sha) order
        // Incomparable vector: noop.
        #expect(log.merge(base("V2", date: 99, covers: ["m": 1], 1)) == .noop)
        // Equal vector: the larger (date, sha) wins; the smaller is a noop.
        #expect(log.merge(base("V0", date: 19, covers: ["n": 1], 1)) == .noop)
        #expect(log.merge(base("V3", date: 20, covers: ["n": 1], 1)).changed)
        // Dominating even with an older date.
        if case .replacedBase(let dropped) = log.merge(base("V4", date: 5, covers: ["n": 2, "m": 1], 3)) {
            #expect(Set(dropped.map(\.sha)) == ["n2", "m1"])
        } else { Issue.record("V4 should replace") }
        #expect(log.payloadCount == 0)
        #expect(log.value(using: sum).value == 3)
    }

    @Test("a value-op without covers replaces by (date, sha), the original rule")
    func originalBase() {
        var log = Oplog()
        log.merge(payload("a", date: 10))
        log.merge(payload("b", date: 30))
        #expect(log.merge(base("V", date: 20, 5)) == .replacedBase(dropped: [payload("a", date: 10)]))
        #expect(log.merge(base("U", date: 15, 7)) == .noop)
        #expect(log.value(using: sum).value == 6)
        // A base without covers counts as {} for a covering value-op.
        #expect(log.merge(base("W", date: 1, covers: ["x": 1], 9)).changed)
    }

    @Test("pruneCovers raises the base's covers by every folded op")
    func pruneCovers() {
        var log = Oplog()
        log.merge(base("B", date: 5, covers: ["n": 2, "k": 7], 0))
        log.merge(payload("a", date: 10, node: "n", seq: 3))
        log.merge(payload("b", date: 11, node: "m", seq: 1))
        log.merge(payload("c", date: 12))
        #expect(log.pruneCovers == ["n": 3, "m": 1, "k": 7])
        #expect(log.newestDate == 12)
    }

    @Test("the fold falls back to one op at a time and skips each refused op")
    func foldFallback() {
        var log = Oplog()
        log.merge(payload("a", date: 1, 2))
        log.merge(payload("b", date: 2, "nope"))
        log.merge(payload("c", date: 3, 5))
        let outcome = log.value(using: sum)
        #expect(outcome.value == 7)
        #expect(outcome.skipped == [.init(sha: "b", message: "counter: payload must be a number")])
    }

    @Test("removing an op refused for good takes it out of the value")
    func remove() {
        var log = Oplog()
        log.merge(payload("a", date: 1, 2))
        log.merge(payload("b", date: 2, 3))
        #expect(log.remove(sha: "a")?.sha == "a")
        #expect(log.remove(sha: "a") == nil)
        #expect(log.value(using: sum).value == 3)
        #expect(!log.holds(sha: "a"))
    }
}
