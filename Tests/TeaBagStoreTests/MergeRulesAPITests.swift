import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// Every rule of docs/sync.md#oplog-rules, observed through `POST/GET oplog` and `GET value`.
@Suite("Store: the merge rules of docs/sync.md#oplog-rules through the API")
struct MergeRulesAPITests {
    @Test("falsy payloads (null, 0, false, \"\") are ops like any other, kept and returned as given")
    func falsyPayloads() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let ops: [JSON] = [payloadOp(1, "f1", nil), payloadOp(2, "f2", 0), payloadOp(3, "f3", false), payloadOp(4, "f4", "")]
        for op in ops { #expect(try await c.push("note", "/falsy", op).isAccepted, "\(op)") }
        #expect(try await c.ops("note", "/falsy") == [emptyBase] + ops)
        // The register reducer folds them too: the last one wins, even when it is "".
        for op in ops { #expect(try await c.push("register", "/falsy", op).isAccepted) }
        let value = try await c.value("register", "/falsy")
        #expect(value.json == ["value": "", "date": 4, "sha": "f4"])
    }

    @Test("falsy values (null, 0, false, \"\") make bases; each later one replaces the one before")
    func falsyValues() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        for (date, value) in [(Int64(10), JSON.number(0)), (20, false), (30, ""), (40, nil)] {
            let op = valueOp(date, "v\(date)", value)
            #expect(try await c.push("note", "/values", op).isAccepted)
            #expect(try await c.ops("note", "/values") == [op])
        }
        let base = valueOp(50, "v50", false)
        #expect(try await c.push("counter", "/zero", valueOp(50, "v50", 0)).isAccepted)
        #expect(try await c.value("counter", "/zero").json == ["value": 0, "date": 50, "sha": "v50"])
        #expect(try await c.push("note", "/values", base).isAccepted)
        #expect(try await c.ops("note", "/values") == [base])
    }

    @Test("payload ops sort by (date, sha), whatever order they arrive in")
    func ordering() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let a = payloadOp(300, "a", 1), b = payloadOp(100, "b", 2), c2 = payloadOp(200, "c", 3)
        let d = payloadOp(200, "bb", 4), e = payloadOp(200, "d", 5)
        for op in [a, b, c2, d, e] { #expect(try await c.push("log", "/order", op).isAccepted) }
        #expect(try await c.ops("log", "/order") == [emptyBase, b, d, c2, e, a])
        #expect(try await c.value("log", "/order").json == ["value": [2, 4, 3, 5, 1], "date": 300, "sha": "a"])
    }

    @Test("duplicates: a sha held as a payload op or as the base is a noop, also inside one batch")
    func duplicates() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let op = payloadOp(100, "dup", 5)
        #expect(try await c.push("counter", "/dup", op).isAccepted)
        for _ in 0..<3 { #expect(try await c.push("counter", "/dup", op).isNoop) }
        let base = valueOp(200, "base", 5)
        #expect(try await c.push("counter", "/dup", base).isAccepted)
        #expect(try await c.push("counter", "/dup", base).isNoop)
        // The base's sha pushed as a payload op: held already.
        #expect(try await c.push("counter", "/dup", payloadOp(300, "base", 1)).isNoop)
        let batch = try await c.batch([["type": "counter", "path": "/dup", "op": payloadOp(400, "twice", 1)],
                                        ["type": "counter", "path": "/dup", "op": payloadOp(400, "twice", 1)]])
        #expect(batch.json == ["results": [["ok": true], ["ok": true, "noop": true]]])
        #expect(try await c.ops("counter", "/dup") == [base, payloadOp(400, "twice", 1)])
        #expect(try await c.value("counter", "/dup").json?["value"] == 6)
    }

    @Test("pruning with covers: covered ops go, later seqs stay, a late op of another node is kept right after the base")
    func pruneWithCovers() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let a1 = payloadOp(100, "a1", 1, node: "A", seq: 1)
        let a2 = payloadOp(110, "a2", 2, node: "A", seq: 2)
        let b1 = payloadOp(120, "b1", 4, node: "B", seq: 1)
        let a3 = payloadOp(130, "a3", 8, node: "A", seq: 3)
        for op in [a1, a2, b1, a3] { #expect(try await c.push("counter", "/p", op).isAccepted) }
        #expect(try await c.value("counter", "/p").json?["value"] == 15)

        // A base that folded A up to 2 and B up to 1, dated after a3.
        let base = valueOp(200, "base-1", 7, covers: ["A": 2, "B": 1])
        #expect(try await c.push("counter", "/p", base).isAccepted)
        #expect(try await c.ops("counter", "/p") == [base, a3])
        #expect(try await c.value("counter", "/p").json == ["value": 15, "date": 130, "sha": "a3"])

        // Covered ops pushed again (another device re-pushes what it holds): noops.
        #expect(try await c.push("counter", "/p", a1).isNoop)
        #expect(try await c.push("counter", "/p", b1).isNoop)
        // A late op of a node the base does not cover (C) is kept, dated before the base: it sorts right after it.
        let lateC = payloadOp(50, "z-late", 16, node: "C", seq: 1)
        #expect(try await c.push("counter", "/p", lateC).isAccepted)
        // A late op of B beyond its covered seq is kept too.
        let lateB = payloadOp(60, "a-late", 32, node: "B", seq: 2)
        #expect(try await c.push("counter", "/p", lateB).isAccepted)
        // Every op here is older than the base, so each sorts at (200, sha): a-late, a3, z-late.
        #expect(try await c.ops("counter", "/p") == [base, lateB, a3, lateC])
        #expect(try await c.value("counter", "/p").json == ["value": 63, "date": 50, "sha": "z-late"])

        // An op with node but dated before the base, within covers: gone for good (noop).
        #expect(try await c.push("counter", "/p", payloadOp(190, "a2-again", 1, node: "A", seq: 2)).isNoop)
        // An original-client op (no node) dated after the base: kept.
        let plain = payloadOp(210, "plain", 64)
        #expect(try await c.push("counter", "/p", plain).isAccepted)
        #expect(try await c.value("counter", "/p").json?["value"] == 127)
    }

