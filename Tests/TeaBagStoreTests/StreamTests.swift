import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport
@testable import TeaBagStore

/// `{type, path, op}` as a stream carries it.
func streamed(_ type: String, _ path: String, _ op: JSON) -> JSON { ["type": .string(type), "path": .string(path), "op": op] }

/// A long-poll delay no answer "at once" can come near, however loaded the
/// machine: tests tell "woken at once" from "waited out the delay" by
/// comparing with half of it, so they assert behaviour, not speed.
let longDelayMs = 60_000

/// Waits until `count` polls are parked on the store, so that a push made
/// next is one they must be woken by (a fixed sleep loses that race on a
/// loaded machine: the push may come first).
func parkedPolls(_ store: RunningStore, _ count: Int = 1) async throws {
    let parked = try await eventually(20) { store.server.hub.parkedPolls >= count }
    #expect(parked, "no poll parked on the store")
}
let atOnce = 30.0

func seconds(since start: ContinuousClock.Instant) -> Double {
    let elapsed = ContinuousClock.now - start
    return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
}

@Suite("Store: the long poll (oplog/stream)")
struct LongPollTests {
    @Test("the first poll registers and gets a reg_id; an op pushed while a poll waits is delivered at once", arguments: TableBackend.allCases)
    func deliveredAtOnce(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend, configureStore: { $0.longPollDelayMs = longDelayMs }) { u in
            let c = u.client()
            let start = ContinuousClock.now
            let first = Task { try await c.poll() }
            try await parkedPolls(u.store)
            let op1 = payloadOp(1, "lp1", 1)
            #expect(try await c.push("note", "/lp", op1).isAccepted)
            let answer = try await first.value
            // Woken by the push, not by the delay.
            #expect(seconds(since: start) < atOnce)
            #expect(answer.status == 200)
            let regID = try #require(answer.json?["reg_id"]?.stringValue)
            #expect(!regID.isEmpty && regID.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" })
            #expect(answer.json == ["reg_id": .string(regID), "stream": [streamed("note", "/lp", op1)]])

            // Again, on the registration.
            let waiting = Task { try await c.poll(regID: regID) }
            try await parkedPolls(u.store)
            let op2 = payloadOp(2, "lp2", 2)
            let pushedAt = ContinuousClock.now
            #expect(try await c.push("counter", "a//b/", op2).isAccepted)
            let second = try await waiting.value
            #expect(seconds(since: pushedAt) < atOnce)
            #expect(second.json == ["reg_id": .string(regID), "stream": [streamed("counter", "/a/b", op2)]])
        }
    }

    @Test("ops accepted between polls come with the next poll, at once, in acceptance order; noops and refusals are not streamed", arguments: TableBackend.allCases)
    func betweenPolls(_ backend: TableBackend) async throws {
        // The first poll waits this delay out, so it stays short; the backlog
        // poll below must answer in well under it.
        try await withEnrolledUser(backend: backend, configureStore: { $0.longPollDelayMs = 4_000 }) { u in
            let c = u.client()
            // Register (no op waits: answered after the delay).
            let empty = try await c.poll()
            let regID = try #require(empty.json?["reg_id"]?.stringValue)
            #expect(empty.json?["stream"] == [])

            let ops = [("counter", "/x", payloadOp(300, "b1", 1)), ("note", "/y", payloadOp(100, "b2", "two")),
                       ("counter", "/x", payloadOp(200, "b3", 3)), ("note", "/y", valueOp(400, "b4", "base"))]
            for (type, path, op) in ops { #expect(try await c.push(type, path, op).isAccepted) }
            #expect(try await c.push("counter", "/x", payloadOp(300, "b1", 1)).isNoop)
            #expect(try await c.push("counter", "/x", payloadOp(5, "bad", "string")).status == 400)
            let batch = try await c.batch([["type": "note", "path": "/z", "op": payloadOp(1, "b5", 5)],
                                           ["type": "note", "path": "/z", "op": payloadOp(1, "b5", 5)],
                                           ["type": "note", "path": "/z", "op": payloadOp(2, "b6", 6)]])
            #expect(batch.status == 200)

            let start = ContinuousClock.now
            let answer = try await c.poll(regID: regID)
            #expect(seconds(since: start) < 3.0)  // the 4 s delay did not run: the backlog answered at once
            let expected = ops.map { streamed($0.0, $0.1, $0.2) }
                + [streamed("note", "/z", payloadOp(1, "b5", 5)), streamed("note", "/z", payloadOp(2, "b6", 6))]
            #expect(answer.json == ["reg_id": .string(regID), "stream": .array(expected)])
            // Delivered once: the backlog is empty now.
            let after = try await c.poll(regID: regID)
            #expect(after.json == ["reg_id": .string(regID), "stream": []])
        }
    }

    @Test("an unknown reg_id gets a new registration and \"resync\": true at once", arguments: TableBackend.allCases)
    func unknownRegistration(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend, configureStore: { $0.longPollDelayMs = longDelayMs }) { u in
            let c = u.client()
            let start = ContinuousClock.now
            let answer = try await c.poll(regID: "no-such-registration")
            #expect(seconds(since: start) < atOnce)
            let regID = try #require(answer.json?["reg_id"]?.stringValue)
            #expect(regID != "no-such-registration")
            #expect(answer.json == ["reg_id": .string(regID), "stream": [], "resync": true])
            // The new registration is live: an op pushed now waits for it.
            let op = payloadOp(1, "r1", 1)
            #expect(try await c.push("note", "/r", op).isAccepted)
            let next = try await c.poll(regID: regID)
            #expect(next.json == ["reg_id": .string(regID), "stream": [streamed("note", "/r", op)]])
        }
    }

    @Test("an empty poll answers after store.long_poll_delay with an empty stream", arguments: TableBackend.allCases)
    func emptyPollWaits(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend, configureStore: { $0.longPollDelayMs = 300 }) { u in
            let c = u.client()
            var start = ContinuousClock.now
            let first = try await c.poll()
            #expect(seconds(since: start) >= 0.28)
            let regID = try #require(first.json?["reg_id"]?.stringValue)
            start = ContinuousClock.now
            let second = try await c.poll(regID: regID)
            let elapsed = seconds(since: start)
            #expect(elapsed >= 0.28 && elapsed < atOnce, "\(elapsed)")
            #expect(second.json == ["reg_id": .string(regID), "stream": []])
        }
    }

    @Test("each registration gets every op; registrations of other users get none", arguments: TableBackend.allCases)
    func fanOut(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend, configureStore: { $0.longPollDelayMs = 300 }) { u in
            try await Enrollment.createUser(tableURL: u.table.url, user: 2, master: "two")
            try await Enrollment.enroll(tableURL: u.table.url, storeURL: u.store.url, user: 2, master: "two")
            let session2 = try await Enrollment.session(tableURL: u.table.url, user: 2, master: "two")
            let token2 = try await Enrollment.storeToken(tableURL: u.table.url, session: session2, storeUserURL: u.store.userURL(2), user: 2)
            let c1 = u.client(), c2 = StoreClient(userURL: u.store.userURL(2), token: token2)
            let regs = try await [c1.poll(), c1.poll(), c2.poll()].map { try #require($0.json?["reg_id"]?.stringValue) }
            #expect(Set(regs).count == 3)
            let op = payloadOp(1, "f1", 1)
            #expect(try await c1.push("note", "/f", op).isAccepted)
            #expect(try await c1.poll(regID: regs[0]).json?["stream"] == [streamed("note", "/f", op)])
            #expect(try await c1.poll(regID: regs[1]).json?["stream"] == [streamed("note", "/f", op)])
            #expect(try await c2.poll(regID: regs[2]).json?["stream"] == [])
        }
    }
}

