/// CR and LF in everything a client controls that ends up in an SSE line —
/// payloads, shas, extra op members, values — must not split an event or
/// forge one (`data:`, `id:`, `event: resync`). Where CR/LF could only be
/// in a path or channel name, those are refused outright.
import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

@Suite("Attacks: CR/LF into SSE streams")
struct SSEInjectionTests {
    /// Text that would forge events if it reached a line unescaped.
    static let injections = [
        "a\r\n\r\ndata: {\"forged\":true}\r\n\r\n",
        "b\n\nid: 999999\nevent: resync\ndata: {}\n\n",
        "c\rdata: forged\r\r",
        "d\u{2028}\u{2029}\u{85}data: x",  // not SSE line ends, but kept intact
        "e\r\n: comment\r\nretry: 1\r\n\r\n",
    ]

    @Test("the store's SSE: one intact event per op whatever CR/LF its members hold; CR/LF in a path is 400")
    func storeStream() async throws {
        try await withDeployment { d in
            let tally = AttackTally(.sse, test: "store sse")
            let c = d.user.client()
            let stream = try await c.events()
            defer { stream.close() }
            #expect(try await stream.waitUntilOpen())
            var pushed: [JSON] = []
            for (index, text) in Self.injections.enumerated() {
                let date = nowMs() + Int64(index)
                pushed.append(payloadOp(date, "p\(index)", .string(text)))
                pushed.append(payloadOp(date, text + "\(index)", .string("sha holds it")))
                pushed.append(payloadOp(date, "x\(index)", .array([.string(text)]), extra: [text: .string(text)]))
            }
            for op in pushed {
                let answer = try await c.push("note", "/sse", op)
                #expect(answer.status == 200 && answer.json == ["ok": true], "\(answer.text)")
            }
            let events = try await stream.next(pushed.count, within: 10)
            for (event, op) in zip(events, pushed) {
                let intact = event.event == nil && event.data.flatMap { try? JSON.parse($0) } == ["type": "note", "path": "/sse", "op": op]
                    && event.id.flatMap { Int64($0) } != nil
                #expect(intact, "event \(event) for \(op)")
                tally.record(refused: intact)
            }
            // Nothing more came: no forged event, no resync.
            #expect(try await stream.next(within: 0.5) == nil)
            #expect(!stream.received.contains { $0.event != nil || $0.id == "999999" })
            // In a path, CR and LF never get that far.
            try await d.expectUnchanged(tally, "CR/LF in paths") {
                for path in ["/a\r\ndata: x", "/a\nid: 9", "/a\r"] {
                    tally.expectError(try await c.push("note", path, payloadOp(nowMs(), "crlf-path", 1)), status: 400,
                                      name: "UserError:InvalidPath", "path \(path.debugDescription)")
                }
            }
            tally.save()
        }
    }

    @Test("the agent's watch: one intact event per value change whatever CR/LF the value holds; CR/LF in a path is 400")
    func agentWatch() async throws {
        try await withDeployment(agent: true) { d in
            let tally = AttackTally(.sse, test: "agent watch")
            let agent = d.agent!
            let watch = try await SSEConnection.open(agent.url + "v1/watch?channel=main&type=register", headers: [])
            defer { watch.close() }
            #expect(try await watch.waitUntilOpen())
            for text in Self.injections {
                let answer = try await HTTP.request(.POST, agent.url + "v1/push/main/register/sse", json: .string(text))
                #expect(answer.status == 200, "\(answer.text)")
                let event = try await watch.next(within: 10)
                let data = event?.data.flatMap { try? JSON.parse($0) }
                let intact = event?.event == nil && data?["value"] == .string(text) && data?["path"] == "/sse" && data?["channel"] == "main"
                #expect(intact, "\(String(describing: event)) for \(text.debugDescription)")
                tally.record(refused: intact)
            }
            #expect(try await watch.next(within: 0.5) == nil)
            // A watch filter with CR/LF only filters: nothing it holds is echoed into the stream.
            let filtered = try await SSEConnection.open(agent.url + "v1/watch?channel=main%0D%0Adata:%20forged", headers: [])
            defer { filtered.close() }
            #expect(try await filtered.waitUntilOpen())
            _ = try await HTTP.request(.POST, agent.url + "v1/push/main/register/sse", json: "after")
            #expect(try await filtered.next(within: 1) == nil)
            #expect(!filtered.received.contains { $0.data != nil })
            tally.record(refused: !filtered.received.contains { $0.data != nil })
            try await d.expectUnchanged(tally, "CR/LF in agent paths") {
                for path in ["a%0D%0Adata:%20x", "a%0Aid:%209", "a%0D"] {
                    let answer = try await HTTP.request(.POST, agent.url + "v1/push/main/register/\(path)", json: "x")
                    tally.expectError(answer, status: 400, name: "UserError:InvalidPath", "push path \(path)")
                }
            }
            tally.save()
        }
    }
}