    @Test("pruning without covers (the original rule): ops dated before the new base go, later ones stay; late ones are noops")
    func pruneWithoutCovers() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let ops = [payloadOp(100, "o1", 1), payloadOp(200, "o2", 2), payloadOp(300, "o3", 4), payloadOp(400, "o4", 8)]
        for op in ops { #expect(try await c.push("counter", "/orig", op).isAccepted) }
        let base = valueOp(300, "base", 3)
        #expect(try await c.push("counter", "/orig", base).isAccepted)
        // date < 300 dropped; the op dated 300 itself stays (not strictly older).
        #expect(try await c.ops("counter", "/orig") == [base, ops[2], ops[3]])
        #expect(try await c.value("counter", "/orig").json == ["value": 15, "date": 400, "sha": "o4"])
        // An original-client op older than the base: the original's weaker guarantee, dropped (noop).
        #expect(try await c.push("counter", "/orig", payloadOp(250, "late", 100)).isNoop)
        // An op with node/seq against a base without covers follows the date rule as well.
        #expect(try await c.push("counter", "/orig", payloadOp(299, "late-node", 100, node: "N", seq: 1)).isNoop)
        #expect(try await c.ops("counter", "/orig") == [base, ops[2], ops[3]])
    }

    @Test("a losing value-op is a noop: older (date, sha), dominated covers, or covers that do not dominate")
    func losingValueOps() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let base = valueOp(500, "m", 10)
        #expect(try await c.push("counter", "/lose", base).isAccepted)
        #expect(try await c.push("counter", "/lose", valueOp(400, "z", 1)).isNoop)       // older date
        #expect(try await c.push("counter", "/lose", valueOp(500, "a", 1)).isNoop)       // same date, smaller sha
        let tie = valueOp(500, "n", 11)                                                 // same date, larger sha: wins
        #expect(try await c.push("counter", "/lose", tie).isAccepted)
        #expect(try await c.ops("counter", "/lose") == [tie])

        let covered = valueOp(600, "c1", 20, covers: ["A": 3, "B": 2])
        #expect(try await c.push("counter", "/lose", covered).isAccepted)                // covers beat a base without
        #expect(try await c.push("counter", "/lose", valueOp(900, "c2", 1, covers: ["A": 5])).isNoop)          // B missing: does not dominate
        #expect(try await c.push("counter", "/lose", valueOp(900, "c3", 1, covers: ["A": 2, "B": 9])).isNoop)  // A smaller
        #expect(try await c.push("counter", "/lose", valueOp(550, "c4", 1)).isNoop)                            // no covers: (date, sha) older
        #expect(try await c.push("counter", "/lose", valueOp(599, "c5", 1, covers: ["A": 3, "B": 2])).isNoop)  // equal vectors, older
        let dominating = valueOp(100, "c6", 30, covers: ["A": 3, "B": 2, "C": 1])    // dominates, even though dated earlier
        #expect(try await c.push("counter", "/lose", dominating).isAccepted)
        #expect(try await c.ops("counter", "/lose") == [dominating])
        #expect(try await c.value("counter", "/lose").json == ["value": 30, "date": 100, "sha": "c6"])
        // A value-op without covers is judged by (date, sha) alone, against any base.
        let plain = valueOp(900, "c7", 40)
        #expect(try await c.push("counter", "/lose", plain).isAccepted)
        #expect(try await c.ops("counter", "/lose") == [plain])
    }

    @Test("late ops: lateness is judged against the current base; a late op folds right after it")
    func lateOps() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let base = valueOp(1_000, "base", [], covers: ["A": 1])
        #expect(try await c.push("log", "/late", base).isAccepted)
        let onTime = payloadOp(1_000, "m-on-time", "on time", node: "A", seq: 2)
        let later = payloadOp(1_500, "b-later", "later", node: "A", seq: 3)
        let late = payloadOp(10, "z-late", "late", node: "B", seq: 1)
        for op in [later, onTime, late] { #expect(try await c.push("log", "/late", op).isAccepted) }
        // Order keys: m-on-time (1000), z-late (max(10, 1000) = 1000), b-later (1500).
        #expect(try await c.ops("log", "/late") == [base, onTime, late, later])
        #expect(try await c.value("log", "/late").json == ["value": ["on time", "late", "later"], "date": 1_500, "sha": "b-later"])

        // A newer base covering A up to 2 and B up to 1 leaves only `later`, now not late.
        let newer = valueOp(1_200, "base-2", ["on time", "late"], covers: ["A": 2, "B": 1])
        #expect(try await c.push("log", "/late", newer).isAccepted)
        #expect(try await c.ops("log", "/late") == [newer, later])
        #expect(try await c.value("log", "/late").json == ["value": ["on time", "late", "later"], "date": 1_500, "sha": "b-later"])
    }
}