@Suite("Store: Server-Sent Events (oplog/stream, Accept: text/event-stream)")
struct SSETests {
    @Test("one event per accepted op, id: its sequence, data: {type, path, op}, in acceptance order", arguments: TableBackend.allCases)
    func events(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let c = u.client()
            let sse = try await c.events()
            defer { sse.close() }
            #expect(sse.status == 200)
            #expect(sse.headers.first(name: "Content-Type")?.hasPrefix("text/event-stream") == true)
            #expect(try await sse.waitUntilOpen())

            let ops = [("counter", "/e", payloadOp(30, "e1", 1)), ("note", "e//f/.", payloadOp(10, "e2", ["x": [1, nil]])),
                       ("counter", "/e", valueOp(40, "e3", 5))]
            for (type, path, op) in ops { #expect(try await c.push(type, path, op).isAccepted) }
            #expect(try await c.push("counter", "/e", payloadOp(30, "e1", 1)).isNoop)
            let events = try await sse.next(3, within: 20)
            let ids = events.compactMap { $0.id.flatMap { Int64($0) } }
            #expect(ids.count == 3)
            #expect(ids == [ids[0], ids[0] + 1, ids[0] + 2])
            #expect(events.allSatisfy { $0.event == nil })
            let data = try events.map { try JSON.parse(try #require($0.data)) }
            #expect(data == [streamed("counter", "/e", ops[0].2), streamed("note", "/e/f", ops[1].2), streamed("counter", "/e", ops[2].2)])
            // The noop is not streamed.
            #expect(try await sse.next(within: 0.3) == nil)

            // A batch streams its ops in order too.
            _ = try await c.batch([["type": "note", "path": "/b", "op": payloadOp(2, "b2", 2)],
                                   ["type": "note", "path": "/b", "op": payloadOp(1, "b1", 1)]])
            let more = try await sse.next(2, within: 20)
            #expect(more.map(\.id) == [String(ids[2] + 1), String(ids[2] + 2)])
            #expect(try more.map { try JSON.parse(try #require($0.data)) }
                    == [streamed("note", "/b", payloadOp(2, "b2", 2)), streamed("note", "/b", payloadOp(1, "b1", 1))])
        }
    }

    @Test("a keep-alive comment comes every store heartbeat", arguments: TableBackend.allCases)
    func heartbeat(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend, configureStore: { $0.heartbeatSeconds = 1 }) { u in
            let sse = try await u.client().events()
            defer { sse.close() }
            #expect(try await eventually(20) { sse.received.contains { $0.comment == "keep-alive" } }, "\(sse.received)")
            #expect(try await sse.next(within: 0.1) == nil)
        }
    }

