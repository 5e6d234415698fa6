import TeaBagCore

/// An op addressed to a path, as a batch carries it.
public struct PathOp: Sendable, Equatable {
    public let key: PathKey
    public let op: Op
    public init(key: PathKey, op: Op) {
        self.key = key
        self.op = op
    }
}

/// A request the sync engine wants made. The engine does no I/O: the
/// runtime performs these over HTTP and the simulation over its simulated
/// network, and each reports the outcome back to the engine.
public enum SyncRequest: Sendable, Equatable {
    /// `GET oplog` for one path. `generation` goes back with the answer so
    /// that an answer older than a stream reset is not trusted.
    case fetch(store: String, key: PathKey, generation: Int)
    /// Own ops from the head of the store's outbox, in `seq` order.
    case deliver(store: String, entries: [OutboxEntry])
    /// Ops the store lacks (other nodes' ops, bases, prunes), one batch.
    case push(store: String, items: [PathOp])

    public var store: String {
        switch self {
        case .fetch(let store, _, _), .deliver(let store, _), .push(let store, _): store
        }
    }
}

/// What the engine tells the program using it.
public enum SyncEvent: Sendable, Equatable {
    /// A path's value changed (locally or from a store).
    case valueChanged(PathKey, PathValue)
    /// An own op was refused for good by a store: it is gone from the local
    /// oplog and from every outbox (docs/sync.md#oplog-rules).
    case writeFailed(PathKey, Op, TeaBagError)
    /// Another node's op that one store refuses and others hold: that path
    /// is never pruned (the stores run different reducer versions).
    case storesDisagree(PathKey, store: String, Op, TeaBagError)
    /// A read is waiting and every store failed the fetch.
    case fetchFailedEverywhere(PathKey, TeaBagError)
    /// A covering value-op replaced the local base.
    case pruned(PathKey, Op)
}
