import TeaBag
import TeaBagCore

/// One entry of a store's stream log: what SSE sends, `id:` included.
struct StreamEntry {
    let id: Int
    let key: PathKey
    let op: Op
}

/// A store server as sync sees it (docs/protocol.md#store): per path an `Oplog` merged by
/// the core rules as its durable state, the FutureDate and validation
/// checks, and a stream log of every accepted op with bounded retention, so
/// that a reconnect sometimes cannot resume. Its clock is virtual time.
final class SimStore {
    static let maxSkewMs: Int64 = 10 * 60_000

    let name: String
    /// Stream entries kept for resuming; small, so that resyncs happen.
    let retention: Int
    private(set) var oplogs: [PathKey: Oplog] = [:]
    /// The shas of each path's folded value, kept current for the invariants.
    private(set) var values: [PathKey: [String]] = [:]
    /// Payload ops this store answered `accepted` for: never to leave its value.
    private(set) var acknowledged: [PathKey: Set<String>] = [:]
    /// Paths whose value or acknowledged set changed since the last check.
    var changed: Set<PathKey> = []
    private(set) var log: [StreamEntry] = []
    private(set) var lastID = 0
    private(set) var up = true
    /// Raised by every crash: answers on their way out when it crashed are lost.
    private(set) var epoch = 0

    init(name: String, retention: Int) {
        self.name = name
        self.retention = retention
    }

    func oplog(_ key: PathKey) -> Oplog { oplogs[key] ?? Oplog() }
    func value(_ key: PathKey) -> [String] { values[key] ?? [] }

    /// One op of a batch, checked in the order of docs/protocol.md#store: a held sha is a noop
    /// before any other check; then the date, then the reducer's validation.
    /// Returns the stream entry when the op changed the oplog.
    func receive(_ key: PathKey, _ op: Op, now: Int64) -> (StoreAnswer, StreamEntry?) {
        var oplog = self.oplog(key)
        if oplog.holds(sha: op.sha) { return (acknowledge(key, op, noop: true), nil) }
        if op.date > now + Self.maxSkewMs {
            let seconds = max(1, (op.date - now - Self.maxSkewMs + 999) / 1000)
            return (.retryLater(TeaBagError("StoreError:FutureDate", "the op is dated \(op.date - now) ms ahead of store \(name)",
                                            status: 503, retryAfterMs: seconds * 1000)), nil)
        }
        if let payload = op.payload {
            do { try ShaLog.strict.validate(payload: payload) } catch {
                return (.refused(TeaBagError("StoreError:InvalidOp", error.message, status: 400)), nil)
            }
        }
        guard oplog.merge(op).changed else { return (acknowledge(key, op, noop: true), nil) }
        oplogs[key] = oplog
        values[key] = ShaLog.shas(oplog.value(using: ShaLog.strict).value)
        changed.insert(key)
        lastID += 1
        let entry = StreamEntry(id: lastID, key: key, op: op)
        log.append(entry)
        if log.count > retention { log.removeFirst(log.count - retention) }
        return (acknowledge(key, op, noop: false), entry)
    }

    private func acknowledge(_ key: PathKey, _ op: Op, noop: Bool) -> StoreAnswer {
        if !op.isValueOp, acknowledged[key, default: []].insert(op.sha).inserted { changed.insert(key) }
        return .accepted(noop: noop)
    }

    /// SSE `Last-Event-ID`: whether every entry after `id` is still held.
    func canResume(after id: Int) -> Bool {
        id >= lastID || (log.first.map { $0.id <= id + 1 } ?? false)
    }

    func entries(after id: Int) -> [StreamEntry] { log.filter { $0.id > id } }

    /// Durable state (oplogs, stream log) survives; requests and answers in
    /// flight and stream connections do not.
    func crash() {
        up = false
        epoch += 1
    }

    func restart() { up = true }
}
