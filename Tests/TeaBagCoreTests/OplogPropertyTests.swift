/// Property tests of the oplog rules over random histories (docs/sync.md#oplog-rules):
/// (a) the same op set gives an identical oplog and value in any delivery
/// order, with repetitions; (b) an op with node/seq merged anywhere is never
/// lost once every replica has every op; (c) no op is folded twice.
/// Each history comes from a seed; a failure prints it for replay.
import TeaBagTestSupport
import Testing
@testable import TeaBagCore

/// One random history: the ops created (payload ops by several nodes with
/// skewed clocks, value-ops built as docs/sync.md#oplog-rules builds them) and how each replica
/// receives them.
struct History {
    var payloads: [Op] = []
    var valueOps: [Op] = []

    /// Ops with node/seq; value-ops with covers over prefixes of the creation
    /// order. Every prune covers a set that is, per node, all seqs up to its
    /// highest (the outbox delivers in seq order) and the prune sets are
    /// nested (a prune needs every store to hold exactly the pruner's set,
    /// and stores only grow) — the two facts docs/sync.md#oplog-rules relies on.
    static func covering(seed: UInt64) -> History {
        var rng = SplitMix64(seed: seed)
        var history = History()
        let nodeCount = Int.random(in: 1...4, using: &rng)
        let skews = (0..<nodeCount).map { _ in Int64.random(in: -3_600_000...3_600_000, using: &rng) }
        var seqs = [Int64](repeating: 0, count: nodeCount)
        var newest = [Int64](repeating: 0, count: nodeCount)
        var now: Int64 = 1_700_000_000_000
        var prunePoints: [Int] = []
        let steps = Int.random(in: 1...40, using: &rng)
        for _ in 0..<steps {
            now += Int64.random(in: 0...50, using: &rng)
            if Int.random(in: 0..<6, using: &rng) == 0, !history.payloads.isEmpty {
                prunePoints.append(Int.random(in: 0...history.payloads.count, using: &rng))
                continue
            }
            let n = Int.random(in: 0..<nodeCount, using: &rng)
            seqs[n] += 1
            let date = OpFactory.date(correctedNow: now + skews[n], newestLocalDate: newest[n])
            newest[n] = date
            history.payloads.append(OpFactory.payloadOp(payload: .number(Double(Int.random(in: -5...5, using: &rng))),
                                                        node: "node\(n)", seq: seqs[n], date: date))
        }
        // Each prune: a replica holding exactly that prefix (and maybe earlier
        // prunes of smaller prefixes), merged in a random order, folds it.
        var built: [(prefix: Int, op: Op)] = []
        for point in prunePoints {
            var ops = Array(history.payloads[0..<point])
            ops += built.filter { $0.prefix <= point && Bool.random(using: &rng) }.map(\.op)
            ops.shuffle(using: &rng)
            let replica = Oplog(merging: ops)
            let value = replica.value(using: shaLog).value
            let date = OpFactory.date(correctedNow: now + Int64.random(in: -3_600_000...3_600_000, using: &rng), newestLocalDate: replica.newestDate)
            built.append((point, OpFactory.valueOp(value: value, covers: replica.pruneCovers, date: date)))
        }
        history.valueOps = built.map(\.op)
        return history
    }

    /// The original client's ops: no node, value-ops without covers dated
    /// after everything their pruner held.
    static func original(seed: UInt64) -> History {
        var rng = SplitMix64(seed: seed)
        var history = History()
        var now: Int64 = 1_000
        let steps = Int.random(in: 1...30, using: &rng)
        for i in 0..<steps {
            now += Int64.random(in: -20...40, using: &rng)  // clocks of several devices
            if Int.random(in: 0..<5, using: &rng) == 0, !history.payloads.isEmpty {
                var ops = Array(history.payloads.shuffled(using: &rng).prefix(Int.random(in: 0...history.payloads.count, using: &rng)))
                ops += history.valueOps.filter { _ in Bool.random(using: &rng) }
                let replica = Oplog(merging: ops.shuffled(using: &rng))
                let date = max(now, replica.newestDate + 1)
                history.valueOps.append(Op(date: date, sha: "v\(seed)-\(i)", body: .value(replica.value(using: shaLog).value)))
            } else {
                history.payloads.append(Op(date: max(1, now), sha: "p\(seed)-\(i)", body: .payload(.number(1))))
            }
        }
        return history
    }

    var all: [Op] { payloads + valueOps }

