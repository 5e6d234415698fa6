/// The engine's view of one store of a channel: what is in flight to it and
/// when it may be asked again after a failure.
struct StoreLink {
    var delivering = false
    var pushing = false
    var fetchesInFlight = 0
    /// Raised on every stream reset; fetch answers from an older generation
    /// may predate ops the stream missed and are not trusted.
    var generation = 0
    var streamConnected = false
    var failures = 0
    var retryAt: Int64 = 0
    var lastError: TeaBagError?
    /// Keys whose local oplog or mirror changed: compare them at the next chance.
    var needsSync: Set<PathKey> = []
    /// Keys whose own ops sync skipped because some waited in this store's
    /// outbox: compared again once none waits.
    var heldBack: Set<PathKey> = []
    /// Keys whose mirror of this store is unknown: fetch them.
    var needsFetch: Set<PathKey> = []
    /// Keys changed by another store's stream, compared with this store
    /// once their time comes (`SyncPolicy.relayDelayMs`), in that order.
    var relays = RelayQueue()

    func isReady(now: Int64) -> Bool { now >= retryAt }

    mutating func succeeded() {
        failures = 0
        retryAt = 0
    }

    /// Exponential backoff without jitter, so the simulation stays exact;
    /// a server's `Retry-After` wins when it is longer.
    mutating func failed(_ error: TeaBagError, now: Int64, policy: SyncPolicy) {
        failures += 1
        lastError = error
        let exponent = min(failures - 1, 16)
        let delay = min(policy.maxRetryDelayMs, policy.firstRetryDelayMs << exponent)
        retryAt = now + max(delay, error.retryAfterMs ?? 0)
    }
}

/// The engine's knobs; the defaults are the documented ones.
public struct SyncPolicy: Sendable {
    /// docs/sync.md#oplog-rules `prune.min_ops`.
    public var pruneMinOps = 32
    /// Ops in one batch request.
    public var batchLimit = 256
    /// Fetches in flight to one store at once.
    public var fetchesPerStore = 16
    public var firstRetryDelayMs: Int64 = 100
    public var maxRetryDelayMs: Int64 = 5_000
    /// How long an op learned from one store's stream waits before it is
    /// relayed to another store that lacks it. Its origin sends it to every
    /// store itself, and the other store's stream nearly always brings it
    /// within milliseconds: relaying at once made every follower push
    /// every op a second time, a noop at the store (40 % of the stores'
    /// ops in `teabag-bench agent`). The relay is still what carries an op
    /// to a store its origin cannot reach.
    public var relayDelayMs: Int64 = 250
    /// Hold (and keep current) every path a store streams, not only the ones
    /// read or written here. The agent does, so that watchers see everything.
    public var followStreamedPaths = true

    public init() {}
}
