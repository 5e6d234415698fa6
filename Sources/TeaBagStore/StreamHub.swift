/// Fan-out of accepted ops to a user's listeners (SPEC §2.3): Server-Sent
/// Events with resume by sequence number, and the original long poll.
///
/// Each op is encoded once — one SSE frame, one JSON entry — and the same
/// bytes go to every listener, so a thousand listeners cost a thousand
/// writes, not a thousand encodings.
import Foundation
import GRDB
import NIOCore
import ServiceLifecycle
import Synchronization
import TeaBagCore

/// One streamed op, encoded once.
struct StreamFrame: Sendable {
    let seq: Int64
    let entry: JSON
    let sse: ByteBuffer

    init(seq: Int64, entry: JSON, text: String? = nil) {
        self.seq = seq
        self.entry = entry
        // Canonical JSON has no raw CR or LF, so it is one `data:` line.
        sse = ByteBuffer(string: "id: \(seq)\ndata: " + (text ?? entry.canonicalString) + "\n\n")
    }
}

/// What an SSE listener receives: frames, keep-alive comments, or the order to resync.
enum SSEItem: Sendable {
    case frame(StreamFrame)
    case heartbeat
}

final class StreamHub: Sendable {
    static let ringSize = 4_096
    static let listenerBacklog = 10_000
    static let registrationBacklog = 10_000
    static let registrationIdle: Duration = .seconds(120)

    private let users = Mutex<[Int64: UserStreams]>([:])
    private let pool: DatabasePool

    struct UserStreams {
        /// The newest frames, for quick resumes.
        var ring = FrameRing(capacity: StreamHub.ringSize)
        var listeners: [UUID: AsyncStream<SSEItem>.Continuation] = [:]
        var registrations: [String: Registration] = [:]
    }

    struct Registration {
        var backlog: [JSON] = []
        var lastSeen: ContinuousClock.Instant
        /// Wakes the poll parked on this registration.
        var waiter: AsyncStream<Void>.Continuation?
        var waiterID: UUID?
    }

    init(pool: DatabasePool) {
        self.pool = pool
    }

    var listenerCount: Int { users.withLock { $0.values.reduce(0) { $0 + $1.listeners.count } } }

    /// Called after each commit, in acceptance order.
    func publish(_ accepted: [AcceptedOp]) {
        guard !accepted.isEmpty else { return }
        let frames = accepted.map { (user: $0.user, frame: StreamFrame(seq: $0.seq, entry: $0.entry, text: $0.entryText)) }
        var waiters: [AsyncStream<Void>.Continuation] = []
        users.withLock { users in
            for (user, frame) in frames {
                // In place: copying a user's streams out would copy its ring per op.
                Self.deliver(frame, to: &users[user, default: UserStreams()], waking: &waiters)
            }
        }
        for waiter in waiters { waiter.yield() }
    }

    private static func deliver(_ frame: StreamFrame, to streams: inout UserStreams, waking waiters: inout [AsyncStream<Void>.Continuation]) {
        streams.ring.append(frame)
        for (id, listener) in streams.listeners {
            if case .dropped = listener.yield(.frame(frame)) {
                // Too slow to keep up: end it; the client resumes with Last-Event-ID.
                listener.finish()
                streams.listeners[id] = nil
            }
        }
        for id in Array(streams.registrations.keys) {
            streams.registrations[id]!.backlog.append(frame.entry)
            if streams.registrations[id]!.backlog.count > Self.registrationBacklog {
                // Overflow: dropped; its next poll gets a new registration and resyncs.
                if let waiter = streams.registrations[id]!.waiter { waiters.append(waiter) }
                streams.registrations[id] = nil
                continue
            }
            if let waiter = streams.registrations[id]!.waiter {
                waiters.append(waiter)
                streams.registrations[id]!.waiter = nil
                streams.registrations[id]!.waiterID = nil
            }
        }
    }

    // MARK: SSE

    /// A listener for `user`, first given every op after `lastEventID`
    /// (from memory or the database), or one resync when some were pruned —
    /// or when `lastEventID` is beyond every op this store holds: the client
    /// saw ops this database no longer has (restored from an older backup,
    /// or moved away and started empty), so its copy of this store is wrong
    /// and it must fetch again.
    func subscribe(user: Int64, after lastEventID: Int64?) -> (AsyncStream<SSEItem>, history: [StreamFrame], resync: Bool) {
        let id = UUID()
        let (stream, continuation) = AsyncStream.makeStream(of: SSEItem.self, bufferingPolicy: .bufferingOldest(Self.listenerBacklog))
        continuation.onTermination = { [weak self] _ in
            self?.users.withLock { _ = $0[user]?.listeners.removeValue(forKey: id) }
        }
        let fromMemory = users.withLock { users -> [StreamFrame]? in
            users[user, default: UserStreams()].listeners[id] = continuation
            return lastEventID.flatMap { users[user]?.ring.frames(after: $0) }
        }
        guard let after = lastEventID else { return (stream, [], false) }
        if let fromMemory { return (stream, fromMemory, false) }
        // Older than memory holds (or newer than anything held): read the user's log.
        let (rows, oldest, newest) = (try? pool.read { db -> ([Row], Int64?, Int64?) in
            let bounds = try Row.fetchOne(db, sql: "SELECT min(seq) AS oldest, max(seq) AS newest FROM events WHERE user_id = ?", arguments: [user])
            let rows = try Row.fetchAll(db, sql: "SELECT seq, type, path, op FROM events WHERE user_id = ? AND seq > ? ORDER BY seq LIMIT 100000",
                                        arguments: [user, after])
            return (rows, bounds?["oldest"], bounds?["newest"])
        }) ?? ([], nil, nil)
        let resync = oldest.map { $0 > after + 1 } ?? false || after > (newest ?? 0)
        let history = rows.compactMap { row -> StreamFrame? in
            guard let op = try? JSON.parse(row["op"] as String, maxDepth: 512) else { return nil }
            return StreamFrame(seq: row["seq"], entry: ["type": .string(row["type"]), "path": .string(row["path"]), "op": op])
        }
        return (stream, history, resync)
    }

