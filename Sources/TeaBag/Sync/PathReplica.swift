import TeaBagCore

/// A value as the client shows it (SPEC §7): the folded value, the date and
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
            buffered.append(op)
            self = .fetching(generation: generation, buffered: buffered)
        case .known(var oplog):
            oplog.merge(op)
            self = .known(oplog)
        }
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
    var mirrors: [String: StoreMirror] = [:]
    /// Other nodes' ops a store refused for good: never pushed there again.
    var refusedAt: [String: Set<String>] = [:]
    /// Stores whose fetch failed since the last success, to tell a reader
    /// that every store failed.
    var fetchFailures: Set<String> = []

    func mirror(_ store: String) -> StoreMirror { mirrors[store] ?? .unknown }

    /// Whether every store in `stores` is known to hold exactly the local set.
    func allStoresHoldLocal(_ stores: [String]) -> Bool {
        let localShas = Set(local.ops.map(\.sha))
        for store in stores {
            guard let oplog = mirror(store).oplog, oplog.base.sha == local.base.sha,
                  oplog.payloadCount == local.payloadCount, Set(oplog.ops.map(\.sha)) == localShas else { return false }
        }
        return true
    }
}
