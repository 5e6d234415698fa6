import TeaBagCore

/// A value as the client shows it (docs/protocol.md#agent-local-api): the folded value, the date and
/// sha of the newest op in fold order (the base when there are none), and
/// how many payload ops the oplog holds.
public struct PathValue: Sendable, Equatable {
    public let value: JSON
    public let date: Int64
    public let sha: String
    public let ops: Int

    public var json: JSON {
        ["value": value, "date": .number(Double(date)), "sha": .string(sha), "ops": .number(Double(ops))]
    }
}

/// What the client knows a store holds for one path, built from the store's
/// own answers (a fetch, then its stream, then what it accepted from us), so
/// that sync never needs to refetch to compare.
enum StoreMirror {
    /// Not fetched, or no longer trusted (a stream reset).
    case unknown
    /// A fetch is in flight; streamed ops wait here to be merged over its snapshot.
    case fetching(generation: Int, buffered: [Op])
    case known(Oplog)

    var oplog: Oplog? {
        if case .known(let oplog) = self { return oplog }
        return nil
    }

    /// Merges an op the store is known to hold now.
    mutating func learn(_ op: Op) {
        switch self {
        case .unknown: break
        case .fetching(let generation, var buffered):
            // Cleared first so the buffer has one owner and grows in place.
            self = .unknown
            buffered.append(op)
            self = .fetching(generation: generation, buffered: buffered)
        case .known:
            _ = mergeIfKnown(op)
        }
    }

    /// Merges into a known mirror, in place (a copy of the oplog per op was
    /// a quarter of a busy client's time); whether it changed anything.
    mutating func mergeIfKnown(_ op: Op) -> Bool {
        guard case .known(var oplog) = self else { return false }
        self = .unknown
        defer { self = .known(oplog) }
        return oplog.merge(op).changed
    }
}

/// One path of a channel on this client: the local oplog and its value,
/// and a mirror of each store's oplog.
struct PathReplica {
    var local = Oplog()
    /// The folded value; nil when the type has no reducer here.
    var value: PathValue?
    /// Some store answered a fetch, or the oplog came from the cache or a
    /// local write: reads are answered locally from now on.
    var loaded = false
    /// The value waits for a fold made elsewhere (a slow type): `value` is
    /// older than `local`, and neither read nor folded onto.
    var stale = false
    /// Raised at each change while stale: a fold of an older oplog is dropped.
    var foldGeneration = 0
    var mirrors: [String: StoreMirror] = [:]
    /// Other nodes' ops a store refused for good: never pushed there again.
    var refusedAt: [String: Set<String>] = [:]
    /// Stores whose fetch failed since the last success, to tell a reader
    /// that every store failed.
    var fetchFailures: Set<String> = []
    /// Per store, ops its mirror learned from the store's answers to us and
    /// not yet from its stream (or a fetch). Until then the mirror may show
    /// no state the store ever had (ops others got accepted before ours may
    /// still be on their way), and prunes on such mirrors can cover sets no
    /// store held: their `covers` then do not dominate one another, and the
    /// stores keep different bases for good (seed 190 of the simulation).
    var unconfirmed: [String: Set<String>] = [:]

    func mirror(_ store: String) -> StoreMirror { mirrors[store] ?? .unknown }

    /// `store` answered that it added `op`. Noops teach nothing: a value-op
    /// may have lost to the store's base, and what the store already held
    /// its stream or a fetch brings. A mirror being fetched waits for the
    /// snapshot and the stream, which together are one state of the store.
    mutating func learnAccepted(_ op: Op, at store: String) {
        guard mirrors[store]?.mergeIfKnown(op) == true else { return }
        unconfirmed[store, default: []].insert(op.sha)
    }

    /// `store`'s stream carried `op`: its mirror is the store's state as of
    /// that op, and what it learned from answers and no longer holds was
    /// covered by a base the store had.
    mutating func learnStreamed(_ op: Op, at store: String) {
        mirrors[store]?.learn(op)
        guard var pending = unconfirmed[store] else { return }
        pending.remove(op.sha)
        if let oplog = mirror(store).oplog { pending = pending.filter { oplog.holds(sha: $0) } }
        unconfirmed[store] = pending.isEmpty ? nil : pending
        // An emptied dictionary keeps its storage: let it go (one a path, held by the 100,000).
        if unconfirmed.isEmpty { unconfirmed = [:] }
    }

    /// Whether every store in `stores` is known to hold exactly the local set.
    /// Called for every prune candidate at every pump, and mostly false: the
    /// cheap checks (mirror known, same base, same count) come first, and the
    /// ops are compared without building sets (shas are unique within an
    /// oplog, so equal counts and every local op held means equal sets).
    func allStoresHoldLocal(_ stores: [String]) -> Bool {
        for store in stores {
            guard let oplog = mirror(store).oplog, Bytewise.equal(oplog.base.sha, local.base.sha),
                  oplog.payloadCount == local.payloadCount, unconfirmed[store] == nil else { return false }
        }
        for store in stores {
            guard let oplog = mirror(store).oplog else { return false }
            for op in local.ops where Bytewise.equal(op.sha, oplog.base.sha) || !oplog.holds(sha: op.sha) { return false }
        }
        return true
    }
}