    @Test("a reconnect with Last-Event-ID: N gets exactly the ops after N, then live ones", arguments: TableBackend.allCases)
    func resume(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let c = u.client()
            let first = try await c.events()
            #expect(try await first.waitUntilOpen())
            let ops = (1...4).map { payloadOp(Int64($0), "r\($0)", .number(Double($0))) }
            for op in ops { #expect(try await c.push("counter", "/r", op).isAccepted) }
            let seen = try await first.next(4)
            first.close()
            let ids = seen.compactMap(\.id)
            #expect(ids.count == 4)

            let resumed = try await c.events(lastEventID: ids[1])
            defer { resumed.close() }
            let replay = try await resumed.next(2)
            #expect(replay.map(\.id) == [ids[2], ids[3]])
            #expect(try replay.map { try JSON.parse(try #require($0.data)) } == [streamed("counter", "/r", ops[2]), streamed("counter", "/r", ops[3])])
            #expect(try await resumed.next(within: 0.3) == nil)
            let live = payloadOp(5, "r5", 5)
            #expect(try await c.push("counter", "/r", live).isAccepted)
            let next = try #require(try await resumed.next())
            #expect(next.id == String(Int64(ids[3])! + 1))
            #expect(try JSON.parse(try #require(next.data)) == streamed("counter", "/r", live))

            // From 0: everything the user's log holds.
            let all = try await c.events(lastEventID: "0")
            defer { all.close() }
            #expect(try await all.next(5).map(\.id) == ids + [next.id])
            #expect(try await all.next(within: 0.3) == nil)
        }
    }

    @Test("a resume from an id beyond every op held (a database restored from an older backup) gets a resync", arguments: TableBackend.allCases)
    func resumeFromTheFutureResyncs(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let c = u.client()
            let ops = (1...2).map { payloadOp(Int64($0), "f\($0)", .number(Double($0))) }
            for op in ops { #expect(try await c.push("note", "/f", op).isAccepted) }
            let all = try await c.events(lastEventID: "0")
            let newestID = try #require(try await all.next(2).last?.id)
            all.close()
            let beyond = String(Int64(newestID)! + 99)
            // Before and after a restart.
            let live = try await c.events(lastEventID: beyond)
            defer { live.close() }
            #expect(try await live.next()?.event == "resync")
            await u.store.stop()
            try await withStore(data: u.store.data, configure: { [database = u.store.database] in $0.database = database }) { restarted in
                let again = try await StoreClient(userURL: restarted.userURL(1), token: u.token).events(lastEventID: beyond)
                defer { again.close() }
                #expect(try await again.next()?.event == "resync")
                // The newest id held resumes quietly.
                let newest = try await StoreClient(userURL: restarted.userURL(1), token: u.token).events(lastEventID: newestID)
                defer { newest.close() }
                #expect(try await newest.next(within: 0.5) == nil)
            }
        }
    }

