import Foundation
import Testing
import TeaBagCore
import TeaBagTestSupport

/// Pushes that share the agent's group commit (issue 15).
@Suite struct AgentConcurrentPushTests {
    /// 16 pushes to one `log` path at once: each answer is the log after its
    /// own op, so the answers, ordered, must each extend the one before by
    /// exactly one token — every op applied once, in the order the agent
    /// answered — and the stores end up with the same 16 ops, numbered
    /// (`seq`, docs/sync.md#oplog-rules) in that same order: the order of the answers is the
    /// order of the oplog, not only of the local fold.
    @Test func sixteenConcurrentPushesToOnePathAreEachAppliedOnceInTheOrderAnswered() async throws {
        try await withEnrolledUser(stores: 2) { user in
            let agent = try await AgentProcess.start(user)
            defer { agent.process.kill9() }
            let base = "http+unix://" + (agent.socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? agent.socket)
            let tokens = (0..<16).map { "t\($0)" }
            let answers = try await withThrowingTaskGroup(of: (String, HTTPAnswer).self) { group in
                for token in tokens {
                    group.addTask { (token, try await HTTP.request(.POST, base + "/v1/push/main/log/shared", json: .string(token))) }
                }
                return try await group.reduce(into: [(String, HTTPAnswer)]()) { $0.append($1) }
            }
            var logs: [(token: String, log: [String])] = []
            for (token, answer) in answers {
                #expect(answer.status == 200, "push \(token): \(answer.status) \(answer.text)")
                let log = answer.json?["value"]?.arrayValue?.compactMap(\.stringValue) ?? []
                logs.append((token, log))
            }
            logs.sort { $0.log.count < $1.log.count }
            for (index, entry) in logs.enumerated() {
                #expect(entry.log.count == index + 1, "answer \(index) is the log after \(index + 1) ops: \(entry.log)")
                #expect(entry.log.last == entry.token, "the answer to \(entry.token) ends with its own op: \(entry.log)")
                if index > 0 { #expect(Array(entry.log.dropLast()) == logs[index - 1].log, "each answer extends the one before") }
            }
            let final = logs.last?.log ?? []
            #expect(Set(final) == Set(tokens) && final.count == 16, "every push applied exactly once: \(final)")

            let read = try await HTTP.request(.GET, base + "/v1/value/main/log/shared")
            #expect(read.json?["value"]?.arrayValue?.compactMap(\.stringValue) == final)
            #expect(try await eventually(15) {
                let zero = try await payloadShas(user, 0, "log", "/shared")
                let one = try await payloadShas(user, 1, "log", "/shared")
                return Set(zero).count == 16 && Set(one) == Set(zero)
            }, "both stores hold the 16 ops")
            for index in 0..<2 {
                #expect(try await user.client(index).value("log", "/shared").json?["value"]?.arrayValue?.compactMap(\.stringValue) == final)
                // The store's ops sorted by the agent's seq give the tokens in the order answered.
                let ops = try await user.client(index).ops("log", "/shared").dropFirst()
                let bySeq = ops.compactMap { op -> (seq: Double, token: String)? in
                    guard let seq = op["seq"]?.doubleValue, let token = op["payload"]?.stringValue else { return nil }
                    return (seq, token)
                }.sorted { $0.seq < $1.seq }
                #expect(bySeq.count == 16 && Set(bySeq.map(\.seq)).count == 16, "store \(index): 16 ops, each its own seq: \(bySeq)")
                #expect(bySeq.map(\.token) == final, "store \(index): seq order \(bySeq.map(\.token)) is the answer order \(final)")
            }
        }
    }

    /// `GET /v1/value` and `POST /v1/push` are answered on the event loop
    /// when they can (`AgentFastRoutes`); a request with a `Connection`
    /// header always takes the router. Both ways must answer alike: values,
    /// refusals, and a read right after an acknowledged push.
    @Test func theEventLoopRoutesAnswerAsTheRouterDoes() async throws {
        try await withEnrolledUser(stores: 1) { user in
            let agent = try await AgentProcess.start(user)
            defer { agent.process.kill9() }
            let base = "http+unix://" + (agent.socket.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? agent.socket)
            let viaRouter = [("Connection", "keep-alive")]
            let fast = try await HTTP.request(.POST, base + "/v1/push/main/counter/parity", json: .number(2))
            let routed = try await HTTP.request(.POST, base + "/v1/push/main/counter/parity", headers: viaRouter, json: .number(3))
            #expect(fast.status == 200 && fast.json?["value"]?.doubleValue == 2, "\(fast.status) \(fast.text)")
            #expect(routed.status == 200 && routed.json?["value"]?.doubleValue == 5, "\(routed.status) \(routed.text)")
            #expect(fast.headers["Content-Type"] == routed.headers["Content-Type"])
            #expect(fast.json?.objectValue.map { Set($0.keys) } == ["sha", "value"] && routed.json?.objectValue.map { Set($0.keys) } == ["sha", "value"])

            // Read right after the push was answered: its value, either way, the same bytes.
            let read = try await HTTP.request(.GET, base + "/v1/value/main/counter/parity")
            let readRouted = try await HTTP.request(.GET, base + "/v1/value/main/counter/parity", headers: viaRouter)
            #expect(read.status == 200 && read.json?["value"]?.doubleValue == 5, "\(read.status) \(read.text)")
            #expect(read.body == readRouted.body && read.headers["Content-Type"] == readRouted.headers["Content-Type"])
            // A target with escapes is the router's; it names the same path.
            #expect(try await HTTP.request(.GET, base + "/v1/value/main/counter/%70arity").body == read.body)

            // A payload the reducer refuses: the same error, and nothing written.
            let refused = try await HTTP.request(.POST, base + "/v1/push/main/counter/parity", json: .string("x"))
            let refusedRouted = try await HTTP.request(.POST, base + "/v1/push/main/counter/parity", headers: viaRouter, json: .string("x"))
            #expect(refused.status == 400 && refused.errorName == "StoreError:InvalidOp", "\(refused.status) \(refused.text)")
            #expect(refused.status == refusedRouted.status && refused.body == refusedRouted.body)
            #expect(try await HTTP.request(.GET, base + "/v1/value/main/counter/parity").json?["value"]?.doubleValue == 5)
        }
    }
}
