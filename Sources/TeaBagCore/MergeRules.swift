/// The oplog rules of docs/sync.md#oplog-rules as pure decisions, usable both on an oplog in
/// memory (`Oplog`) and by a store that keeps its oplogs in a database and
/// must not load a whole log to merge one op.
public enum MergeRules {
    /// Whether a payload op is covered by (already folded into) a base.
    ///
    /// An op with `node` is judged by the base's `covers` when it has one;
    /// everything else by the original rule, `date < base.date`.
    public static func isCovered(_ op: Op, by base: Op) -> Bool {
        if let node = op.node, let seq = op.seq, let covers = base.covers {
            return seq <= covers[node, default: 0]
        }
        return op.date < base.date
    }

    /// Whether the value-op `candidate` replaces `base` (rule 4).
    public static func replaces(_ candidate: Op, base: Op) -> Bool {
        guard let candidateCovers = candidate.covers else {
            return isLarger(candidate, than: base)
        }
        let baseCovers = base.covers ?? [:]
        guard dominates(candidateCovers, baseCovers) else { return false }
        // Equal vectors: a tie, won by the larger (date, sha).
        if dominates(baseCovers, candidateCovers) { return isLarger(candidate, than: base) }
        return true
    }

    /// Every entry of `a` ≥ the same entry of `b` (a missing entry is 0).
    public static func dominates(_ a: [String: Int64], _ b: [String: Int64]) -> Bool {
        for (node, seq) in b where a[node, default: 0] < seq { return false }
        return true
    }

    /// `(date, sha)` order, the tie-break of bases; shas in code-point order.
    public static func isLarger(_ a: Op, than b: Op) -> Bool {
        a.date != b.date ? a.date > b.date : Bytewise.less(b.sha, a.sha)
    }

    /// What merging `op` into an oplog with this base does.
    public enum Decision: Sendable, Equatable {
        /// Rules 1, 2 and the losing half of 4: nothing changes.
        case noop
        /// Rule 3: a payload op to keep.
        case keep
        /// Rule 4: the op becomes the new base; payload ops it covers go.
        case replaceBase
    }

    /// Rules 1–4 for one op.
    /// - Parameters:
    ///   - alreadyHeld: whether the oplog holds an op (base or payload) with this sha.
    public static func decide(_ op: Op, base: Op, alreadyHeld: Bool) -> Decision {
        if alreadyHeld || Bytewise.equal(op.sha, base.sha) { return .noop }
        if op.isValueOp {
            return replaces(op, base: base) ? .replaceBase : .noop
        }
        return isCovered(op, by: base) ? .noop : .keep
    }

    /// The fold order of payload ops: `(max(date, base.date), sha)`. A late op
    /// (older than the base) sorts right after it; lateness is judged against
    /// the current base only.
    public static func orderKey(_ op: Op, base: Op) -> OrderKey {
        OrderKey(date: max(op.date, base.date), sha: op.sha)
    }

    /// Equal, hashed and ordered with the sha as bytes (code-point order),
    /// so that every node folds in one order whatever Unicode form a sha has.
    public struct OrderKey: Comparable, Sendable, Hashable {
        public let date: Int64
        public let sha: String
        public init(date: Int64, sha: String) {
            self.date = date
            self.sha = sha
        }
        public static func < (a: OrderKey, b: OrderKey) -> Bool {
            a.date != b.date ? a.date < b.date : Bytewise.less(a.sha, b.sha)
        }
        public static func == (a: OrderKey, b: OrderKey) -> Bool { a.date == b.date && Bytewise.equal(a.sha, b.sha) }
        public func hash(into hasher: inout Hasher) {
            hasher.combine(date)
            Bytewise.hash(sha, into: &hasher)
        }
    }
}
