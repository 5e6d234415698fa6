import Testing
import TeaBag
import TeaBagCore

/// When the engine compares a path with a store (docs/sync.md#sync): an op
/// one store streamed goes to another store that lacks it only after
/// `relayDelayMs`, and not at all when that store's own stream brings it
/// first; own ops sync held back while some waited in a store's outbox go
/// once none waits. The engine alone, with the time passed in.
@Suite struct SyncComparisonTests {
    let key = try! PathKey(type: "counter", path: "/relay")
    let theirs = OpFactory.payloadOp(payload: 1, node: "other-device", seq: 1, date: 5_000)
    static let counter = ClosureReducer(type: "counter", initial: 0) { state, op in
        .number((state.doubleValue ?? 0) + (op.payload?.doubleValue ?? 0))
    }

    /// An engine holding `key` with both stores' mirrors fetched (empty).
    func engine(_ policy: SyncPolicy = SyncPolicy()) throws -> ChannelSync {
        let engine = try ChannelSync(channel: "main", stores: ["s1", "s2"], node: NodeIdentity(NodeRecord(id: "me", nextSeq: 1)),
                                     storage: InMemoryClientStorage(), policy: policy, reducers: { _ in Self.counter })
        _ = try engine.hold(key)
        let fetches = engine.requests(now: 0)
        #expect(fetches == [.fetch(store: "s1", key: key, generation: 0), .fetch(store: "s2", key: key, generation: 0)])
        for store in ["s1", "s2"] { engine.fetched(store: store, key: key, generation: 0, .success([Oplog().base]), now: 0) }
        #expect(engine.requests(now: 0).isEmpty)
        return engine
    }

    @Test func anOpOnlyOneStoreStreamedIsRelayedToTheOtherOnceTheDelayIsOver() throws {
        let engine = try engine()
        engine.streamed(store: "s1", key: key, op: theirs, now: 1_000)
        #expect(engine.requests(now: 1_000).isEmpty)
        #expect(engine.nextRetry(now: 1_000) == 1_250)
        #expect(engine.requests(now: 1_249).isEmpty)
        #expect(engine.requests(now: 1_250) == [.push(store: "s2", items: [PathOp(key: key, op: theirs)])])
    }

    @Test func anOpTheOtherStoreStreamsWithinTheDelayIsNotRelayed() throws {
        let engine = try engine()
        engine.streamed(store: "s1", key: key, op: theirs, now: 1_000)
        engine.streamed(store: "s2", key: key, op: theirs, now: 1_003)
        #expect(engine.requests(now: 1_250).isEmpty)
        #expect(engine.nextRetry(now: 1_250) == nil)
        #expect(engine.isQuiet)
        #expect(engine.value(key)?.value == 1)
    }

    @Test func withNoDelayTheRelayIsImmediate() throws {
        var policy = SyncPolicy()
        policy.relayDelayMs = 0
        let engine = try engine(policy)
        engine.streamed(store: "s1", key: key, op: theirs, now: 1_000)
        #expect(engine.requests(now: 1_000) == [.push(store: "s2", items: [PathOp(key: key, op: theirs)])])
    }

    @Test func ownOpsAStoreLostAreSentOnceNoneOfThePathWaitsInItsOutbox() throws {
        let engine = try engine()
        let accepted: Result<[StoreAnswer], TeaBagError> = .success([.accepted(noop: false)])
        let first = try engine.prepareWrite(key, payload: 1, now: 10)
        _ = engine.finishWrite(first.entry.seq, durable: true)
        #expect(engine.requests(now: 10) == [.deliver(store: "s1", entries: [first.entry]), .deliver(store: "s2", entries: [first.entry])])
        for store in ["s1", "s2"] { engine.delivered(store: store, entries: [first.entry], accepted, now: 11) }
        // s1 comes back from a backup without the first op; a second write waits in its outbox.
        engine.streamResync(store: "s1")
        let second = try engine.prepareWrite(key, payload: 1, now: 20)
        _ = engine.finishWrite(second.entry.seq, durable: true)
        #expect(engine.requests(now: 20) == [.deliver(store: "s1", entries: [second.entry]), .fetch(store: "s1", key: key, generation: 1),
                                             .deliver(store: "s2", entries: [second.entry])])
        engine.fetched(store: "s1", key: key, generation: 1, .success([Oplog().base]), now: 21)
        // Not before the outbox: a store never gets a node's later op before its earlier one from us.
        #expect(engine.requests(now: 21).isEmpty)
        engine.delivered(store: "s1", entries: [second.entry], accepted, now: 22)
        #expect(engine.requests(now: 22) == [.push(store: "s1", items: [PathOp(key: key, op: first.entry.op)])])
    }
}
