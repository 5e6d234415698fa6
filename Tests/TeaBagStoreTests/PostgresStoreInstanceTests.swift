import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport
@testable import TeaBagStore

/// One store (one key, one store id, one database) run as two processes
/// over one PostgreSQL: what one accepts, the other serves and streams.
@Suite("Store on PostgreSQL: two instances of one store")
struct PostgresStoreInstanceTests {
    /// A second instance of the user's store over its database.
    static func secondInstance(_ u: EnrolledUser) async throws -> RunningStore {
        let b = try await startStore(data: try temporaryDirectory("store-b"), configure: { [database = u.store.database] configuration in
            configuration.database = database
            configuration.databaseTimeoutMs = 30_000
        })
        // Before its LISTEN, an instance's live streams miss other instances' commits.
        for store in [u.store, b] {
            #expect(try await eventually(20) { store.server.streamsReady() }, "LISTEN not established")
        }
        return b
    }

    @Test("a stream opened on B delivers ops pushed to A, in commit order; Last-Event-ID resumes on either")
    func streamsAcrossInstances() async throws {
        try await withEnrolledUser(backend: .postgres) { (u) async throws in
            try await withStarted({ try await Self.secondInstance(u) }) { (b) async throws in
                let onA = u.client()
                let onB = StoreClient(userURL: b.userURL(1), token: u.token)

                let live = try await onB.events()
                defer { live.close() }
                let ops = (1...3).map { payloadOp(Int64($0), "x\($0)", .number(Double($0))) }
                for op in ops { #expect(try await onA.push("counter", "/x", op).isAccepted) }
                let seen = try await live.next(3)
                #expect(try seen.map { try JSON.parse(try #require($0.data)) } == ops.map { streamed("counter", "/x", $0) })
                // B's own pushes follow in the same stream, and A's stream sees both.
                let fromB = payloadOp(4, "x4", 4)
                #expect(try await onB.push("counter", "/x", fromB).isAccepted)
                let fromBEvent = try #require(try await live.next())
                #expect(try fromBEvent.data.map { try JSON.parse($0) } == streamed("counter", "/x", fromB))
                #expect(try await onA.ops("counter", "/x") == [emptyBase] + ops + [fromB])
                #expect(try await onB.value("counter", "/x").json?["value"] == 10)

                // Resume after the first id on the other instance: exactly the rest.
                let ids = seen.compactMap(\.id)
                let resumed = try await onA.events(lastEventID: ids[0])
                defer { resumed.close() }
                let rest = try await resumed.next(3)
                #expect(rest.map(\.id) == [ids[1], ids[2], fromBEvent.id])
                // An id beyond every id held is from another history: resync on either.
                let beyond = String(Int64(try #require(rest.last?.id))! + 1_000)
                for client in [onA, onB] {
                    let stream = try await client.events(lastEventID: beyond)
                    defer { stream.close() }
                    #expect(try await stream.next()?.event == "resync")
                }
            }
        }
    }

    @Test("a user enrolled through A is known to B (no stale cache of it)")
    func enrollmentSeenEverywhere() async throws {
        try await withEnrolledUser(backend: .postgres) { (u) async throws in
            try await withStarted({ try await Self.secondInstance(u) }) { (b) async throws in
                #expect(try await StoreClient(userURL: b.userURL(1), token: u.token).push("note", "/n", payloadOp(1, "n1", 1)).isAccepted)
                #expect(try await u.client().ops("note", "/n") == [emptyBase, payloadOp(1, "n1", 1)])
            }
        }
    }

    /// The oplog rules (docs/sync.md#oplog-rules) under concurrent writers on two instances: random
    /// interleavings of one op set give the oplog and the value that one
    /// instance fed the same ops one by one gives.
    @Test("random interleavings of the same ops on two instances give the oplog and value of one instance fed sequentially")
    func concurrentMergesKeepTheRules() async throws {
        try await withEnrolledUser(backend: .postgres) { (u) async throws in
            try await withStarted({ try await Self.secondInstance(u) }) { (b) async throws in
                try await withEnrolledUser(backend: .sqlite) { (reference) async throws in
                    let clients = [u.client(), StoreClient(userURL: b.userURL(1), token: u.token)]

                    for round in 0..<4 {
                        var random = SplitMix64(seed: UInt64(round) &* 0x9E37_79B9 &+ 17)
                        let path = "/p\(round)"
                        let ops = Self.ops(&random)
                        // Sequentially, on one store.
                        for op in ops { _ = try await reference.client().push("counter", path, op) }
                        let expectedLog = try await reference.client().ops("counter", path)
                        let expectedValue = try await reference.client().value("counter", path).json
                        // Concurrently, each op to a random instance, several at once, each op maybe twice.
                        try await withThrowingTaskGroup(of: Void.self) { group in
                            for (index, op) in ops.enumerated() {
                                let client = clients[Int(random.next() % 2)]
                                let twice = random.next() % 4 == 0
                                group.addTask {
                                    let first = try await client.push("counter", path, op)
                                    #expect(first.status == 200, "\(first.status) \(first.text)")
                                    if twice {
                                        let again = try await clients[(index + 1) % 2].push("counter", path, op)
                                        #expect(again.status == 200, "\(again.status) \(again.text)")
                                    }
                                }
                            }
                            try await group.waitForAll()
                        }
                        for client in clients {
                            let log = try await client.ops("counter", path)
                            #expect(log == expectedLog, "round \(round): \(Self.shas(log)) instead of \(Self.shas(expectedLog)) for the ops \(Self.shas(ops))")
                            #expect(try await client.value("counter", path).json == expectedValue, "round \(round)")
                        }
                    }
                }
            }
        }
    }

    /// Payload ops of three nodes with rising seqs and bases (value ops with covers).
    /// `sha@date` of each op, for a failure's message.
    static func shas(_ ops: [JSON]) -> String {
        ops.map { "\($0["sha"]?.stringValue ?? "?")@\($0["date"]?.int64Value ?? -1)\($0["value"] != nil ? "(base\($0["covers"].map { " \($0.canonicalString)" } ?? ""))" : "")" }.joined(separator: " ")
    }

    static func ops(_ random: inout SplitMix64) -> [JSON] {
        var ops: [JSON] = []
        var seqs: [String: Int64] = ["a": 0, "b": 0, "c": 0]
        for index in 0..<24 {
            let node = ["a", "b", "c"][Int(random.next() % 3)]
            // Dates rise with the generation order, as a base's `covers` does.
            let date = Int64(1_000 + index * 10) + Int64(random.next() % 10)
            if random.next() % 6 == 0 {
                // A base covers every op written before it: its vector grows with
                // its date. Two bases with incomparable vectors (each covering an op
                // the other does not) are a different case: neither replaces the
                // other, so the first to arrive stays — on one store as on two
                // (docs/sync.md#oplog-rules, rule 4); arrival order decides, by design.
                let covers = seqs
                ops.append(valueOp(date, "v\(index)", .number(Double(random.next() % 50)), covers: covers))
            } else {
                seqs[node]! += 1
                ops.append(payloadOp(date, "s\(index)", .number(Double(random.next() % 10)), node: node, seq: seqs[node]!))
            }
        }
        return ops
    }
}
