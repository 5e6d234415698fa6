/// One path's oplog in memory: exactly one base value-op and the payload ops
/// it does not cover, kept in fold order (docs/sync.md#oplog-rules).
///
/// Sized for a client holding 100,000s of paths, each with an oplog per
/// store as well as its own: the base lives in a shared box (most paths'
/// base is the empty one, and an `Op` inline is 104 bytes), and the sha
/// index exists only past `indexedFrom` ops (a `Set` per oplog was about
/// 110 bytes a path, for one or two ops a scan finds as fast).
public struct Oplog: Sendable, Equatable {
    private var baseBox: OpBox
    public private(set) var base: Op {
        get { baseBox.op }
        set { baseBox = OpBox(newValue) }
    }
    /// Payload ops in fold order.
    public private(set) var ops: [Op]
    /// The payload ops' shas, as bytes (another Unicode spelling is another
    /// sha); empty while there are `indexedFrom` ops or fewer.
    private var shas: Set<ByteKey>
    static let indexedFrom = 8

    public init() {
        self.baseBox = OpBox.empty
        self.ops = []
        self.shas = []
    }

    /// An oplog from its wire form (an array whose first element is the base),
    /// or from any set of ops: each is merged, so the result obeys the rules
    /// whatever order they come in.
    public init<S: Sequence>(merging ops: S) where S.Element == Op {
        self.init()
        for op in ops { merge(op) }
    }

    /// The oplog as the protocol shows it: the base first, then the payload ops.
    public var wire: [Op] { [base] + ops }

    public var payloadCount: Int { ops.count }

    /// Newest date held, for the date rule of new ops.
    public var newestDate: Int64 { ops.reduce(base.date) { max($0, $1.date) } }

    public func holds(sha: String) -> Bool { Bytewise.equal(sha, base.sha) || holdsPayload(sha) }

    private func holdsPayload(_ sha: String) -> Bool {
        if ops.count <= Self.indexedFrom { return ops.contains { Bytewise.equal($0.sha, sha) } }
        return shas.contains(ByteKey(sha))
    }

    /// The index after `ops` changed: built once they outgrow a scan, dropped when they shrink back.
    private mutating func reindex() {
        if ops.count <= Self.indexedFrom {
            if !shas.isEmpty { shas = [] }
        } else if shas.count != ops.count {
            shas = Set(ops.map { ByteKey($0.sha) })
        }
    }

    public enum MergeResult: Sendable, Equatable {
        case noop
        case added
        /// The op became the base; `dropped` are the payload ops it covered.
        case replacedBase(dropped: [Op])

        public var changed: Bool { self != .noop }
    }

    /// Merges one op by rules 1–4.
    @discardableResult
    public mutating func merge(_ op: Op) -> MergeResult {
        switch MergeRules.decide(op, base: base, alreadyHeld: holdsPayload(op.sha)) {
        case .noop:
            return .noop
        case .keep:
            let key = MergeRules.orderKey(op, base: base)
            ops.insert(op, at: insertionIndex(for: key))
            if ops.count > Self.indexedFrom && !shas.isEmpty { shas.insert(ByteKey(op.sha)) } else { reindex() }
            return .added
        case .replaceBase:
            let newBase = op
            var kept: [Op] = []
            var dropped: [Op] = []
            for existing in ops {
                if MergeRules.isCovered(existing, by: newBase) { dropped.append(existing) } else { kept.append(existing) }
            }
            base = newBase
            // Lateness is judged against the new base, so the order may change.
            ops = kept.sorted { MergeRules.orderKey($0, base: newBase) < MergeRules.orderKey($1, base: newBase) }
            if ops.count > Self.indexedFrom && !shas.isEmpty { for gone in dropped { shas.remove(ByteKey(gone.sha)) } } else { reindex() }
            return .replacedBase(dropped: dropped)
        }
    }

    /// Removes a payload op (the origin does so when a store refuses it for good).
    @discardableResult
    public mutating func remove(sha: String) -> Op? {
        guard holdsPayload(sha), let index = ops.firstIndex(where: { Bytewise.equal($0.sha, sha) }) else { return nil }
        let removed = ops.remove(at: index)
        if ops.count > Self.indexedFrom { shas.remove(ByteKey(sha)) } else { reindex() }
        return removed
    }

    private func insertionIndex(for key: MergeRules.OrderKey) -> Int {
        let base = self.base  // once, not out of its box at every step
        // Appends are the common case: new ops carry the newest dates.
        if let last = ops.last, MergeRules.orderKey(last, base: base) < key { return ops.count }
        var low = 0
        var high = ops.count
        while low < high {
            let mid = (low + high) / 2
            if MergeRules.orderKey(ops[mid], base: base) < key { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The covers of a value-op that prunes this oplog: the base's covers
    /// raised by the (node, seq) of every folded op.
    public var pruneCovers: [String: Int64] {
        var covers = base.covers ?? [:]
        for op in ops {
            if let node = op.node, let seq = op.seq { covers[node] = max(covers[node, default: 0], seq) }
        }
        return covers
    }

    public static func == (a: Oplog, b: Oplog) -> Bool { a.base == b.base && a.ops == b.ops }
}

/// An op kept by reference: an oplog's base, shared by the copies of the oplog.
final class OpBox: Sendable {
    let op: Op
    init(_ op: Op) { self.op = op }
    static let empty = OpBox(.empty)
}
