import Testing
import TeaBag
import TeaBagCore

/// docs/sync.md#sync "Relays wait a quarter second": an op one store
/// streamed goes to another store that lacks it only after
/// `relayDelayMs`, and not at all when that store's own stream brings it
/// first. The engine alone, with the time passed in.
@Suite struct RelayDelayTests {
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
}
