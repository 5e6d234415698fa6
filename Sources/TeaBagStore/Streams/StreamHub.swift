/// Fan-out of accepted ops to a user's listeners (docs/protocol.md#store): Server-Sent
/// Events with resume by stream id, and the original long poll.
///
/// The writer calls `publish` after each commit. Each op is encoded once —
/// one SSE frame — and each event loop that has listeners of the users
/// concerned gets one task with all of its listeners' frames, so a
/// thousand listeners cost a thousand writes, not a thousand encodings or
/// thread hops. A user's entry exists only while it has listeners or poll
/// registrations: an idle user costs no memory (issue 14 §4); resumes read
/// the `log` (`StreamHistory`).
import Dispatch
import Foundation
import GRDB
import NIOCore
import Synchronization
import TeaBagCore

final class StreamHub: Sendable {
    private let users = Mutex<[Int64: UserStreams]>([:])
    private let nextListenerID = Atomic<UInt64>(1)
    private let reader: any DatabaseReader
    let ids: StreamIDs

    struct UserStreams {
        var listeners: [UInt64: StreamListener] = [:]
        /// Keyed by the id's bytes: a reg_id spelled otherwise is another registration.
        var registrations: [ByteKey: PollRegistration] = [:]
        var isEmpty: Bool { listeners.isEmpty && registrations.isEmpty }
    }

    init(reader: any DatabaseReader, ids: StreamIDs) {
        self.reader = reader
        self.ids = ids
    }

    var listenerCount: Int { users.withLock { $0.values.reduce(0) { $0 + $1.listeners.count } } }
    var registrationCount: Int { users.withLock { $0.values.reduce(0) { $0 + $1.registrations.count } } }

    func withUsers<T: Sendable>(_ body: (inout sending [Int64: UserStreams]) -> sending T) -> sending T { users.withLock(body) }

    /// Called by the writer after each commit, in id order.
    func publish(_ accepted: [AcceptedOp]) {
        var perLoop: [ObjectIdentifier: (loop: any EventLoop, items: [(StreamListener, [StreamFrame])])] = [:]
        var waiters: [AsyncStream<Void>.Continuation] = []
        users.withLock { users in
            guard !users.isEmpty else { return }
            var byUser: [Int64: [AcceptedOp]] = [:]
            for op in accepted where users[op.user] != nil { byUser[op.user, default: []].append(op) }
            for (user, ops) in byUser {
                let streams = users[user]!
                if !streams.listeners.isEmpty {
                    let frames = ops.map(StreamFrame.init)
                    for listener in streams.listeners.values {
                        perLoop[ObjectIdentifier(listener.loop), default: (listener.loop, [])].items.append((listener, frames))
                    }
                }
                if !streams.registrations.isEmpty {
                    PollRegistration.append(ops, to: &users[user]!.registrations, waking: &waiters)
                }
            }
        }
        for (loop, items) in perLoop.values {
            loop.execute { for (listener, frames) in items { listener.deliver(frames) } }
        }
        for waiter in waiters { waiter.yield() }
    }

    // MARK: SSE

    /// A new listener of `user` on `loop`. Before the live ops it is sent
    /// every held op after `lastEventID`, or `event: resync` first when the
    /// id is not one of this store's history (see `StreamIDs.plan`).
    func subscribe(user: Int64, lastEventID: Int64?, loop: any EventLoop, sink: any StreamSink) -> StreamListener {
        let plan = lastEventID.map(ids.plan(after:))
        var after: Int64?
        var resync = false
        switch plan {
        case .none: break
        case .after(let id)?: after = id
        case .resync(let id)?:
            after = id
            resync = true
        }
        let listener = StreamListener(id: nextListenerID.add(1, ordering: .relaxed).oldValue, user: user, loop: loop, sink: sink,
                                      resumeAfter: after)
        users.withLock { $0[user, default: UserStreams()].listeners[listener.id] = listener }
        sink.send(resync ? [StreamFrame.opening, StreamFrame.resync] : [StreamFrame.opening])
        if let after { sendHistory(to: listener, after: after) }
        return listener
    }

    /// Pages of history on a background thread, each handed to the listener's loop in order.
    private func sendHistory(to listener: StreamListener, after: Int64) {
        let reader = self.reader
        DispatchQueue.global().async {
            var cursor = after
            do {
                while true {
                    let page = try StreamHistory.page(reader, user: listener.user, after: cursor)
                    if !page.isEmpty { listener.loop.execute { listener.history(page) } }
                    guard page.count == StreamHistory.pageSize, let last = page.last else { break }
                    cursor = last.id
                }
                listener.loop.execute { listener.goLive() }
            } catch {
                // The client resumes later from what it got.
                listener.loop.execute { listener.end() }
            }
        }
    }

    func remove(_ listener: StreamListener) {
        users.withLock { users in
            users[listener.user]?.listeners[listener.id] = nil
            if users[listener.user]?.isEmpty == true { users[listener.user] = nil }
        }
    }

    /// A keep-alive comment to every listener.
    func heartbeat() { eachListener { $0.keepAlive() } }

    /// Ends every stream (graceful shutdown: an open stream must not hold the exit).
    func finishAll() { eachListener { $0.end() } }

    private func eachListener(_ body: @escaping @Sendable (StreamListener) -> Void) {
        let listeners = users.withLock { $0.values.flatMap { $0.listeners.values } }
        var perLoop: [ObjectIdentifier: (loop: any EventLoop, listeners: [StreamListener])] = [:]
        for listener in listeners { perLoop[ObjectIdentifier(listener.loop), default: (listener.loop, [])].listeners.append(listener) }
        for (loop, listeners) in perLoop.values { loop.execute { listeners.forEach(body) } }
    }
}