    /// Sends a keep-alive comment to every listener.
    func heartbeat() {
        users.withLock { users in
            for streams in users.values { for listener in streams.listeners.values { listener.yield(.heartbeat) } }
        }
    }

    // MARK: long poll

    struct PollAnswer {
        let regID: String
        let stream: [JSON]
        let resync: Bool
    }

    /// The original long poll: answers at once when ops wait, else after `delay`.
    func poll(user: Int64, regID: String?, delay: Duration) async -> PollAnswer {
        let now = ContinuousClock.now
        let (id, known, waiting) = users.withLock { users -> (String, Bool, [JSON]) in
            if let regID, users[user]?.registrations[regID] != nil {
                let backlog = users[user]!.registrations[regID]!.backlog
                users[user]!.registrations[regID]!.backlog = []
                users[user]!.registrations[regID]!.lastSeen = now
                // A second poll on one registration releases the first.
                users[user]!.registrations[regID]!.waiter?.finish()
                users[user]!.registrations[regID]!.waiter = nil
                return (regID, true, backlog)
            }
            let id = Self.newRegistrationID()
            users[user, default: UserStreams()].registrations[id] = Registration(lastSeen: now)
            return (id, false, [])
        }
        if regID != nil && !known { return PollAnswer(regID: id, stream: [], resync: true) }
        if !waiting.isEmpty { return PollAnswer(regID: id, stream: waiting, resync: false) }

        let (wake, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let pollID = UUID()
        let parked = users.withLock { users -> Bool in
            guard var registration = users[user]?.registrations[id], registration.backlog.isEmpty else { return false }
            registration.waiter = waker
            registration.waiterID = pollID
            users[user]?.registrations[id] = registration
            return true
        }
        if parked {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    var iterator = wake.makeAsyncIterator()
                    _ = await iterator.next()
                }
                // A parked poll is answered (empty) on graceful shutdown rather than holding the exit.
                group.addTask { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: delay) } }
                await group.next()
                group.cancelAll()
            }
            users.withLock { users in
                // Only this poll's own waiter: a newer poll may have parked its own.
                if users[user]?.registrations[id]?.waiterID == pollID {
                    users[user]?.registrations[id]?.waiter = nil
                    users[user]?.registrations[id]?.waiterID = nil
                }
            }
            waker.finish()
        }
        let backlog = users.withLock { users -> [JSON] in
            guard var registration = users[user]?.registrations[id] else { return [] }
            let backlog = registration.backlog
            registration.backlog = []
            registration.lastSeen = ContinuousClock.now
            users[user]?.registrations[id] = registration
            return backlog
        }
        return PollAnswer(regID: id, stream: backlog, resync: false)
    }

    /// Drops registrations idle for two minutes.
    func sweep() {
        let cutoff = ContinuousClock.now - Self.registrationIdle
        users.withLock { users in
            for user in users.keys {
                let kept = users[user]!.registrations.filter { $0.value.waiter != nil || $0.value.lastSeen > cutoff }
                users[user]?.registrations = kept
            }
        }
    }

    /// URL-safe: the original client puts it in the URL unescaped.
    static func newRegistrationID() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}

/// The newest frames of a user, a fixed-size ring: appending never moves the others.
struct FrameRing {
    private var slots: [StreamFrame?]
    private var next = 0
    private(set) var count = 0

    init(capacity: Int) {
        slots = Array(repeating: nil, count: capacity)
    }

    mutating func append(_ frame: StreamFrame) {
        slots[next] = frame
        next = (next + 1) % slots.count
        count = min(count + 1, slots.count)
    }

    /// Every frame after `seq`, oldest first, when the ring still holds
    /// `seq + 1` and `seq` is not beyond its newest frame (else nil: ask the database).
    func frames(after seq: Int64) -> [StreamFrame]? {
        guard count > 0 else { return nil }
        let oldestIndex = (next - count + slots.count) % slots.count
        let newestIndex = (next - 1 + slots.count) % slots.count
        guard let oldest = slots[oldestIndex], oldest.seq <= seq + 1,
              let newest = slots[newestIndex], seq <= newest.seq else { return nil }
        var out: [StreamFrame] = []
        for offset in 0..<count {
            if let frame = slots[(oldestIndex + offset) % slots.count], frame.seq > seq { out.append(frame) }
        }
        return out
    }
}
