/// What the writer keeps of one path between pushes, so that a push costs
/// a hash probe and one incremental fold, whatever the oplog's length.
import TeaBagCore

struct PathKey: Hashable, Sendable {
    let user: Int64
    let type: String
    let path: String

    // Bytes, not String equality: "é" and "e\u{301}" are two paths (issue 14 §6).
    static func == (a: PathKey, b: PathKey) -> Bool {
        a.user == b.user && Bytewise.equal(a.type, b.type) && Bytewise.equal(a.path, b.path)
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(user)
        Bytewise.hash(type, into: &hasher)
        Bytewise.hash(path, into: &hasher)
    }
}

/// One path as the writer holds it. A class: the writer mutates it in
/// place in its cache, many times per commit.
final class PathState {
    let id: Int64
    let key: PathKey
    var base: Op
    /// The base's row in `log`; nil for the empty base, which has none.
    var baseRow: Int64?
    /// Shas of the payload ops held.
    var shas: ShaIndex
    /// Order key of the last op folded into `value`; a new op that sorts after it folds incrementally.
    var lastKey: MergeRules.OrderKey?
    var value: JSON?
    /// Which reducer produced `value` (file and version); another one means a refold.
    var valueVersion: String?
    var valueDate: Int64
    var valueSHA: String
    var skipped: Int

    /// Ops accepted in this commit, to fold in one call at its end.
    var pending: [Op] = []
    /// The `paths` row needs writing at the end of this commit.
    var dirty = false
    var baseChanged = false

    init(id: Int64, key: PathKey, base: Op, baseRow: Int64?, shas: ShaIndex) {
        self.id = id
        self.key = key
        self.base = base
        self.baseRow = baseRow
        self.shas = shas
        valueDate = base.date
        valueSHA = base.sha
        skipped = 0
    }

    /// No value kept: the next `GET value` folds the path.
    func markStale() {
        value = nil
        valueVersion = nil
        lastKey = nil
        pending.removeAll()
    }

    /// Queues a kept op to be folded at the end of the commit, with the
    /// path's other new ops (both backends). An op that sorts before the
    /// last one folded, or a value folded by another reducer version, leaves
    /// the value stale instead (folded when read), since folding again now
    /// would cost the whole oplog on every such push.
    func foldLater(_ op: Op, reducer: (any Reducer)?) {
        let key = MergeRules.orderKey(op, base: base)
        guard let reducer, value != nil, valueVersion == tag(reducer), lastKey.map({ $0 < key }) ?? true else {
            markStale()
            return
        }
        pending.append(op)
        lastKey = key
    }

    /// Folds the whole path again over `ops` (a new base), both backends.
    func refold(ops: [Op], reducer: (any Reducer)?, folds: WriterFold) {
        pending.removeAll()
        guard let reducer, let outcome = folds.fold(key, with: reducer, state: base.value ?? .null, ops: ops[...]) else {
            markStale()
            return
        }
        value = outcome.value
        valueVersion = tag(reducer)
        skipped = outcome.skipped.count
        lastKey = ops.last.map { MergeRules.orderKey($0, base: base) }
        valueDate = ops.last?.date ?? base.date
        valueSHA = ops.last?.sha ?? base.sha
    }

    func held(_ sha: String) -> Bool { held(sha, ShaIndex.fingerprint(sha)) }

    func held(_ sha: String, _ fingerprint: ShaIndex.Fingerprint) -> Bool {
        Bytewise.equal(sha, base.sha) || shas.contains(fingerprint)
    }
}
