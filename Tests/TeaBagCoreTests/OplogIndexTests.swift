import Testing
@testable import TeaBagCore

/// The oplog's sha index exists only past `Oplog.indexedFrom` ops; what it
/// answers must not depend on which side of that it is.
@Suite struct OplogIndexTests {
    let ops = (1...20).map { OpFactory.payloadOp(payload: 1, node: "n", seq: Int64($0), date: 1_000 + Int64($0)) }

    @Test func heldAndNotHeldAreTheSameBelowAndAboveTheIndexThreshold() {
        var oplog = Oplog()
        for (count, op) in ops.enumerated() {
            #expect(!oplog.holds(sha: op.sha))
            #expect(oplog.merge(op) == .added)
            #expect(oplog.merge(op) == .noop, "a repeat is a noop with \(count + 1) ops")
            #expect(ops[...count].allSatisfy { oplog.holds(sha: $0.sha) })
            #expect(!ops[(count + 1)...].contains { oplog.holds(sha: $0.sha) })
        }
        // Removed back below the threshold, one at a time.
        for (index, op) in ops.enumerated().reversed() {
            #expect(oplog.remove(sha: op.sha) == op)
            #expect(!oplog.holds(sha: op.sha))
            if index > 0 { #expect(oplog.merge(ops[0]) == .noop, "a held op is a noop with \(index) ops") }
            #expect(ops[..<index].allSatisfy { oplog.holds(sha: $0.sha) })
        }
        #expect(oplog.payloadCount == 0)
    }

    @Test func aBaseCoveringMostOpsLeavesTheRestHeld() {
        var oplog = Oplog(merging: ops)
        let base = OpFactory.valueOp(value: 15, covers: ["n": 15], date: 2_000)
        guard case .replacedBase(let dropped) = oplog.merge(base) else { Issue.record("the value-op did not become the base"); return }
        #expect(dropped.count == 15)
        #expect(oplog.payloadCount == 5)
        #expect(ops[15...].allSatisfy { oplog.holds(sha: $0.sha) })
        #expect(!ops[..<15].contains { oplog.holds(sha: $0.sha) })
        #expect(oplog.holds(sha: base.sha))
        // A covered op arriving late stays out; a new one goes in.
        #expect(oplog.merge(ops[3]) == .noop)
        #expect(oplog.merge(OpFactory.payloadOp(payload: 1, node: "n", seq: 21, date: 1_021)) == .added)
    }
}
