import Foundation
import Synchronization
import Testing
import TeaBagCore
import TeaBagTestSupport
import TeaBagServerKit
@testable import TeaBagStore

@Suite("Store: the writer")
struct WriterTests {
    @Test("a batch answers each op as if sent alone after the ones before it: a refused op whose sha an earlier item holds is a noop")
    func batchSeesEarlierItems() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let answer = try await c.batch([
            ["type": "counter", "path": "/bs", "op": payloadOp(10, "x", 1)],
            // The same sha with a payload counter refuses: held by the item before, so noop.
            ["type": "counter", "path": "/bs", "op": payloadOp(10, "x", "text")],
            // Refused for its own reasons, and its sha held nowhere: the error.
            ["type": "counter", "path": "/bs", "op": payloadOp(11, "y", "text")],
        ])
        #expect(answer.status == 200)
        let results = try #require(answer.json?["results"]?.arrayValue)
        #expect(results.count == 3)
        #expect(results[0] == ["ok": true])
        #expect(results[1] == ["ok": true, "noop": true])
        #expect(results[2]["error"]?["name"] == "StoreError:InvalidOp")
        #expect(try await c.ops("counter", "/bs") == [emptyBase, payloadOp(10, "x", 1)])
        // A refused op on a path never written creates nothing.
        let refused = try await c.push("counter", "/nothing", payloadOp(12, "z", "text"))
        #expect(refused.status == 400)
        let paths = try await u.store.server.service.pool.read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM paths WHERE path = '/nothing'")
        }
        #expect(paths == 0)
    }

    @Test("shas compare as bytes: two spellings of one character are two ops")
    func shasAreBytes() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let composed = payloadOp(10, "\u{e4}v", 1)
        let decomposed = payloadOp(11, "a\u{308}v", 2)
        #expect(try await c.push("counter", "/nfc", composed).isAccepted)
        #expect(try await c.push("counter", "/nfc", decomposed).isAccepted)
        #expect(try await c.push("counter", "/nfc", decomposed).isNoop)
        let held = try await c.ops("counter", "/nfc")
        #expect(held.count == 3)
        #expect(try await c.value("counter", "/nfc").json?["value"] == 3)
    }

    @Test("a merge handed to a writer that has stopped fails at once (503), never waits")
    func mergeAfterStop() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let writer = u.store.server.service.writer
        await u.store.stop()
        let started = ContinuousClock.now
        await #expect(throws: APIError.self) {
            _ = try await writer.merge(user: 1, [WriteEntry(type: "note", path: "/late", item: .merge(Op(date: 1, sha: "late", body: .payload(1))))])
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    @Test("kill -9 mid-group loses nothing committed: the log and the paths agree after a restart")
    func restartAfterCommits() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        // Many concurrent pushes share groups; then a restart reads the state back.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<8 {
                group.addTask {
                    for i in 0..<20 { _ = try await c.push("counter", "/g\(w % 3)", payloadOp(Int64(100 + i), "w\(w)-\(i)", 1)) }
                }
            }
            try await group.waitForAll()
        }
        await u.store.stop()
        let again = try await startStore(data: u.store.data)
        defer { Task { await again.stop() } }
        let r = StoreClient(userURL: again.userURL(1), token: u.token)
        var total = 0
        for p in 0..<3 {
            let ops = try await r.ops("counter", "/g\(p)")
            total += ops.count - 1
            #expect(try await r.value("counter", "/g\(p)").json?["value"] == .number(Double(ops.count - 1)))
        }
        #expect(total == 160)
        // Pushing again after the restart: held already.
        #expect(try await r.push("counter", "/g0", payloadOp(100, "w0-0", 1)).isNoop)
    }

    @Test("under writes that never pause, the WAL is reset by the writer: it stays far below what was written")
    func walStaysBounded() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let c = u.client()
        let wal = u.store.data + "/store.sqlite-wal"
        // 4 writers × 16 batches × 12 ops of 64 KiB: 48 MiB into the WAL, back to back.
        let filler = String(repeating: "w", count: 64 * 1024)
        let largest = Mutex(0)
        let sampler = Task {
            while !Task.isCancelled {
                let size = (try? FileManager.default.attributesOfItem(atPath: wal)[.size] as? Int) ?? 0
                largest.withLock { $0 = max($0, size) }
                try? await Task.sleep(for: .milliseconds(20))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for w in 0..<4 {
                group.addTask {
                    for b in 0..<16 {
                        var items: [JSON] = []
                        for i in 0..<12 {
                            let op = payloadOp(Int64(1_000 + b * 12 + i), "w\(w)-\(b)-\(i)", JSON.string(filler))
                            items.append(.object(["type": "blob", "path": .string("/w\(w)"), "op": op]))
                        }
                        let answer = try await c.batch(items)
                        #expect(answer.status == 200)
                    }
                }
            }
            try await group.waitForAll()
        }
        sampler.cancel()
        let peak = largest.withLock { $0 }
        print("WAL peak: \(peak >> 20) MiB for 48 MiB written")
        // Reset past 8 MiB, checked every 100 ms: what grows in between, on a busy machine, stays well under 24 MiB.
        #expect(peak < 24 << 20, "the WAL reached \(peak >> 20) MiB for 48 MiB written")
        for w in 0..<4 { #expect(try await c.ops("blob", "/w\(w)").count == 1 + 16 * 12) }
    }
}
