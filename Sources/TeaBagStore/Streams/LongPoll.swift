/// The original long poll (docs/protocol.md#store): `GET …/oplog/stream[?reg_id=]`
/// answers at once when ops wait for the registration, else after the
/// delay; registrations idle for two minutes are dropped.
import Foundation
import ServiceLifecycle
import TeaBagCore

struct PollRegistration {
    var backlog: [JSON] = []
    var lastSeen: ContinuousClock.Instant
    /// Wakes the poll parked on this registration.
    var waiter: AsyncStream<Void>.Continuation?
    var waiterID: UUID?

    static let maxBacklog = 10_000
    static let idle: Duration = .seconds(120)

    /// Appends a user's accepted ops to each of its registrations.
    static func append(_ ops: [AcceptedOp], to registrations: inout [ByteKey: PollRegistration],
                       waking waiters: inout [AsyncStream<Void>.Continuation]) {
        let entries = ops.map { op -> JSON in ["type": .string(op.type), "path": .string(op.path), "op": op.op.json] }
        for id in Array(registrations.keys) {
            registrations[id]!.backlog.append(contentsOf: entries)
            if registrations[id]!.backlog.count > maxBacklog {
                // Overflow: dropped; its next poll gets a new registration and resyncs.
                if let waiter = registrations[id]!.waiter { waiters.append(waiter) }
                registrations[id] = nil
                continue
            }
            if let waiter = registrations[id]!.waiter {
                waiters.append(waiter)
                registrations[id]!.waiter = nil
                registrations[id]!.waiterID = nil
            }
        }
    }
}

extension StreamHub {
    /// Polls waiting for an op now.
    var parkedPolls: Int { withUsers { $0.values.reduce(0) { $0 + $1.registrations.values.filter { $0.waiter != nil }.count } } }

    struct PollAnswer {
        let regID: String
        let stream: [JSON]
        let resync: Bool
    }

    /// Answers at once when ops wait, else after `delay`.
    func poll(user: Int64, regID: String?, delay: Duration) async -> PollAnswer {
        let now = ContinuousClock.now
        let (id, known, waiting) = withUsers { users -> (String, Bool, [JSON]) in
            if let regID, var registration = users[user]?.registrations[ByteKey(regID)] {
                let backlog = registration.backlog
                registration.backlog = []
                registration.lastSeen = now
                // A second poll on one registration releases the first.
                registration.waiter?.finish()
                registration.waiter = nil
                users[user]!.registrations[ByteKey(regID)] = registration
                return (regID, true, backlog)
            }
            let id = Self.newRegistrationID()
            users[user, default: UserStreams()].registrations[ByteKey(id)] = PollRegistration(lastSeen: now)
            return (id, false, [])
        }
        if regID != nil && !known { return PollAnswer(regID: id, stream: [], resync: true) }
        if !waiting.isEmpty { return PollAnswer(regID: id, stream: waiting, resync: false) }

        let (wake, waker) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let pollID = UUID()
        let parked = withUsers { users -> Bool in
            guard var registration = users[user]?.registrations[ByteKey(id)], registration.backlog.isEmpty else { return false }
            registration.waiter = waker
            registration.waiterID = pollID
            users[user]?.registrations[ByteKey(id)] = registration
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
            withUsers { users in
                // Only this poll's own waiter: a newer poll may have parked its own.
                if users[user]?.registrations[ByteKey(id)]?.waiterID == pollID {
                    users[user]?.registrations[ByteKey(id)]?.waiter = nil
                    users[user]?.registrations[ByteKey(id)]?.waiterID = nil
                }
            }
            waker.finish()
        }
        let backlog = withUsers { users -> [JSON] in
            guard var registration = users[user]?.registrations[ByteKey(id)] else { return [] }
            let backlog = registration.backlog
            registration.backlog = []
            registration.lastSeen = ContinuousClock.now
            users[user]?.registrations[ByteKey(id)] = registration
            return backlog
        }
        return PollAnswer(regID: id, stream: backlog, resync: false)
    }

    /// Drops registrations idle for two minutes, and users left with nothing.
    func sweep() {
        let cutoff = ContinuousClock.now - PollRegistration.idle
        withUsers { users in
            for user in Array(users.keys) {
                users[user]!.registrations = users[user]!.registrations.filter { $0.value.waiter != nil || $0.value.lastSeen > cutoff }
                if users[user]!.isEmpty { users[user] = nil }
            }
        }
    }

    /// URL-safe: the original client puts it in the URL unescaped.
    static func newRegistrationID() -> String {
        (0..<16).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
