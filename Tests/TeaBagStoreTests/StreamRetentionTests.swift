import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport
@testable import TeaBagStore

@Suite("Store: stream log retention")
struct StreamRetentionTests {
    @Test("a resume from before the retained log gets one `event: resync`, then what is still held")
    func resyncAfterTrim() async throws {
        let u = try await EnrolledUser.start()
        defer { Task { await u.stop() } }
        let ops = (1...5).map { payloadOp(Int64($0), "t\($0)", .number(Double($0))) }
        for op in ops { #expect(try await u.client().push("note", "/t", op).isAccepted) }
        await u.store.stop()

        // After a restart nothing is in memory: the resume reads the trimmed log.
        let restarted = try await startStore(data: u.store.data)
        defer { Task { await restarted.stop() } }
        try StreamLog.trim(restarted.server.service.pool, keep: 2)
        let c = StoreClient(userURL: restarted.userURL(1), token: u.token)
        let sse = try await c.events(lastEventID: "1")
        defer { sse.close() }
        let first = try #require(try await sse.next())
        #expect(first.event == "resync")
        let kept = try await sse.next(2)
        #expect(try kept.map { try JSON.parse(try #require($0.data)) } == [streamed("note", "/t", ops[3]), streamed("note", "/t", ops[4])])
        // A resume inside the retained log has no resync.
        let inside = try await c.events(lastEventID: "4")
        defer { inside.close() }
        let next = try #require(try await inside.next())
        #expect(next.event == nil)
        #expect(next.id == "5")
    }
}