    @Test("after a store restart, Last-Event-ID resumes from the database", arguments: TableBackend.allCases)
    func resumeAfterRestart(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let ops = (1...3).map { payloadOp(Int64($0), "d\($0)", .number(Double($0))) }
            for op in ops { #expect(try await u.client().push("note", "/d", op).isAccepted) }
            let sse = try await u.client().events(lastEventID: "0")
            let ids = try await sse.next(3).compactMap(\.id)
            sse.close()
            await u.store.stop()

            try await withStore(data: u.store.data, configure: { [database = u.store.database] in $0.database = database }) { restarted in
                let c = StoreClient(userURL: restarted.userURL(1), token: u.token)
                let resumed = try await c.events(lastEventID: ids[0])
                defer { resumed.close() }
                let replay = try await resumed.next(2)
                #expect(replay.map(\.id) == [ids[1], ids[2]])
                #expect(try replay.map { try JSON.parse(try #require($0.data)) } == [streamed("note", "/d", ops[1]), streamed("note", "/d", ops[2])])
                // Ids go on above the earlier ones (a new run: see StreamIDs).
                let op = payloadOp(4, "d4", 4)
                #expect(try await c.push("note", "/d", op).isAccepted)
                let live = try #require(try await resumed.next())
                #expect(Int64(try #require(live.id))! > Int64(ids[2])!)
                #expect(try await c.ops("note", "/d") == [emptyBase] + ops + [op])
            }
        }
    }
}

@Suite("Store: batches (oplog/batch)")
struct BatchTests {
    @Test("results come one per op, in order: ok, ok+noop, or the error; effects land in order", arguments: TableBackend.allCases)
    func results(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let c = u.client()
            #expect(try await c.push("counter", "/held", payloadOp(1, "held", 1)).isAccepted)
            let items: [JSON] = [
                ["type": "counter", "path": "/b", "op": payloadOp(10, "a", 1)],
                ["type": "counter", "path": "/b", "op": payloadOp(20, "b", 2)],
                ["type": "counter", "path": "/held", "op": payloadOp(1, "held", 1)],                 // held already
                ["type": "counter", "path": "/b", "op": payloadOp(30, "c", "three")],               // refused by the plugin
                ["type": "bad type", "path": "/b", "op": payloadOp(30, "d", 1)],
                ["type": "counter", "path": "/..", "op": payloadOp(30, "e", 1)],
                ["type": "counter", "path": "/b", "op": ["date": 1]],
                ["type": "counter", "path": "/b", "op": valueOp(25, "base", 100)],                   // prunes a and b
                ["type": "counter", "path": "/b", "op": payloadOp(15, "late", 1)],                  // now covered: noop
                ["type": "counter", "path": "/b", "op": payloadOp(40, "f", 4)],
                ["type": "counter", "path": "b//", "op": payloadOp(40, "f", 4)],                    // same path, same sha
                "not an item",
                ["type": "counter", "path": "/b"],
            ]
            let answer = try await c.batch(items)
            #expect(answer.status == 200)
            let results = try #require(answer.json?["results"]?.arrayValue)
            #expect(results.count == items.count)
            let ok: JSON = ["ok": true], noop: JSON = ["ok": true, "noop": true]
            #expect(results[0] == ok)
            #expect(results[1] == ok)
            #expect(results[2] == noop)
            #expect(results[3]["error"]?["name"] == "StoreError:InvalidOp")
            #expect(results[3]["error"]?["message"] == #"counter: payload must be a number, got "string""#)
            #expect(results[4]["error"]?["name"] == "UserError:InvalidType")
            #expect(results[5]["error"]?["name"] == "UserError:InvalidPath")
            #expect(results[6]["error"]?["name"] == "UserError:InvalidOpBody")
            #expect(results[7] == ok)
            #expect(results[8] == noop)
            #expect(results[9] == ok)
            #expect(results[10] == noop)
            #expect(results[11]["error"]?["name"] == "UserError:InvalidOpBody")
            #expect(results[12]["error"]?["name"] == "UserError:InvalidOpBody")
            #expect(results.allSatisfy { $0.objectValue?.count == ($0["error"] == nil ? ($0["noop"] == nil ? 1 : 2) : 1) })

            #expect(try await c.ops("counter", "/b") == [valueOp(25, "base", 100), payloadOp(40, "f", 4)])
            #expect(try await c.value("counter", "/b").json == ["value": 104, "date": 40, "sha": "f"])
            #expect(try await c.ops("counter", "/held").count == 2)
        }
    }

    @Test("a batch body must be {ops: [...]}: else 400 UserError:InvalidPostBody; an empty batch has no results", arguments: TableBackend.allCases)
    func shape(_ backend: TableBackend) async throws {
        try await withEnrolledUser(backend: backend) { u in
            let url = u.store.userURL(1) + "oplog/batch?store_token=\(u.token)"
            for body: JSON in [[:], ["ops": 1], [1, 2], ["ops": ["a": 1]]] {
                let answer = try await HTTP.request(.POST, url, json: body)
                #expect(answer.status == 400, "\(body)")
                #expect(answer.errorName == "UserError:InvalidPostBody", "\(body)")
            }
            #expect(try await u.client().batch([]).json == ["results": []])
        }
    }
}
