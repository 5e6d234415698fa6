import Synchronization
import TeaBagCore

/// This instance's identity as a writer (docs/sync.md#oplog-rules): a random `node` id and
/// the next `seq`, both stable across restarts.
public struct NodeRecord: Sendable, Equatable {
    public let id: String
    public var nextSeq: Int64

    public init(id: String, nextSeq: Int64) {
        self.id = id
        self.nextSeq = nextSeq
    }

    /// 16 random bytes in hex: unique without coordination.
    public static func fresh() -> NodeRecord {
        let id = (0..<16).map { _ in
            let hex = String(UInt8.random(in: 0...255), radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined()
        return NodeRecord(id: id, nextSeq: 1)
    }
}

/// An own op waiting to reach one or more stores, in `seq` order.
public struct OutboxEntry: Sendable, Equatable {
    public let seq: Int64
    public let key: PathKey
    public let op: Op

    public init(seq: Int64, key: PathKey, op: Op) {
        self.seq = seq
        self.key = key
        self.op = op
    }
}

/// Where a client keeps what must survive it: the node identity and the
/// outbox (durable before a write is acknowledged), and a cache of the local
/// oplogs (written behind, so that a restart answers reads at once).
///
/// Calls come from one actor at a time; implementations need not order
/// concurrent calls.
public protocol ClientStorage: Sendable {
    func loadNode() throws -> NodeRecord?
    func saveNode(_ node: NodeRecord) throws
    /// Appends an own op to the outboxes of `stores` and records `nextSeq`,
    /// in one durable step: once it returns, the write is acknowledged.
    func enqueue(channel: String, entry: OutboxEntry, stores: [String], nextSeq: Int64) throws
    /// `stores` accepted these ops (or refused them for good).
    func dequeue(channel: String, store: String, seqs: [Int64]) throws
    /// An op refused for good: gone from every store's outbox.
    func drop(channel: String, seq: Int64) throws
    /// A store left the channel: its outbox goes.
    func dropOutbox(channel: String, store: String) throws
    /// Every outbox of a channel, each in `seq` order.
    func outboxes(channel: String) throws -> [String: [OutboxEntry]]
    /// Replaces the cached oplogs of these paths.
    func saveOplogs(channel: String, _ oplogs: [(key: PathKey, ops: [Op])]) throws
    /// Adds ops to the cached oplogs of their paths, leaving the rest of
    /// each as it is: no read, no rewrite (an op's own row, at most).
    func addToOplogs(channel: String, _ ops: [(key: PathKey, op: Op)]) throws
    func oplogs(channel: String) throws -> [(key: PathKey, ops: [Op])]
    /// Whether `saveOplogs` keeps anything: when not, the engine does not
    /// build the copies it would be handed.
    var keepsOplogs: Bool { get }
    /// Small named values, e.g. the last mount table read, so that a restart
    /// with the table unreachable still knows its stores.
    func setting(_ name: String) throws -> String?
    func saveSetting(_ name: String, _ value: String) throws
    /// Makes `changes`, in order, durable together (see the extension).
    func apply(_ changes: [StorageChange]) throws
}

/// One change to a client's storage, so that a writer can commit many in
/// one transaction (group commit, `StorageWriter`).
public enum StorageChange: Sendable {
    /// `ClientStorage.enqueue`; `nextSeq` only ever moves forward.
    case enqueue(channel: String, entry: OutboxEntry, stores: [String], nextSeq: Int64)
    case dequeue(channel: String, store: String, seqs: [Int64])
    case drop(channel: String, seq: Int64)
    case dropOutbox(channel: String, store: String)
    case saveOplogs(channel: String, [(key: PathKey, ops: [Op])])
    case addToOplogs(channel: String, [(key: PathKey, op: Op)])
    case saveSetting(name: String, value: String)
}

extension ClientStorage {
    /// Makes `changes`, in order, durable together. This default makes them
    /// one by one; `SQLiteClientStorage` makes them in one transaction.
    public func apply(_ changes: [StorageChange]) throws {
        for change in changes {
            switch change {
            case .enqueue(let channel, let entry, let stores, let nextSeq):
                try enqueue(channel: channel, entry: entry, stores: stores, nextSeq: nextSeq)
            case .dequeue(let channel, let store, let seqs): try dequeue(channel: channel, store: store, seqs: seqs)
            case .drop(let channel, let seq): try drop(channel: channel, seq: seq)
            case .dropOutbox(let channel, let store): try dropOutbox(channel: channel, store: store)
            case .saveOplogs(let channel, let oplogs): try saveOplogs(channel: channel, oplogs)
            case .addToOplogs(let channel, let ops): try addToOplogs(channel: channel, ops)
            case .saveSetting(let name, let value): try saveSetting(name, value)
            }
        }
    }
}

/// The default storage: everything in memory, gone with the process. The
/// simulation keeps one across a simulated crash, as a disk would be.
public final class InMemoryClientStorage: ClientStorage {
    private struct State {
        var node: NodeRecord?
        var outboxes: [String: [String: [OutboxEntry]]] = [:]
        var oplogs: [String: [PathKey: [Op]]] = [:]
        var settings: [String: String] = [:]
        /// Keep the oplog cache? The simulation turns it off to prove a
        /// restart from the outbox alone loses nothing.
        var cachesOplogs: Bool
    }

    private let state: Mutex<State>

    public init(cachesOplogs: Bool = false) {
        state = Mutex(State(cachesOplogs: cachesOplogs))
    }

    public func loadNode() throws -> NodeRecord? { state.withLock { $0.node } }
    public func saveNode(_ node: NodeRecord) throws { state.withLock { $0.node = node } }

    public func enqueue(channel: String, entry: OutboxEntry, stores: [String], nextSeq: Int64) throws {
        state.withLock { state in
            for store in stores { state.outboxes[channel, default: [:]][store, default: []].append(entry) }
            if let kept = state.node?.nextSeq, kept < nextSeq { state.node?.nextSeq = nextSeq }
        }
    }

    public func dequeue(channel: String, store: String, seqs: [Int64]) throws {
        let gone = Set(seqs)
        state.withLock { state in
            // Usually the head of the outbox: drop it without scanning the rest.
            let head = state.outboxes[channel]?[store].map { outbox in
                outbox.count >= gone.count && outbox.prefix(gone.count).allSatisfy { gone.contains($0.seq) }
            } ?? false
            if head {
                state.outboxes[channel]?[store]?.removeFirst(gone.count)
            } else {
                state.outboxes[channel]?[store]?.removeAll { gone.contains($0.seq) }
            }
        }
    }

    public func drop(channel: String, seq: Int64) throws {
        state.withLock { state in
            for store in state.outboxes[channel, default: [:]].keys {
                state.outboxes[channel]?[store]?.removeAll { $0.seq == seq }
            }
        }
    }

    public func dropOutbox(channel: String, store: String) throws {
        _ = state.withLock { $0.outboxes[channel]?.removeValue(forKey: store) }
    }

    public func outboxes(channel: String) throws -> [String: [OutboxEntry]] {
        state.withLock { $0.outboxes[channel] ?? [:] }
    }

    public func saveOplogs(channel: String, _ oplogs: [(key: PathKey, ops: [Op])]) throws {
        state.withLock { state in
            guard state.cachesOplogs else { return }
            for (key, ops) in oplogs { state.oplogs[channel, default: [:]][key] = ops }
        }
    }

    public func addToOplogs(channel: String, _ ops: [(key: PathKey, op: Op)]) throws {
        state.withLock { state in
            guard state.cachesOplogs else { return }
            for (key, op) in ops where !(state.oplogs[channel]?[key] ?? []).contains(where: { $0.sha == op.sha }) {
                state.oplogs[channel, default: [:]][key, default: []].append(op)
            }
        }
    }

    public func oplogs(channel: String) throws -> [(key: PathKey, ops: [Op])] {
        state.withLock { ($0.oplogs[channel] ?? [:]).sorted { $0.key < $1.key }.map { (key: $0.key, ops: $0.value) } }
    }

    public var keepsOplogs: Bool { state.withLock { $0.cachesOplogs } }

    public func setting(_ name: String) throws -> String? { state.withLock { $0.settings[name] } }
    public func saveSetting(_ name: String, _ value: String) throws { state.withLock { $0.settings[name] = value } }
}
