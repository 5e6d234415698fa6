import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport
@testable import TeaBagStore

@Suite("Store: stream history")
struct StreamHistoryTests {
    @Test("a resume from far back gets every held op after its id, across pages, in id order, then live ones")
    func pagesThroughHistory() async throws {
        try await withEnrolledUser { u in
            let c = u.client()
            let total = StreamHistory.pageSize * 2 + 123
            for start in stride(from: 0, to: total, by: 1_000) {
                let items: [JSON] = (start..<min(total, start + 1_000)).map { i in
                    ["type": "note", "path": .string("/h\(i % 7)"), "op": payloadOp(Int64(i + 1), "h\(i)", .number(Double(i)))]
                }
                let answer = try await c.batch(items)
                #expect(answer.status == 200)
            }
            let sse = try await c.events(lastEventID: "0")
            defer { sse.close() }
            let events = try await sse.next(total, within: 60)
            #expect(events.count == total)
            let ids = events.compactMap { $0.id.flatMap { Int64($0) } }
            #expect(ids.count == total && zip(ids, ids.dropFirst()).allSatisfy { $0 < $1 })
            let shas = try events.map { try JSON.parse(try #require($0.data))["op"]?["sha"]?.stringValue ?? "" }
            #expect(shas == (0..<total).map { "h\($0)" })
            #expect(events.allSatisfy { $0.event == nil })
            // Then live.
            #expect(try await c.push("note", "/h0", payloadOp(Int64(total + 1), "live", 1)).isAccepted)
            #expect(try JSON.parse(try #require(try await sse.next()?.data))["op"]?["sha"] == "live")
        }
    }

    @Test("ids a store never issued in any run (below its first run, between runs) get a resync; ids it issued resume quietly")
    func resyncOnGaps() async throws {
        try await withEnrolledUser { u in
            let c = u.client()
            #expect(try await c.push("note", "/g", payloadOp(1, "g1", 1)).isAccepted)
            let first = try await c.events(lastEventID: "0")
            let id1 = try #require(try await first.next()?.id)
            first.close()
            await u.store.stop()
            try await withStore(data: u.store.data) { restarted in
                let r = StoreClient(userURL: restarted.userURL(1), token: u.token)
                #expect(try await r.push("note", "/g", payloadOp(2, "g2", 2)).isAccepted)

                // Between the two runs: an id of no history here.
                let gap = try await r.events(lastEventID: String(Int64(id1)! + 1))
                defer { gap.close() }
                #expect(try await gap.next()?.event == "resync")
                #expect(try JSON.parse(try #require(try await gap.next()?.data))["op"]?["sha"] == "g2")
                // An id of the first run: what came after it, no resync.
                let quiet = try await r.events(lastEventID: id1)
                defer { quiet.close() }
                let next = try #require(try await quiet.next())
                #expect(next.event == nil)
                #expect(try JSON.parse(try #require(next.data))["op"]?["sha"] == "g2")
            }
        }
    }
}