    /// Every op delivered one to three times, in a random order.
    func delivery(using rng: inout SplitMix64) -> [Op] {
        var ops: [Op] = []
        for op in all { for _ in 0..<Int.random(in: 1...3, using: &rng) { ops.append(op) } }
        ops.shuffle(using: &rng)
        return ops
    }
}

/// The shas in a shaLog value; the multiset of folded ops.
func folded(_ value: JSON) -> [String] { (value.arrayValue ?? []).compactMap(\.stringValue) }

@Suite("Oplog properties over random histories")
struct OplogPropertyTests {
    static let coveringHistories: UInt64 = 10_000
    static let originalHistories: UInt64 = 3_000

    @Test("ops with node/seq: convergence, nothing lost, nothing folded twice (10,000 histories)")
    func coveringHistories() async {
        let failures = await onOwnThread { Self.checkCoveringHistories() }
        for failure in failures { Issue.record(Comment(rawValue: failure)) }
        #expect(failures.isEmpty)
    }

    /// The messages of the first (up to three) failing seeds. Runs on its own
    /// thread: tens of seconds of CPU would otherwise hold one of the two
    /// cooperative threads the whole suite's async tests share.
    static func checkCoveringHistories() -> [String] {
        var failures: [String] = []
        for seed in 1...coveringHistories where failures.count < 3 {
            let history = History.covering(seed: seed)
            var rng = SplitMix64(seed: seed &* 7919)
            let replicas = Int.random(in: 2...3, using: &rng)
            var logs: [Oplog] = []
            for r in 0..<replicas {
                var log = Oplog()
                for (step, op) in history.delivery(using: &rng).enumerated() {
                    log.merge(op)
                    // (c) after every step on the first replica.
                    if r == 0, step % 4 == 0 {
                        let shas = folded(log.value(using: shaLog).value)
                        if Set(shas).count != shas.count {
                            failures.append("seed \(seed): an op was folded twice after step \(step)")
                        }
                    }
                }
                logs.append(log)
            }
            // (a) identical oplog and value on every replica.
            let values = logs.map { $0.value(using: shaLog).value }
            if !logs.allSatisfy({ $0 == logs[0] }) || !values.allSatisfy({ $0 == values[0] }) {
                failures.append("seed \(seed): replicas diverged: \(logs.map { $0.wire.map(\.sha) })")
                continue
            }
            // (b) + (c): every payload op folded exactly once.
            let shas = folded(values[0])
            if shas.sorted() != history.payloads.map(\.sha).sorted() {
                failures.append("seed \(seed): folded \(shas.count) ops for \(history.payloads.count) created (lost or doubled)")
            }
        }
        return failures
    }

    @Test("the original rule (no node, no covers): convergence and no double fold; loss is the original's race")
    func originalHistories() async {
        let (failures, lost) = await onOwnThread { Self.checkOriginalHistories() }
        for failure in failures { Issue.record(Comment(rawValue: failure)) }
        #expect(failures.isEmpty)
        // The race exists and the generator reaches it; it is the original's documented weakness.
        #expect(lost > 0)
    }

    /// Failing seeds' messages and the ops lost to the original's race.
    static func checkOriginalHistories() -> (failures: [String], lost: Int) {
        var failures: [String] = []
        var lost = 0
        for seed in 1...originalHistories where failures.count < 3 {
            let history = History.original(seed: seed)
            var rng = SplitMix64(seed: seed &* 104_729)
            let logs = (0..<3).map { _ in Oplog(merging: history.delivery(using: &rng)) }
            let values = logs.map { $0.value(using: shaLog).value }
            if !logs.allSatisfy({ $0 == logs[0] }) || !values.allSatisfy({ $0 == values[0] }) {
                failures.append("seed \(seed): replicas diverged")
                continue
            }
            let shas = folded(values[0])
            if Set(shas).count != shas.count {
                failures.append("seed \(seed): an op was folded twice")
            }
            lost += Set(history.payloads.map(\.sha)).subtracting(shas).count
        }
        return (failures, lost)
    }

    @Test("the same histories with covers would lose nothing where the original rule does")
    func coversCloseTheRace() {
        // An op dated before a prune that its pruner never saw: the original
        // rule drops it, covers keep it.
        let late = payload("late", date: 5, node: "n", seq: 1)
        var withCovers = Oplog()
        withCovers.merge(base("P", date: 100, covers: ["m": 1], ["m1"]))
        #expect(withCovers.merge(late) == .added)
        var original = Oplog()
        original.merge(base("P", date: 100, ["m1"]))
        #expect(original.merge(payload("late", date: 5)) == .noop)
    }
}
