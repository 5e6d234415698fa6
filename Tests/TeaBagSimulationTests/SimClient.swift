@testable import TeaBag
import TeaBagCore

/// How a client dates its ops (docs/sync.md#oplog-rules "New ops": the local clock corrected
/// by the median offset to the stores).
enum ClockMode: CustomStringConvertible {
    /// The runtime knew its offset before the run (a residual within the
    /// ±2 s `Date` noise stays).
    case corrected(residual: Int64)
    /// Learns the offset from the `Date` of each answer, as `ClockOffset`
    /// does, starting from nothing after every restart: `now` jumps once.
    case learning
    /// Never corrects: a client more than `max_skew` ahead has its ops
    /// answered FutureDate until the stores' time catches up (up to an hour
    /// of virtual time, which the quiescence phase lets pass).
    case uncorrected

    var description: String {
        switch self {
        case .corrected(let residual): "corrected(\(residual))"
        case .learning: "learning"
        case .uncorrected: "uncorrected"
        }
    }
}

/// The simulation's side of one SSE connection from a client to a store.
struct StreamLine {
    var up = false
    /// A connect attempt is scheduled.
    var connecting = false
    /// Raised at every break, so entries still in the pipe of a broken
    /// connection are dropped.
    var epoch = 0
    /// `Last-Event-ID`: the id of the last entry handed to the engine;
    /// the runtime keeps it across reconnects, not across its own restart.
    var cursor: Int?
    /// When the last entry put in the pipe arrives: entries stay in order.
    var pipeTail: Int64 = 0
}

/// A device: an engine over storage that survives its crashes, a skewed
/// clock, and what it was told (acknowledged and failed writes).
final class SimClient {
    let index: Int
    let nodeID: String
    let storage: InMemoryClientStorage
    let cachesOplogs: Bool
    /// Fixed per client, in [-1 h, +1 h].
    let skew: Int64
    let clockMode: ClockMode
    var clockOffset = ClockOffset()
    private(set) var engine: ChannelSync?
    /// Raised at every crash: answers and timers of an older engine are ignored.
    private(set) var incarnation = 0
    var inflight: [Int: SyncRequest] = [:]
    var streams: [StreamLine]
    /// Own writes `write` returned, per path, in order, with the
    /// incarnation that made them.
    var acked: [PathKey: [(sha: String, incarnation: Int)]] = [:]
    /// Paths a store answered a fetch for since the last (re)start.
    var fetchedSinceStart: Set<PathKey> = []
    /// Shas of writes made with a payload marked bad.
    var bad: Set<String> = []
    /// Shas reported by `writeFailed`.
    var failed: Set<String> = []
    /// The virtual time of the earliest wake scheduled.
    var pendingWake: Int64?
    /// The last value checked per path, to check again only after a change.
    var checked: [PathKey: PathValue] = [:]

    /// Whether an acknowledged write must be in the local value of a loaded
    /// path. Without an oplog cache a restart knows only the outbox: writes
    /// every store accepted before the crash come back with the first fetch
    /// (no store loses them), and until then the value lacks them.
    func mustHold(_ write: (sha: String, incarnation: Int), at key: PathKey) -> Bool {
        !failed.contains(write.sha) && (cachesOplogs || write.incarnation == incarnation || fetchedSinceStart.contains(key))
    }

    init(index: Int, nodeID: String, cachesOplogs: Bool, skew: Int64, clockMode: ClockMode, stores: Int) {
        self.index = index
        self.nodeID = nodeID
        self.cachesOplogs = cachesOplogs
        self.storage = InMemoryClientStorage(cachesOplogs: cachesOplogs)
        self.skew = skew
        self.clockMode = clockMode
        self.streams = Array(repeating: StreamLine(), count: stores)
    }

    var name: String { "c\(index)" }
    var isUp: Bool { engine != nil }

    /// The `now` the engine gets, for op dates and its retry timers alike.
    func now(_ virtual: Int64) -> Int64 {
        switch clockMode {
        case .corrected(let residual): virtual + residual
        case .learning: virtual + skew + clockOffset.correction
        case .uncorrected: virtual + skew
        }
    }

    /// An answer carries the store's `Date` (whole seconds of virtual time).
    func observeDate(store: String, virtual: Int64) {
        guard case .learning = clockMode else { return }
        clockOffset.observe(store: store, serverDate: virtual / 1000 * 1000, localNow: virtual + skew)
    }

    /// A (re)start: the same node record, the engine rebuilt from storage.
    func start(stores: [String], policy: SyncPolicy) throws {
        var record = try storage.loadNode()
        if record == nil {
            record = NodeRecord(id: nodeID, nextSeq: 1)
            try storage.saveNode(record!)
        }
        engine = try ChannelSync(channel: "main", stores: stores, node: NodeIdentity(record!), storage: storage,
                                 policy: policy, reducers: { $0 == ShaLog.type ? ShaLog.lenient : nil })
        checked = [:]
    }

    /// Everything in memory goes; storage stays, as a disk would.
    func crash() {
        engine = nil
        incarnation += 1
        inflight = [:]
        fetchedSinceStart = []
        pendingWake = nil
        clockOffset = ClockOffset()
        for s in streams.indices {
            streams[s].up = false
            streams[s].connecting = false
            streams[s].epoch += 1
            streams[s].cursor = nil
        }
    }

    /// The write-behind oplog cache of the runtime.
    func flushCache() {
        guard let engine else { return }
        try? storage.saveOplogs(channel: "main", engine.takeDirtyOplogs())
    }
}
